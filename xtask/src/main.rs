//! `cargo xtask`: the build steps of wades that cargo alone cannot express.
//!
//! - `serve [ARGS]`: `guests`, then `wades serve` with the examples built in.
//! - `guests`: build every example process (and WASI command) into a
//!   WebAssembly component under `target/wasm/`, with whichever wasm
//!   toolchain this machine has.
//! - `test`: the Debian packages the tests need ([`TEST_PACKAGES`]),
//!   `guests`, then the whole test suite and the CWL conformance suite
//!   (`tests/cwl/conformance.sh`, guarded by `tests/cwl/required.floor`).
//! - `bench`: `guests`, then the benchmarks.
//! - `componentize IN OUT`: turn a core module built for wasm into a component.
//! - `demo`: `guests`, then describe and run `hello-world` with the `wades` CLI.
//! - `fuzz [TARGET...] [--seconds N]`: the fuzz targets of `fuzz/` ([`fuzz`]).
//!
//! `test` ends with every fuzz target for [`fuzz::CI_SECONDS`] each (the
//! 3-minute soak is a test of `bench/`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use wades_guest_build::Adapter;

mod fuzz;

/// Every guest crate under `example-processes/` that is a component.
const GUESTS: &[&str] = &[
    "hello-world",
    "echo",
    "normalized-difference",
    "otsu",
    "hostile",
    "wrong-world",
    // Not a built-in: the ~2 MB component `cargo xtask bench deploy` deploys.
    "validate-json",
];

/// Guest crates that are programs with a `fn main` (WASI commands, which
/// CWL steps run), not processes: componentized with the command adapter.
const COMMANDS: &[&str] = &["wc"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("guests") => build_guests(&root).map(|_| ()),
        Some("test") => {
            apt_install(TEST_PACKAGES)?;
            build_guests(&root)?;
            // The default members: everything but the guest crates, which are wasm-only.
            let mut test = vec!["test", "--release", "--no-fail-fast"];
            test.extend(args[1..].iter().map(String::as_str));
            let tests = cargo(&root, &test);
            // The CWL conformance suite, guarded by tests/cwl/required.floor,
            // runs even when a cargo test failed, so both are reported.
            let cwl = conformance(&root);
            // Also whatever failed before: each part reports on its own.
            let fuzzed = fuzz::run(&root, &[], fuzz::CI_SECONDS);
            tests.and(cwl).and(fuzzed)
        }
        Some("fuzz") => {
            let seconds = match args.iter().position(|a| a == "--seconds") {
                Some(i) => args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .context("--seconds N")?,
                None => 600,
            };
            let targets: Vec<&str> = args[1..]
                .iter()
                .map(String::as_str)
                .filter(|a| !a.starts_with("--") && a.parse::<u64>().is_err())
                .collect();
            fuzz::run(&root, &targets, seconds)
        }
        Some("componentize") if args.len() == 3 => {
            let module = std::fs::read(&args[1])?;
            let component = wades_guest_build::componentize(&module, Adapter::Reactor)?;
            wades_guest_build::write_if_changed(Path::new(&args[2]), &component)
        }
        Some("serve") => {
            let wasm = build_guests(&root)?;
            let wasm = wasm.to_str().expect("utf-8 path");
            let mut serve = vec!["serve", "--builtin-dir", wasm];
            serve.extend(args[1..].iter().map(String::as_str));
            wades(&root, &serve)
        }
        Some("demo") => {
            let wasm = build_guests(&root)?;
            let hello = wasm.join("hello-world.wasm");
            let hello = hello.to_str().expect("utf-8 path");
            wades(&root, &["describe", hello])?;
            wades(&root, &["run", hello, "name=World"])
        }
        Some("bench") => {
            build_guests(&root)?;
            let mut bench = vec!["run", "--release", "--package", "wades-bench", "--"];
            bench.extend(args[1..].iter().map(String::as_str));
            cargo(&root, &bench)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <serve|test|guests|bench|demo|fuzz|componentize IN.wasm OUT.wasm>"
            );
            std::process::exit(2);
        }
    }
}

/// Debian packages the tests need: a static busybox, from which the Docker
/// step tests (`host/tests/cwl_docker.rs`) build their image `FROM scratch`,
/// since no registry can be reached; a C++ compiler for libFuzzer
/// (`cargo xtask fuzz`).
const TEST_PACKAGES: &[&str] = &["busybox-static", "g++"];

/// Installs the Debian packages that are missing (CI runs as root).
fn apt_install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    apt(&install)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new(env_cargo())
        .args(args)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// The `required` CWL v1.2 conformance tests against `wades cwl-runner`;
/// fails if fewer pass than `tests/cwl/required.floor` says.
fn conformance(root: &Path) -> Result<()> {
    // `cargo test` built target/release/wades with the workspace's unified
    // features; `cargo build -p wades` would build every shared dependency a
    // second time with other features, which doubles the disk a CI run needs.
    // Built here with the test's package selection when the test build failed.
    if !root.join("target/release/wades").exists() {
        cargo(root, &["build", "--release", "--package", "wades"])?;
    }
    let status = Command::new("bash")
        .arg(root.join("tests/cwl/conformance.sh"))
        .env("SKIP_BUILD", "1")
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("the CWL conformance suite fell below its floor (tests/cwl/conformance.sh)");
    }
    Ok(())
}

/// `wades ARGS` through cargo, so the binary is built first.
fn wades(root: &Path, args: &[&str]) -> Result<()> {
    let mut run = vec!["run", "--release", "--package", "wades", "--"];
    run.extend_from_slice(args);
    cargo(root, &run)
}

fn env_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds all guests and returns the folder holding the components.
fn build_guests(root: &Path) -> Result<PathBuf> {
    let out = root.join("target/wasm");
    let packages: Vec<&str> = GUESTS.iter().chain(COMMANDS).copied().collect();
    eprintln!("xtask: building {} guests", packages.len());
    let built = wades_guest_build::build(&wades_guest_build::Build {
        dir: root,
        packages: &packages,
        target_dir: &root.join("target/guest"),
        out_dir: &out,
    })?;
    for guest in &packages {
        if !built.iter().any(|c| c.name == *guest) {
            bail!("the build gave no component for {guest}");
        }
    }
    eprintln!("xtask: components in {}", out.display());
    Ok(out)
}
