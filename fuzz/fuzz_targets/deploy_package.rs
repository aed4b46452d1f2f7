//! libFuzzer entry of `wades_fuzz_checks::deploy_package`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::deploy_package::check(data));
