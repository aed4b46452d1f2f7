//! The landing page and the conformance declaration.

use super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// `GET /`.
pub async fn landing(State(app): State<AppState>) -> Json<Value> {
    let b = &app.base;
    Json(json!({
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
            {"href": format!("{b}/bills"), "rel": "https://wades.dev/rel/bills", "type": "application/json", "title": "bills (Testbed-14)"}
        ]
    }))
}

/// `GET /conformance`.
pub async fn conformance() -> Json<Value> {
    Json(crate::ogc::conformance())
}
