//! The one error type of the service. Every layer returns it; only
//! `http::error` turns it into an OGC exception response.

use crate::runtime::{LoadError, RunError};

/// Everything a request can run into.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No process has this id.
    #[error("no process with id '{0}'")]
    NoSuchProcess(String),
    /// No job has this id (or it was dismissed).
    #[error("no job with id '{0}'")]
    NoSuchJob(String),
    /// The job has not finished, so it has no results yet.
    #[error("job '{0}' has no results yet")]
    ResultNotReady(String),
    /// The job has no output with this id.
    #[error("job '{job}' has no output '{output}'")]
    NoSuchOutput {
        /// The job.
        job: String,
        /// The output asked for.
        output: String,
    },
    /// No quotation has this id, or not one the caller may see.
    #[error("no quotation with id '{0}'")]
    NoSuchQuotation(String),
    /// The quotation's time ran out before it was executed.
    #[error("{0}")]
    QuotationExpired(String),
    /// The quotation was executed already; each is executed once.
    #[error("quotation '{0}' was executed already; ask for a new one")]
    QuotationExecuted(String),
    /// No bill has this id, or not one the caller may see.
    #[error("no bill with id '{0}'")]
    NoSuchBill(String),
    /// A process with this id is already deployed.
    #[error("a process with id '{0}' already exists")]
    DuplicateProcess(String),
    /// The process is built into the server and cannot be replaced or undeployed.
    #[error("process '{0}' is built into this server and cannot be replaced or undeployed")]
    ImmutableProcess(String),
    /// The body's media type (or a package's execution unit) is not one
    /// this server takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A CWL document has no process of the id a deployment asked for
    /// (`?w=`).
    #[error("{0}")]
    WorkflowNotFound(String),
    /// The request carries no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The identity may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A parameter or input is wrong; the detail says which and why.
    #[error("{0}")]
    InvalidParameter(String),
    /// The request body is not what it should be (not JSON, wrong shape).
    #[error("{0}")]
    BadRequest(String),
    /// The request body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A quota that frees up with time (queued or running jobs, the day's
    /// fuel) is used up.
    #[error("{detail}")]
    QuotaExceeded {
        /// What is used up, and how much.
        detail: String,
        /// Seconds after which a retry may succeed.
        retry_after: u64,
    },
    /// The identity sent more requests than the rate limit allows.
    #[error("too many requests: at most {per_second} per second (bursts of {burst}) per identity")]
    RateLimited {
        /// The sustained rate.
        per_second: u32,
        /// The burst allowed.
        burst: u32,
        /// Seconds until the next request is allowed.
        retry_after: u64,
    },
    /// A storage quota is full.
    #[error("{0}")]
    StorageFull(String),
    /// The server's own disk is full: nothing was kept of the request, and
    /// it may succeed once space is freed.
    #[error("the server's storage is full: {0}")]
    InsufficientStorage(String),
    /// The request's headers are larger than allowed.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// The server did not answer within the request time limit.
    #[error("{0}")]
    RequestTimeout(String),
    /// No such route.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The job failed; the failure belongs to the job, served as its exception.
    #[error("{0}")]
    JobFailed(RunError),
    /// A component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Something on our side broke: storage, disk.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Seconds after which retrying may succeed, for errors that pass.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::QuotaExceeded { retry_after, .. } | Error::RateLimited { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_disk_full() {
            return Error::InsufficientStorage(e.to_string());
        }
        Error::Internal(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if is_disk_full(&e) {
            return Error::InsufficientStorage(e.to_string());
        }
        Error::Internal(e.to_string())
    }
}

/// Whether `e` says the disk (or the user's share of it) is full: a state
/// that passes, unlike the other I/O failures.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Result with the service's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
