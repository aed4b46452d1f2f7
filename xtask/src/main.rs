//! `cargo xtask`: the build steps of wades that cargo alone cannot express.
//!
//! - `serve [ARGS]`: `guests`, then `wades serve` with the examples built in.
//! - `guests`: build every example process (and WASI command) into a
//!   WebAssembly component under `target/wasm/`, with whichever wasm
//!   toolchain this machine has.
//! - `test`: the Debian packages the tests need ([`TEST_PACKAGES`]),
//!   `guests`, then the whole test suite on SQLite, the store tests and the
//!   Part 1 / Part 2 end-to-end tests again on a private PostgreSQL
//!   ([`PG_SUITE`]), and the CWL conformance suite
//!   (`tests/cwl/conformance.sh`, required and all tests, guarded by
//!   `tests/cwl/required.floor` and `tests/cwl/all.floor`).
//! - `test-pg`: only the PostgreSQL part of `test`.
//! - `bench`: `guests`, then the benchmarks (M4 on a private PostgreSQL).
//! - `componentize IN OUT`: turn a core module built for wasm into a component.
//! - `demo`: `guests`, then describe and run `hello-world` with the `wades` CLI.
//! - `fuzz [TARGET...] [--seconds N]`: the fuzz targets of `fuzz/` ([`fuzz`]).
//!
//! `test` replays the fuzz seeds and regressions (`fuzz/checks`) and runs
//! the 3-minute soak (a test of `bench/`); the libFuzzer runs themselves
//! are `cargo xtask fuzz` until their build is measured to fit CI's budget.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use wades_guest_build::Adapter;

mod fuzz;
mod postgres;

/// Every guest crate under `example-processes/` that is a component.
const GUESTS: &[&str] = &[
    "hello-world",
    "echo",
    "normalized-difference",
    "otsu",
    // Not built-ins: the other steps of the water-bodies workflow, which
    // tests/cwl.rs deploys.
    "crop",
    "stac",
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
            // Each part runs even when an earlier one failed, so all are
            // reported. The CWL conformance suite is guarded by
            // tests/cwl/*.floor.
            let pg = postgres_suite(&root);
            let cwl = conformance(&root);
            tests.and(pg).and(cwl)
        }
        // Only the PostgreSQL part of `test`, for working on the store.
        Some("test-pg") => {
            apt_install(TEST_PACKAGES)?;
            build_guests(&root)?;
            postgres_suite(&root)
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
            build_guests(&root)?;
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
            // M4 runs on a private PostgreSQL, with the durability of a
            // default installation (fsync and synchronous commit on).
            let names: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
            let pg = if names.is_empty() || names.iter().any(|a| *a == "m4") {
                apt_install(&["postgresql", "postgresql-client"])?;
                Some(postgres::Postgres::start(&[])?)
            } else {
                None
            };
            let env: Vec<(&str, &str)> = pg
                .iter()
                .map(|pg| ("WADES_BENCH_DATABASE", pg.url.as_str()))
                .collect();
            cargo_env(&root, &bench, &env)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <serve|test|test-pg|guests|bench|demo|fuzz|componentize IN.wasm OUT.wasm>"
            );
            std::process::exit(2);
        }
    }
}

/// Debian packages the tests need: a static busybox, from which the Docker
/// step tests (`host/tests/cwl_docker.rs`) build their image `FROM scratch`,
/// since no registry can be reached; Chromium and its WebDriver for the
/// browser test (`tests/browser.rs`); PostgreSQL, which the tests run
/// privately (see [`postgres`]); a C++ compiler for libFuzzer
/// (`cargo xtask fuzz`).
const TEST_PACKAGES: &[&str] = &[
    "busybox-static",
    "chromium",
    "chromium-driver",
    "postgresql",
    "postgresql-client",
    "g++",
];

/// The end-to-end test files run a second time on PostgreSQL: OGC API -
/// Processes Part 1 (execution, jobs, results, dismissal, durability) and
/// Part 2 (deployment), with tenancy, quotas and billing, whose numbers
/// live in the database. The other files test what does not depend on it.
const PG_SUITE: &[&str] = &[
    "api", "deploy", "recovery", "tenancy", "quotas", "billing", "chaos",
];

/// The store's and billing's own tests and [`PG_SUITE`] against a private
/// PostgreSQL.
fn postgres_suite(root: &Path) -> Result<()> {
    // The same package selection as the SQLite run (no `-p`), so the test
    // binaries it built are reused instead of a second build with other
    // features.
    // A scratch cluster: what is tested is wades surviving kills of its
    // nodes, not PostgreSQL surviving power loss, so it need not sync.
    let pg = postgres::Postgres::start(&["fsync=off", "synchronous_commit=off"])?;
    let env = [("WADES_TEST_DATABASE", pg.url.as_str())];
    let store = cargo_env(
        root,
        &[
            "test",
            "--release",
            "--no-fail-fast",
            "--lib",
            "--",
            "store::",
            "billing::tests::",
        ],
        &env,
    );
    // The workspace's own package selection, as in the SQLite run: a `-p`
    // would resolve other features and build every dependency again.
    let mut e2e = vec!["test", "--release", "--no-fail-fast"];
    for t in PG_SUITE {
        e2e.extend(["--test", t]);
    }
    let e2e = cargo_env(root, &e2e, &env);
    store.and(e2e).context("the tests on PostgreSQL")
}

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
    cargo_env(root, args, &[])
}

/// `cargo ARGS` with extra environment.
fn cargo_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let status = Command::new(env_cargo())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// The CWL v1.2 conformance suite against `wades cwl-runner`: the
/// `required` tests, then all of them; fails if fewer pass than
/// `tests/cwl/required.floor` or `tests/cwl/all.floor` says.
fn conformance(root: &Path) -> Result<()> {
    // `cargo test` built target/release/wades with the workspace's unified
    // features; `cargo build -p wades` would build every shared dependency a
    // second time with other features, which doubles the disk a CI run needs.
    // Built here with the test's package selection when the test build failed.
    if !root.join("target/release/wades").exists() {
        cargo(root, &["build", "--release", "--package", "wades"])?;
    }
    let mut below = Vec::new();
    for selection in [&[][..], &["--all"][..]] {
        let status = Command::new("bash")
            .arg(root.join("tests/cwl/conformance.sh"))
            .args(selection)
            .env("SKIP_BUILD", "1")
            .current_dir(root)
            .status()?;
        if !status.success() {
            below.push(if selection.is_empty() {
                "required"
            } else {
                "all"
            });
        }
    }
    if !below.is_empty() {
        bail!(
            "the CWL conformance suite fell below its floor ({}; tests/cwl/conformance.sh)",
            below.join(", ")
        );
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
