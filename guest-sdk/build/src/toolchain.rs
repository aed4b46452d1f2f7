//! Finds a Rust toolchain that builds `wasm32-wasip1` guests on this machine.
//!
//! Order: rustup with the target installed; `rustup target add` (which needs
//! its download server, not always reachable); Debian's rustc with build-std
//! through `wasm-guest-env.sh` (embedded in this crate), which installs the
//! Debian packages it needs and always works on Debian 12. Set
//! `WADES_GUEST_TOOLCHAIN=rustup|debian` to force one.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::process::{Command, Stdio};

const TARGET: &str = "wasm32-wasip1";
/// SIMD lets LLVM vectorize raster loops in the guests as it does natively.
const GUEST_RUSTFLAGS: &str = "-C target-feature=+simd128";

/// The Debian fallback: installs Debian's rustc, its std sources, lld and
/// wasi-libc, and prints the `export` lines of the environment that builds
/// `wasm32-wasip1` with `-Zbuild-std`.
const DEBIAN_SCRIPT: &str = include_str!("../wasm-guest-env.sh");

/// Environment for the guest build.
pub struct GuestEnv {
    /// The cargo `--target`.
    pub target: String,
    /// Environment variables for cargo.
    pub vars: Vec<(String, String)>,
    /// Which toolchain this is, for messages.
    pub source: &'static str,
}

/// Finds (or sets up) a toolchain that builds `wasm32-wasip1` guests.
pub fn detect() -> Result<GuestEnv> {
    let choice = std::env::var("WADES_GUEST_TOOLCHAIN").unwrap_or_else(|_| "auto".into());
    if choice != "debian" {
        if rustup_has_target() || rustup_add_target() {
            return Ok(GuestEnv {
                target: TARGET.into(),
                vars: vec![(
                    "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS".into(),
                    GUEST_RUSTFLAGS.into(),
                )],
                source: "rustup",
            });
        }
        if choice == "rustup" {
            bail!(
                "WADES_GUEST_TOOLCHAIN=rustup, but rustup has no {TARGET} target and cannot add it"
            );
        }
    }
    debian()
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false)
}

fn rustup_add_target() -> bool {
    eprintln!("wades-guest-build: trying `rustup target add {TARGET}` (gives up after 120 s)");
    // `timeout` because an unreachable server can hang rustup for a long time.
    Command::new("timeout")
        .args(["120", "rustup", "target", "add", TARGET])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && rustup_has_target()
}

fn debian() -> Result<GuestEnv> {
    eprintln!("wades-guest-build: using Debian's rustc with build-std (wasm-guest-env.sh)");
    let mut child = Command::new("bash")
        .arg("-s")
        .env("WASM_GUEST_TOOLCHAIN", "debian")
        .env("WASM_GUEST_TARGET", TARGET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("running bash for wasm-guest-env.sh")?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(DEBIAN_SCRIPT.as_bytes())
        .context("passing wasm-guest-env.sh to bash")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("wasm-guest-env.sh failed: no wasm toolchain could be set up");
    }
    let mut vars = Vec::new();
    for line in String::from_utf8(out.stdout)?.lines() {
        let Some(assign) = line.strip_prefix("export ") else {
            continue;
        };
        let Some((key, quoted)) = assign.split_once('=') else {
            continue;
        };
        // The script single-quotes values and escapes quotes as '\''.
        let value = quoted.trim_matches('\'').replace("'\\''", "'");
        vars.push((key.to_string(), value));
    }
    let target = vars
        .iter()
        .find(|(k, _)| k == "WASM_GUEST_TARGET")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| TARGET.into());
    for (k, v) in vars.iter_mut() {
        if k == "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS" {
            v.push(' ');
            v.push_str(GUEST_RUSTFLAGS);
        }
    }
    Ok(GuestEnv {
        target,
        vars,
        source: "debian build-std",
    })
}
