//! The OGC API - Processes JSON wire format.
//!
//! Pure functions between the domain model ([`crate::model`]) and the JSON
//! documents of OGC API - Processes - Part 1 (1.0, with the fields 2.0 added
//! where both can coexist). Nothing here knows about HTTP frameworks: the
//! server layer picks status codes and headers and hands these functions the
//! public base URL (`base`, e.g. `https://example.org/ogc`) for links.
//!
//! Everything produced here is checked by the tests against the official 1.0
//! OpenAPI schemas under `shared/ogc/openapi-1.0`.

pub mod billing;
pub mod conformance;
pub mod description;
pub mod exception;
pub mod execute;
pub mod kvp;
pub mod package;
pub mod results;
pub mod schema;
pub mod status;

pub use conformance::{conformance, CONFORMANCE_CLASSES};
pub use description::{process_document, process_summary};
pub use exception::{
    exception, DUPLICATED_PROCESS, IMMUTABLE_PROCESS, INVALID_PARAMETER, NO_SUCH_JOB,
    NO_SUCH_PROCESS, RESULT_NOT_READY, UNSUPPORTED_MEDIA_TYPE,
};
pub use execute::{
    parse_execute, ExecuteError, ExecuteParser, ExecuteRequest, OutputRequest, ResponseForm,
    Subscriber, Transmission,
};
pub use results::{results_document, stored_from_value, StoredOutput};
pub use schema::compile_schema;
pub use status::{job_list, status_info};

/// The official-schema checks the unit tests below use (the `ogc-schemas`
/// dev-dependency), reachable as `crate::ogc::testing`.
#[cfg(test)]
use ogc_schemas as testing;

use serde_json::{json, Value};

/// Link relation of a process's execution endpoint.
pub const REL_EXECUTE: &str = "http://www.opengis.net/def/rel/ogc/1.0/execute";
/// Link relation of a job's results.
pub const REL_RESULTS: &str = "http://www.opengis.net/def/rel/ogc/1.0/results";

/// `base` without a trailing slash, so that `{base}/jobs` never doubles it.
fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// One OGC link object.
fn link(href: String, rel: &str, media_type: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": media_type, "title": title})
}
