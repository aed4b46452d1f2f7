//! libFuzzer entry of `wades_fuzz_checks::url_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::url_policy::check(data));
