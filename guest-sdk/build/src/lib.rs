//! Builds wades guest crates into WebAssembly components.
//!
//! A process is a `cdylib` crate written with the `wades-guest` SDK; a WASI
//! command (a CWL step) is a crate with a `fn main`. Both are built for
//! `wasm32-wasip1` with whichever toolchain this machine has
//! ([`toolchain::detect`]) and turned into components ([`componentize`]):
//! a `cdylib` with the reactor adapter, a program with the command adapter.
//! `cargo xtask guests` builds the example processes with it, and
//! `wades build` a process author's crate.

mod componentize;
pub mod toolchain;

pub use componentize::{componentize, Adapter};

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What to build.
pub struct Build<'a> {
    /// Where cargo runs: a crate, or a workspace with `packages`.
    pub dir: &'a Path,
    /// The packages to build; empty for the crate at `dir`.
    pub packages: &'a [&'a str],
    /// Cargo's target folder for the wasm build.
    pub target_dir: &'a Path,
    /// Where the components are written, as `<name>.wasm`.
    pub out_dir: &'a Path,
}

/// One component written by [`build`].
#[derive(Debug)]
pub struct Component {
    /// The package's name for a process, the program's for a command.
    pub name: String,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// Process (reactor) or program (command).
    pub adapter: Adapter,
}

/// Builds the crates of `build` in release mode for wasm and writes each
/// `cdylib` and program among them as a component; returns them.
pub fn build(build: &Build) -> Result<Vec<Component>> {
    let env = toolchain::detect()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(build.dir)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            "--target",
            &env.target,
            "--target-dir",
        ])
        .arg(build.target_dir)
        // Guests ship without debug info: it only slows compilation in the host.
        .args([
            "--config",
            "profile.release.debug=0",
            "--config",
            "profile.release.strip=true",
        ])
        .stdout(Stdio::piped());
    for package in build.packages {
        cmd.args(["--package", package]);
    }
    // Nothing of the caller's (host) build may leak into the guests'.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    eprintln!(
        "wades-guest-build: building for {} ({})",
        env.target, env.source
    );
    let out = cmd.output().context("running cargo for the guests")?;
    if !out.status.success() {
        bail!("cargo could not build the guest crates (its errors are above)");
    }
    std::fs::create_dir_all(build.out_dir)
        .with_context(|| format!("creating {}", build.out_dir.display()))?;
    let mut components = Vec::new();
    for artifact in artifacts(&out.stdout)? {
        let bytes = std::fs::read(&artifact.wasm)
            .with_context(|| format!("reading {}", artifact.wasm.display()))?;
        let component = componentize(&bytes, artifact.adapter)
            .with_context(|| format!("componentizing {}", artifact.name))?;
        let path = build.out_dir.join(format!("{}.wasm", artifact.name));
        write_if_changed(&path, &component)?;
        components.push(Component {
            name: artifact.name,
            path,
            adapter: artifact.adapter,
        });
    }
    if components.is_empty() {
        bail!(
            "cargo built no cdylib or program in {}: a process crate needs \
             `[lib] crate-type = [\"cdylib\"]`",
            build.dir.display()
        );
    }
    Ok(components)
}

/// A core module cargo built.
struct Artifact {
    name: String,
    wasm: PathBuf,
    adapter: Adapter,
}

/// The cdylibs and programs among cargo's `compiler-artifact` messages.
fn artifacts(messages: &[u8]) -> Result<Vec<Artifact>> {
    let mut found = Vec::new();
    for line in messages.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let message: serde_json::Value =
            serde_json::from_slice(line).context("reading cargo's JSON messages")?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let kinds = &message["target"]["kind"];
        let has = |kind: &str| {
            kinds
                .as_array()
                .is_some_and(|k| k.iter().any(|x| x == kind))
        };
        let (name, adapter) = if has("cdylib") {
            let id = message["package_id"].as_str().unwrap_or_default();
            (package_name(id).to_string(), Adapter::Reactor)
        } else if has("bin") {
            let name = message["target"]["name"].as_str().unwrap_or_default();
            (name.to_string(), Adapter::Command)
        } else {
            continue;
        };
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            found.push(Artifact {
                name,
                wasm: PathBuf::from(wasm),
                adapter,
            });
        }
    }
    Ok(found)
}

/// The name in a cargo package id: `path+file:///a/b#name@0.1.0`, or
/// `path+file:///a/name#0.1.0` when the name is the folder's.
fn package_name(id: &str) -> &str {
    let (url, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _version)) => name,
        None => url.rsplit('/').next().unwrap_or(url),
    }
}

/// Keeps mtimes stable, so that what depends on the files is not rebuilt needlessly.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn package_names_from_both_id_forms() {
        assert_eq!(
            package_name("path+file:///w/example-processes/hello-world#0.1.0"),
            "hello-world"
        );
        assert_eq!(package_name("path+file:///w/x#my-proc@0.2.0"), "my-proc");
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0"),
            "serde"
        );
    }
}
