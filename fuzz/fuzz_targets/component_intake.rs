//! libFuzzer entry of `wades_fuzz_checks::component_intake`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::component_intake::check(data));
