//! The conformance declaration (`/conformance`).

use serde_json::{json, Value};

/// The conformance classes this server implements, for Part 1 1.0 and the
/// 2.0 draft alike (clients of either version look for their own prefix).
/// Not yet: `oas31`.
pub const CONFORMANCE_CLASSES: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/callback",
    "http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/kvp-execute",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/cwl",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/docker",
    // Testbed-14 quotation and billing has no OGC conformance class; these
    // name ours, so that clients can tell the endpoints are there.
    QUOTATION,
    BILLING,
];

/// Ours: `/processes/{id}/quotations`, `/quotations` (Testbed-14 ADES).
pub const QUOTATION: &str = "https://wades.dev/spec/ogcapi-processes-billing/1.0/conf/quotation";
/// Ours: `/bills` (Testbed-14 ADES).
pub const BILLING: &str = "https://wades.dev/spec/ogcapi-processes-billing/1.0/conf/billing";

/// The `confClasses` document listing [`CONFORMANCE_CLASSES`].
pub fn conformance() -> Value {
    json!({ "conformsTo": CONFORMANCE_CLASSES })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::testing::validate;

    #[test]
    fn declares_both_versions() {
        let doc = conformance();
        validate("confClasses.yaml", &doc);
        let classes: Vec<&str> = doc["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for class in [
            "core",
            "ogc-process-description",
            "json",
            "oas30",
            "job-list",
            "dismiss",
            "callback",
            "html",
        ] {
            for version in ["1.0", "2.0"] {
                let uri = format!(
                    "http://www.opengis.net/spec/ogcapi-processes-1/{version}/conf/{class}"
                );
                assert!(classes.contains(&uri.as_str()), "{uri}");
            }
        }
        assert!(classes
            .contains(&"http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/kvp-execute"));
    }
}
