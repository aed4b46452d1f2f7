//! libFuzzer entry of `wades_fuzz_checks::execute_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::execute_body::check(data));
