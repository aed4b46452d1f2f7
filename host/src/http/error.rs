//! The one place where errors become OGC exception responses.

use crate::error::Error;
use crate::ogc::exception::{
    self, INVALID_PARAMETER, NO_SUCH_JOB, NO_SUCH_PROCESS, RESULT_NOT_READY,
};
use crate::runtime::LoadError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Problem types of wades's own, for failures the standard has no type for.
use crate::ogc::exception::WADES;

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
            Error::JobFailed(run) => {
                let (code, kind, title) = exception::job_failure(run);
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    kind,
                    title,
                )
            }
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
