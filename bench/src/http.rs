//! Benchmarks over HTTP against the real `wades` binary.
//!
//! - M1: `hello-world` executed synchronously at concurrency 32, driven by
//!   `wrk` (installed with apt-get if missing): requests/s and latency.
//! - M3: 10,000 async `echo` jobs submitted by 32 clients; accept latency,
//!   and the time until every job is successful.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `wades serve` child process.
struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start_server() -> Result<Server> {
    let bin = std::env::current_exe()?.with_file_name("wades");
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p wades",
            bin.display()
        );
    }
    let data = tempfile::tempdir()?;
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--builtin-dir")
        .arg(root().join("target/wasm"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("wades listening on ")
        .context("server did not start")?
        .to_string();
    Ok(Server {
        child,
        base,
        _data: data,
    })
}

fn ensure_wrk() -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("installing wrk with apt-get");
    let ok = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk",
        ])
        .status()?
        .success();
    if !ok {
        bail!("wrk is needed for M1 and could not be installed");
    }
    Ok(())
}

/// M1 with wrk; returns (requests/s, p50 ms, p99 ms).
fn m1(base: &str, seconds: u32) -> Result<(f64, f64, f64)> {
    ensure_wrk()?;
    let script = tempfile::NamedTempFile::new()?;
    std::fs::write(
        script.path(),
        "wrk.method = \"POST\"\nwrk.body = '{\"inputs\": {\"name\": \"World\"}}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )?;
    let out = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script.path())
        .arg(format!("{base}/processes/hello-world/execution"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    let rps = field(&text, "Requests/sec:").context("wrk output")?;
    let p50 = latency(&text, "50%").context("wrk p50")?;
    let p99 = latency(&text, "99%").context("wrk p99")?;
    Ok((rps, p50, p99))
}

fn field(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// A wrk latency percentile in milliseconds.
fn latency(text: &str, pct: &str) -> Option<f64> {
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(pct))?
        .trim();
    let (num, unit) = value.split_at(value.find(|c: char| c.is_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => return None,
    })
}

/// M3: returns (accept p50 ms, accept p99 ms, jobs/s until all successful).
async fn m3(base: &str, jobs: usize) -> Result<(f64, f64, f64)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()?;
    let url = format!("{base}/processes/echo/execution");
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_client = jobs / 32;
    for c in 0..32 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let body = format!(r#"{{"inputs": {{"stringInput": "job {c}-{i}"}}}}"#);
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("Prefer", "respond-async")
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if r.status() != 201 {
                    bail!("submit answered {}", r.status());
                }
                r.bytes().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let total = latencies.len();
    loop {
        let open: serde_json::Value = client
            .get(format!("{base}/jobs?status=accepted,running&limit=1"))
            .send()
            .await?
            .json()
            .await?;
        if open["jobs"].as_array().is_some_and(|j| j.is_empty()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("jobs still open after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let failed: serde_json::Value = client
        .get(format!("{base}/jobs?status=failed&limit=1"))
        .send()
        .await?
        .json()
        .await?;
    if !failed["jobs"].as_array().is_some_and(|j| j.is_empty()) {
        bail!("some jobs failed");
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    Ok((pct(0.5), pct(0.99), total as f64 / elapsed.as_secs_f64()))
}

/// Runs M1 and M3.
pub async fn run(quick: bool) -> Result<()> {
    let server = start_server()?;
    println!(
        "\n## M1: hello-world, sync, concurrency 32 (wrk, {} s)",
        if quick { 3 } else { 10 }
    );
    let (rps, p50, p99) = m1(&server.base, if quick { 3 } else { 10 })?;
    println!(
        "wades: {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms; target p99 <= 5 ms: {}",
        if p99 <= 5.0 { "met" } else { "MISSED" }
    );
    drop(server);

    let server = start_server()?;
    let jobs = if quick { 1_000 } else { 10_000 };
    println!("\n## M3: {jobs} async echo jobs from 32 clients");
    let (a50, a99, jps) = m3(&server.base, jobs).await?;
    println!(
        "accept latency p50 {a50:.2} ms, p99 {a99:.2} ms; target p99 <= 5 ms: {}",
        if a99 <= 5.0 { "met" } else { "MISSED" }
    );
    println!(
        "{jps:.0} jobs/s until all successful; target >= 3000: {}",
        if jps >= 3000.0 { "met" } else { "MISSED" }
    );
    Ok(())
}
