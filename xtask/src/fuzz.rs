//! `cargo xtask fuzz [TARGET...] [--seconds N]`: every fuzz target of
//! `fuzz/` (or those named) for N seconds each under libFuzzer, with
//! cargo-fuzz installed from crates.io if missing. Only a stable toolchain
//! is installed, so its nightly flags are unlocked with RUSTC_BOOTSTRAP.
//! Builds go to `target/fuzz/`, new corpus entries to `target/fuzz-corpus/`,
//! never into the tree; a
//! crash leaves its input in `fuzz/artifacts/<target>/`, to be kept as a
//! regression in `fuzz/regressions/<target>/` once fixed.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Every target, as named in fuzz/Cargo.toml.
pub const TARGETS: &[&str] = &[
    "execute_body",
    "deploy_package",
    "cwl_document",
    "url_policy",
    "component_intake",
    "job_states",
];

/// Seconds per target for a short run (`cargo xtask fuzz --seconds 20`).
#[allow(dead_code)]
pub const CI_SECONDS: u64 = 20;

/// How the targets are built, for `build` and `run` alike (a difference
/// would rebuild). No sanitizer: the code under test is safe Rust, and
/// libFuzzer's coverage guidance is what finds its panics. Sixteen codegen
/// units instead of cargo-fuzz's one: wasmtime in one unit takes the better
/// part of an hour on two cores.
const BUILD: &[&str] = &["--sanitizer", "none", "--codegen-units", "16"];

/// Runs `targets` (all if empty) for `seconds` each.
pub fn run(root: &Path, targets: &[&str], seconds: u64) -> Result<()> {
    install_cargo_fuzz(root)?;
    let targets = if targets.is_empty() { TARGETS } else { targets };
    for target in targets {
        if !TARGETS.contains(target) {
            bail!("no fuzz target {target}; there are {}", TARGETS.join(", "));
        }
    }
    let wasm = root.join("target/wasm");
    // Built once for all, so each run's time is fuzzing.
    cargo_fuzz(root, &[&["build"], BUILD].concat())?;
    for target in targets {
        let corpus = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = root.join("fuzz/seeds").join(target);
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let mut corpora = vec![
            corpus.to_str().context("utf-8 path")?,
            seeds.to_str().context("utf-8 path")?,
        ];
        // The built example components: real seeds for intake, built from
        // source rather than committed.
        if *target == "component_intake" {
            corpora.push(wasm.to_str().context("utf-8 path")?);
        }
        let time = format!("-max_total_time={seconds}");
        let fuzzer = ["--", &time, "-rss_limit_mb=4096", "-print_final_stats=1"];
        cargo_fuzz(
            root,
            &[&["run"], BUILD, &[target], &corpora, &fuzzer].concat(),
        )
        .with_context(|| {
            format!("fuzz target {target} found a failure (see fuzz/artifacts/{target}/)")
        })?;
    }
    Ok(())
}

fn cargo_fuzz(root: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new(super::env_cargo())
        .arg("fuzz")
        .args(args)
        .env("RUSTC_BOOTSTRAP", "1")
        // Its own target folder: an instrumented build shares nothing with
        // the others, and would otherwise hold their build lock.
        .env("CARGO_TARGET_DIR", root.join("target/fuzz"))
        .current_dir(root)
        .status()
        .context("running cargo fuzz")?;
    if !status.success() {
        bail!("cargo fuzz {} failed", args.join(" "));
    }
    Ok(())
}

fn install_cargo_fuzz(root: &Path) -> Result<()> {
    let installed = Command::new(super::env_cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz from crates.io");
    super::cargo(root, &["install", "cargo-fuzz", "--locked"])
}
