//! A `wades serve` child for the robustness benchmarks (`hostile`, `soak`):
//! its own data folder with tenants and keys made by the CLI, an optional
//! configuration file, optionally pinned to CPUs with `taskset`, and its
//! resident memory and open descriptors read from `/proc`.

use anyhow::{bail, ensure, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server.
pub(crate) struct Wades {
    child: Child,
    /// e.g. `http://127.0.0.1:40123`
    pub base: String,
    data: tempfile::TempDir,
}

/// How to start one.
#[derive(Default)]
pub(crate) struct Options<'a> {
    /// Tenants to create, with their roles; their keys are returned.
    pub tenants: &'a [(&'a str, &'a str)],
    /// More `wades` CLI commands to run on the data folder first, after
    /// the tenants are made (quotas, say).
    pub setup: &'a [&'a [&'a str]],
    /// The configuration file's text.
    pub config: &'a str,
    /// CPUs to pin the server to (`taskset -c`), e.g. "0".
    pub cpus: Option<&'a str>,
}

fn binary() -> Result<PathBuf> {
    let bin = std::env::current_exe()?.with_file_name("wades");
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p wades",
            bin.display()
        );
    }
    Ok(bin)
}

fn cli(data: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(binary()?)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "wades {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

impl Wades {
    /// Starts a server; returns it and the key of each tenant asked for.
    pub(crate) fn start(options: &Options) -> Result<(Wades, Vec<String>)> {
        let data = tempfile::tempdir()?;
        let mut keys = Vec::new();
        for (tenant, role) in options.tenants {
            cli(data.path(), &["tenant", "add", tenant, "--role", role])?;
            keys.push(cli(data.path(), &["key", "create", tenant])?);
        }
        for args in options.setup {
            cli(data.path(), args)?;
        }
        let config = data.path().join("wades.toml");
        std::fs::write(&config, options.config)?;
        let mut cmd = match options.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(binary()?);
                c
            }
            None => Command::new(binary()?),
        };
        let mut child = cmd
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .arg("--builtin-dir")
            .arg(crate::guests_dir())
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wades (is taskset installed?)")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("wades listening on ")
            .context("server did not start")?
            .to_string();
        Ok((Wades { child, base, data }, keys))
    }

    /// Whether the server is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory of the server and its children (compile children
    /// included), in bytes.
    pub(crate) fn rss(&self) -> u64 {
        tree(self.child.id())
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .sum::<u64>()
            * 1024
    }

    /// Descriptors the server holds open.
    pub(crate) fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).map_or(0, |d| d.count())
    }

    /// Bytes of the data folder.
    pub(crate) fn disk(&self) -> u64 {
        fn size(p: &Path) -> u64 {
            std::fs::read_dir(p).map_or(0, |d| {
                d.flatten()
                    .map(|e| match e.file_type() {
                        Ok(t) if t.is_dir() => size(&e.path()),
                        _ => e.metadata().map_or(0, |m| m.len()),
                    })
                    .sum()
            })
        }
        size(self.data.path())
    }
}

/// `pid` and its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", out[i]))
            .unwrap_or_default();
        out.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
        i += 1;
    }
    out
}

impl Drop for Wades {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client sending `key` with every request.
pub(crate) fn client(key: &str) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(120))
        .build()?)
}

/// Deploys `component` (from the built guests) as `id`.
pub(crate) async fn deploy(
    c: &reqwest::Client,
    base: &str,
    id: &str,
    component: &str,
) -> Result<()> {
    let r = c
        .post(format!("{base}/processes?id={id}"))
        .header("Content-Type", "application/wasm")
        .body(crate::component(component)?)
        .send()
        .await?;
    ensure!(r.status() == 201, "deploying {id}: {}", r.text().await?);
    Ok(())
}

/// The `p`-quantile (0..=1) of sorted `v`.
pub(crate) fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}
