//! The properties the fuzz targets of wades check, one module per target.
//! Each `check` takes the fuzzer's bytes and panics when a property fails;
//! anything else (an error, a refusal) is a correct answer to bad input.
//!
//! `fuzz/` runs them under libFuzzer (`cargo fuzz run <target>`); this
//! crate's tests replay `fuzz/seeds/<target>/` and every finding kept in
//! `fuzz/regressions/<target>/`, so a bug found once stays fixed.

pub mod component_intake;
pub mod cwl_document;
pub mod deploy_package;
pub mod execute_body;
pub mod job_states;
pub mod url_policy;

/// Every target: its name (the file names under `fuzz/`) and its check.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("execute_body", execute_body::check),
    ("deploy_package", deploy_package::check),
    ("cwl_document", cwl_document::check),
    ("url_policy", url_policy::check),
    ("component_intake", component_intake::check),
    ("job_states", job_states::check),
];
