//! The one place where errors become OGC exception responses.

use crate::error::Error;
use crate::ogc::exception::{
    self, INVALID_PARAMETER, NO_SUCH_JOB, NO_SUCH_PROCESS, RESULT_NOT_READY,
};
use crate::runtime::{LoadError, RunError};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Problem types of wades's own, for failures the standard has no type for.
const WADES: &str = "https://wades.dev/exceptions/";

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, kind, title): (StatusCode, String, &str) = match &self {
            Error::NoSuchProcess(_) => (
                StatusCode::NOT_FOUND,
                NO_SUCH_PROCESS.into(),
                "No such process",
            ),
            Error::NoSuchJob(_) => (StatusCode::NOT_FOUND, NO_SUCH_JOB.into(), "No such job"),
            Error::ResultNotReady(_) => (
                StatusCode::NOT_FOUND,
                RESULT_NOT_READY.into(),
                "Result not ready",
            ),
            Error::NoSuchOutput { .. } => (
                StatusCode::NOT_FOUND,
                format!("{WADES}no-such-output"),
                "No such output",
            ),
            Error::InvalidParameter(_) => (
                StatusCode::BAD_REQUEST,
                INVALID_PARAMETER.into(),
                "Invalid parameter",
            ),
            Error::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                INVALID_PARAMETER.into(),
                "Bad request",
            ),
            Error::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{WADES}payload-too-large"),
                "Payload too large",
            ),
            Error::NotFound(_) => (
                StatusCode::NOT_FOUND,
                format!("{WADES}not-found"),
                "Not found",
            ),
            Error::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{WADES}method-not-allowed"),
                "Method not allowed",
            ),
            Error::JobFailed(run) => job_failure(run),
            Error::Load(
                LoadError::Invalid(_) | LoadError::WrongWorld(_) | LoadError::BadDescription(_),
            ) => (
                StatusCode::BAD_REQUEST,
                format!("{WADES}invalid-component"),
                "Invalid component",
            ),
            Error::Load(LoadError::Host(_)) | Error::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{WADES}internal-error"),
                "Internal server error",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = exception::exception(&kind, title, status.as_u16(), &self.to_string());
        // Plain application/json: the Part 1 test suite expects it for errors.
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// A failed job's error: the caller's fault (400), or the job's (500).
fn job_failure(run: &RunError) -> (StatusCode, String, &'static str) {
    let ours = |slug: &str| format!("{WADES}{slug}");
    match run {
        RunError::Guest { code, .. } if code == "invalid-input" => (
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER.into(),
            "Invalid input",
        ),
        RunError::Guest { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("process-failed"),
            "Process failed",
        ),
        RunError::OutOfFuel { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("out-of-fuel"),
            "Out of fuel",
        ),
        RunError::MemoryLimit { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("memory-limit"),
            "Memory limit exceeded",
        ),
        RunError::Timeout { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("timeout"),
            "Time limit exceeded",
        ),
        RunError::Cancelled => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("dismissed"),
            "Job dismissed",
        ),
        RunError::Trap { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("process-crashed"),
            "Process crashed",
        ),
        RunError::InvalidOutput(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("invalid-output"),
            "Invalid output",
        ),
        RunError::Host(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ours("internal-error"),
            "Internal server error",
        ),
    }
}
