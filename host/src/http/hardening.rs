//! Layers every response passes through: security headers, CORS, a bound
//! on request headers and a time limit, each failing with an OGC exception
//! rather than an empty body.

use crate::config::Config;
use crate::error::Error;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// Nothing a browser renders from an API document may load or run
/// anything, nor be framed. HTML pages set a policy of their own (see
/// `http::html`), which this layer leaves alone.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds the hardening layers to `router`.
pub fn harden(router: Router, config: &Config) -> Router {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ];
    let timeout = config.request_timeout();
    let max_header_bytes = config.http.max_header_bytes;
    let mut router = router
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| time_limit(timeout, req, next),
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| header_limit(max_header_bytes, req, next),
        ));
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    match cors(&config.http.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for `origins` (`*` for any); `None` for none, which leaves browsers
/// to same-origin calls.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("prefer"),
            ])
            .expose_headers([
                header::LOCATION,
                header::LINK,
                header::RETRY_AFTER,
                HeaderName::from_static("preference-applied"),
            ])
            .max_age(Duration::from_secs(3600)),
    )
}

/// Answers 431 when the request's headers together pass `max` bytes.
async fn header_limit(max: usize, req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > max {
        return Error::HeadersTooLarge(format!(
            "the request headers take {size} bytes; this server takes at most {max}"
        ))
        .into_response();
    }
    next.run(req).await
}

/// Answers 503 when the request is not answered within `limit`. A job the
/// request started goes on, and can be found in the job list.
async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Error::RequestTimeout(format!(
            "the request took longer than {} s, this server's limit; \
             run long jobs asynchronously (Prefer: respond-async)",
            limit.as_secs()
        ))
        .into_response(),
    }
}
