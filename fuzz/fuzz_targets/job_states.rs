//! libFuzzer entry of `wades_fuzz_checks::job_states`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wades_fuzz_checks::job_states::check(data));
