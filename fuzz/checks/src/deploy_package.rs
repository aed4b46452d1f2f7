//! The deploy body: an OGC application package (`ogcapppkg`) is parsed or
//! refused without a panic; a parsed package's `processDescription` is
//! applied to a component's own description the way a deployment does,
//! and can only rename and retitle it, never change what it accepts.

use serde_json::Value;
use wades::ogc::package::{apply_description, valid_process_id, AppPackage};

/// Parses `data` as an application package.
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if valid_process_id(text) {
            assert!(!text.is_empty() && text.len() <= 128);
            assert!(!text.contains(['/', '\\', ' ']) && !text.starts_with('.'));
        }
    }
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(package) = AppPackage::parse(&doc) else {
        return;
    };
    assert_eq!(AppPackage::parse(&doc).ok().as_ref(), Some(&package));
    let own = crate::execute_body::description();
    if let Ok(d) = apply_description(own, package.description.as_ref()) {
        assert_eq!(d.inputs.len(), own.inputs.len());
        for (given, mine) in d.inputs.iter().zip(&own.inputs) {
            assert_eq!(
                (&given.id, &given.schema, given.min_occurs, given.max_occurs),
                (&mine.id, &mine.schema, mine.min_occurs, mine.max_occurs),
                "a package changed what an input accepts"
            );
        }
        assert_eq!(d.outputs.len(), own.outputs.len());
        for jc in &d.job_control_options {
            assert!(
                own.job_control_options.contains(jc),
                "a package widened jobControlOptions"
            );
        }
    }
}
