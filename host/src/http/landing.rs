//! The landing page and the conformance declaration.

use super::html::{respond, Format};
use super::AppState;
use crate::error::Result;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

/// `GET /`.
pub async fn landing(State(app): State<AppState>, format: Format) -> Result<Response> {
    let b = &app.base;
    let doc = json!({
        "title": "wades",
        "description": "WebAssembly Application Deployment and Execution Service: OGC API - Processes, every job in a fresh WebAssembly sandbox",
        "links": [
            {"href": format!("{b}/"), "rel": "self", "type": "application/json", "title": "this document"},
            {"href": format!("{b}/api"), "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API definition"},
            {"href": format!("{b}/api"), "rel": "service-doc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API documentation"},
            {"href": format!("{b}/conformance"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance", "type": "application/json", "title": "conformance classes"},
            {"href": format!("{b}/conformance"), "rel": "conformance", "type": "application/json", "title": "conformance classes"},
            {"href": format!("{b}/processes"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes", "type": "application/json", "title": "processes"},
            {"href": format!("{b}/jobs"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list", "type": "application/json", "title": "jobs"},
            {"href": format!("{b}/quotations"), "rel": "https://wades.dev/rel/quotations", "type": "application/json", "title": "quotations (Testbed-14)"},
            {"href": format!("{b}/bills"), "rel": "https://wades.dev/rel/bills", "type": "application/json", "title": "bills (Testbed-14)"},
            {"href": format!("{b}/?f=html"), "rel": "alternate", "type": "text/html", "title": "this document as HTML"}
        ]
    });
    respond(&app, format, "landing.html", doc, json!({}))
}

/// `GET /conformance`.
pub async fn conformance(State(app): State<AppState>, format: Format) -> Result<Response> {
    respond(
        &app,
        format,
        "conformance.html",
        crate::ogc::conformance(),
        json!({}),
    )
}
