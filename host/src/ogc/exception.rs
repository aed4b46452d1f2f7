//! Exception documents (RFC 7807 problem details, as OGC uses them).

use crate::error::Error;
use crate::runtime::{LoadError, RunError};
use serde_json::{json, Map, Value};

/// Also reachable from here, next to the other fixed documents.
pub use super::conformance::conformance;

/// Prefix of the exception types wades defines for cases the Standard has
/// no type for.
pub const WADES: &str = "https://wades.dev/exceptions/";

/// `404` for an unknown process.
pub const NO_SUCH_PROCESS: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-process";
/// `404` for an unknown job.
pub const NO_SUCH_JOB: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job";
/// `404` for the results of a job that has not (successfully) finished.
pub const RESULT_NOT_READY: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready";
/// `400` for a request parameter or execute body the server refuses. Not in
/// the Standard's own table, but the type other Processes servers and
/// clients use for it.
pub const INVALID_PARAMETER: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/invalid-parameter";
/// Part 2: `409` when deploying a process id that exists.
pub const DUPLICATED_PROCESS: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/duplicated-process";
/// Part 2: `403` when replacing or undeploying a built-in process.
pub const IMMUTABLE_PROCESS: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/immutable-process";
/// Part 2: `415` for a deployment body of an unsupported media type.
pub const UNSUPPORTED_MEDIA_TYPE: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/unsupported-media-type";

/// Part 2: `400` when `?w=` names no process of a CWL document.
pub const WORKFLOW_NOT_FOUND: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/workflow-not-found";

/// How an error is told to clients: the HTTP status code, the exception
/// type and its title. The one place errors become OGC exceptions.
pub fn for_error(e: &Error) -> (u16, String, &'static str) {
    let ours = |slug: &str| format!("{WADES}{slug}");
    match e {
        Error::NoSuchProcess(_) => (404, NO_SUCH_PROCESS.into(), "No such process"),
        Error::NoSuchJob(_) => (404, NO_SUCH_JOB.into(), "No such job"),
        Error::ResultNotReady(_) => (404, RESULT_NOT_READY.into(), "Result not ready"),
        Error::NoSuchOutput { .. } => (404, ours("no-such-output"), "No such output"),
        Error::NoSuchQuotation(_) => (404, ours("no-such-quotation"), "No such quotation"),
        Error::QuotationExpired(_) => (410, ours("quotation-expired"), "Quotation expired"),
        Error::QuotationExecuted(_) => (409, ours("quotation-executed"), "Quotation executed"),
        Error::NoSuchBill(_) => (404, ours("no-such-bill"), "No such bill"),
        Error::DuplicateProcess(_) => (409, DUPLICATED_PROCESS.into(), "Duplicated process"),
        Error::ImmutableProcess(_) => (403, IMMUTABLE_PROCESS.into(), "Immutable process"),
        Error::UnsupportedMediaType(_) => {
            (415, UNSUPPORTED_MEDIA_TYPE.into(), "Unsupported media type")
        }
        Error::WorkflowNotFound(_) => (400, WORKFLOW_NOT_FOUND.into(), "Workflow not found"),
        Error::Unauthorized(_) => (401, ours("unauthorized"), "Unauthorized"),
        Error::Forbidden(_) => (403, ours("forbidden"), "Forbidden"),
        Error::InvalidParameter(_) => (400, INVALID_PARAMETER.into(), "Invalid parameter"),
        Error::BadRequest(_) => (400, INVALID_PARAMETER.into(), "Bad request"),
        Error::PayloadTooLarge(_) => (413, ours("payload-too-large"), "Payload too large"),
        Error::NotFound(_) => (404, ours("not-found"), "Not found"),
        Error::QuotaExceeded { .. } => (429, ours("quota-exceeded"), "Quota exceeded"),
        Error::RateLimited { .. } => (429, ours("rate-limited"), "Too many requests"),
        Error::StorageFull(_) => (
            507,
            ours("storage-quota-exceeded"),
            "Storage quota exceeded",
        ),
        Error::InsufficientStorage(_) => {
            (507, ours("insufficient-storage"), "Insufficient storage")
        }
        Error::HeadersTooLarge(_) => (431, ours("headers-too-large"), "Request headers too large"),
        Error::RequestTimeout(_) => (503, ours("request-timeout"), "Request timed out"),
        Error::MethodNotAllowed => (405, ours("method-not-allowed"), "Method not allowed"),
        Error::JobFailed(run) => job_failure(run),
        Error::Load(
            LoadError::Invalid(_)
            | LoadError::WrongWorld(_)
            | LoadError::BadDescription(_)
            | LoadError::OverBudget(_),
        ) => (400, ours("invalid-component"), "Invalid component"),
        Error::Load(LoadError::DiskFull(_)) => {
            (507, ours("insufficient-storage"), "Insufficient storage")
        }
        Error::Load(LoadError::Host(_)) | Error::Internal(_) => {
            (500, ours("internal-error"), "Internal server error")
        }
    }
}

/// How a failed job's error is told to clients: the status code (400 when
/// the input was at fault, 500 when the job was), the exception type and
/// its title.
pub fn job_failure(run: &RunError) -> (u16, String, &'static str) {
    let ours = |slug: &str| format!("{WADES}{slug}");
    match run {
        RunError::Guest { code, .. } if code == "invalid-input" => {
            (400, INVALID_PARAMETER.into(), "Invalid input")
        }
        RunError::Guest { .. } => (500, ours("process-failed"), "Process failed"),
        RunError::OutOfFuel { .. } => (500, ours("out-of-fuel"), "Out of fuel"),
        RunError::MemoryLimit { .. } => (500, ours("memory-limit"), "Memory limit exceeded"),
        RunError::Timeout { .. } => (500, ours("timeout"), "Time limit exceeded"),
        RunError::Cancelled => (500, ours("dismissed"), "Job dismissed"),
        RunError::Trap { .. } => (500, ours("process-crashed"), "Process crashed"),
        RunError::InvalidOutput(_) => (500, ours("invalid-output"), "Invalid output"),
        RunError::ResultsTooLarge(_) => (413, ours("payload-too-large"), "Results too large"),
        RunError::ResultStorageFull(_) => (
            507,
            ours("storage-quota-exceeded"),
            "Storage quota exceeded",
        ),
        RunError::InsufficientStorage(_) => {
            (507, ours("insufficient-storage"), "Insufficient storage")
        }
        RunError::Host(_) => (500, ours("internal-error"), "Internal server error"),
    }
}

/// The exception document of a failed job.
pub fn job_exception(run: &RunError) -> Value {
    let (status, kind, title) = job_failure(run);
    exception(&kind, title, status, &run.to_string())
}

/// An OGC exception document. An empty `detail` is left out rather than
/// sent as noise.
pub fn exception(type_uri: &str, title: &str, status: u16, detail: &str) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(type_uri));
    m.insert("title".into(), json!(title));
    m.insert("status".into(), json!(status));
    if !detail.is_empty() {
        m.insert("detail".into(), json!(detail));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::testing::{validate, validate_in, Mode, OGC_2_0};

    #[test]
    fn exceptions_validate() {
        let e = exception(NO_SUCH_JOB, "No such job", 404, "job 42 does not exist");
        assert_eq!(
            e,
            json!({"type": NO_SUCH_JOB, "title": "No such job", "status": 404, "detail": "job 42 does not exist"})
        );
        validate("exception.yaml", &e);
        validate_in(
            OGC_2_0,
            "schemas/common-core/exception.yaml",
            &e,
            Mode::Strict,
        );
        let bare = exception(RESULT_NOT_READY, "Result not ready", 404, "");
        assert!(bare.get("detail").is_none());
        validate("exception.yaml", &bare);
    }

    #[test]
    fn type_uris_are_http_ogc_uris() {
        for uri in [
            NO_SUCH_PROCESS,
            NO_SUCH_JOB,
            RESULT_NOT_READY,
            INVALID_PARAMETER,
            DUPLICATED_PROCESS,
            IMMUTABLE_PROCESS,
            UNSUPPORTED_MEDIA_TYPE,
        ] {
            assert!(
                uri.starts_with("http://www.opengis.net/def/exceptions/ogcapi-processes-"),
                "{uri}"
            );
        }
    }
}
