//! The error a process returns.

use crate::bindings::wades::process::types as wit;
use std::fmt;

/// A failure the process reports: the job fails with this code and message.
///
/// Any `std::error::Error` converts into one (code `process-failed`), so `?`
/// works on I/O and parsing errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessError {
    /// A short machine-readable code.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

impl ProcessError {
    /// An error with any code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProcessError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The inputs are wrong: the caller can fix this.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("invalid-input", message)
    }

    /// The process failed for a reason of its own.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new("process-failed", message)
    }

    pub(crate) fn into_wit(self) -> wit::ProcessError {
        wit::ProcessError {
            code: self.code,
            message: self.message,
        }
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl<E: std::error::Error> From<E> for ProcessError {
    fn from(e: E) -> Self {
        Self::failed(e.to_string())
    }
}
