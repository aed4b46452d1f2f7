//! libFuzzer entry of `wades_fuzz_checks::cwl_document`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::cwl_document::check(data));
