//! Everything that can go wrong when loading or running a component.

use std::time::Duration;

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid component.
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// The component does not target the `wades:process` world.
    #[error("component does not target the wades:process world: {0}")]
    WrongWorld(String),
    /// `describe` failed or returned something unusable.
    #[error("the component's description is unusable: {0}")]
    BadDescription(String),
    /// Compiling the component went over its time or memory budget; the
    /// message names which and its value.
    #[error("{0}")]
    OverBudget(String),
    /// The server's disk is full: the compiled code could not be kept.
    #[error("the server's storage is full: {0}")]
    DiskFull(String),
    /// Disk or other host trouble.
    #[error("loading the component failed: {0}")]
    Host(String),
}

/// Why a job did not succeed. Stored with failed jobs, hence serde; the
/// representation is adjacent (`{"kind": ..., "detail": ...}`) because an
/// internally tagged one cannot hold the variants that wrap a plain string.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum RunError {
    /// The fuel budget ran out.
    #[error("the job ran out of fuel after {fuel} units")]
    OutOfFuel {
        /// The budget.
        fuel: u64,
    },
    /// The guest wanted more memory than allowed.
    #[error("the job exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The limit.
        limit: u64,
    },
    /// The wall-clock limit passed.
    #[error("the job exceeded its time limit of {limit:?}")]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// Someone cancelled the job.
    #[error("the job was cancelled")]
    Cancelled,
    /// The guest trapped: a panic, a stack overflow, an illegal operation.
    #[error("the process crashed: {message}")]
    Trap {
        /// The trap and what the guest printed last.
        message: String,
    },
    /// The process returned an error of its own.
    #[error("the process failed ({code}): {message}")]
    Guest {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The outputs break the contract (unknown id, bad file, too large).
    #[error("the process returned invalid outputs: {0}")]
    InvalidOutput(String),
    /// The results alone are larger than the owner's result storage quota.
    #[error("{0}")]
    ResultsTooLarge(String),
    /// The owner's result storage quota has no room for the results.
    #[error("{0}")]
    ResultStorageFull(String),
    /// The server's disk filled up while the job set up or kept its files;
    /// nothing of them is kept.
    #[error("the server's storage is full: {0}")]
    InsufficientStorage(String),
    /// The host could not set the job up.
    #[error("the job could not be started: {0}")]
    Host(String),
}

impl RunError {
    /// The job's failure for an I/O error of the host while it handled the
    /// job's files (`doing` says what it was doing).
    pub fn host_io(doing: &str, e: &std::io::Error) -> Self {
        if crate::error::is_disk_full(e) {
            RunError::InsufficientStorage(format!("{doing}: {e}"))
        } else {
            RunError::Host(format!("{doing}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_error_survives_a_trip_through_json() {
        for e in [
            RunError::OutOfFuel { fuel: 5 },
            RunError::MemoryLimit { limit: 7 },
            RunError::Timeout {
                limit: Duration::from_millis(1500),
            },
            RunError::Cancelled,
            RunError::Trap {
                message: "unreachable".into(),
            },
            RunError::Guest {
                code: "bad".into(),
                message: "no".into(),
            },
            RunError::InvalidOutput("too big".into()),
            RunError::Host("disk full".into()),
            RunError::ResultStorageFull("quota".into()),
            RunError::InsufficientStorage("no space left on device".into()),
        ] {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(serde_json::from_value::<RunError>(json).unwrap(), e);
        }
    }
}
