//! The CWL loader as a deployment meets it: any text (YAML or JSON), with
//! or without a chosen process (`?w=`), is loaded or refused without a
//! panic, and a loaded process can be checked, placed and described.
//!
//! The first byte chooses `w`; the rest is the document.

use wades::cwl::describe::describe;
use wades::cwl::document::{load_deployed, unrunnable};
use wades::cwl::placement::host_commands;

/// Loads `data` as a deployed CWL document.
pub fn check(data: &[u8]) {
    let Some((&choice, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let w = match choice % 3 {
        0 => None,
        1 => Some("main"),
        _ => Some("step"),
    };
    let Ok(deployed) = load_deployed(text, w) else {
        return;
    };
    let _ = unrunnable(&deployed.process);
    let _ = host_commands(&deployed.process);
    let d = describe(
        &deployed.process,
        deployed.id.as_deref().unwrap_or_default(),
    );
    // Every description is served as JSON.
    serde_json::to_string(&d).expect("a description serializes");
}
