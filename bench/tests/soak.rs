//! The soak of `cargo xtask bench soak`, 3 minutes of it, in the test
//! suite (and so in CI): no job lost, resident memory grown by less than
//! 10%, no descriptor growth. The 30-minute run and its figures are in
//! docs/robustness.md.

use std::process::Command;

#[test]
fn three_minutes_of_mixed_load_lose_no_job_and_leak_nothing() {
    let minutes = std::env::var("WADES_SOAK_MINUTES").unwrap_or_else(|_| "3".into());
    let status = Command::new(env!("CARGO_BIN_EXE_wades-bench"))
        .args(["soak", "--minutes", &minutes])
        // The test build made target/release/wades already; building it
        // again with another package selection would rebuild its
        // dependencies with other features.
        .env("WADES_BENCH_PREBUILT", "1")
        .status()
        .expect("the benchmark runs");
    assert!(status.success(), "the soak failed: see its output above");
}
