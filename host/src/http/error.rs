//! Errors as HTTP responses: the status, type and title come from
//! [`exception::for_error`], the one place errors become OGC exceptions.

use crate::error::Error;
use crate::ogc::exception;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (code, kind, title) = exception::for_error(&self);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = exception::exception(&kind, title, code, &self.to_string());
        // Plain application/json: the Part 1 test suite expects it for errors.
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell the client which scheme to use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"wades\""),
            );
        }
        response
    }
}
