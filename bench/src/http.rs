//! Benchmarks over HTTP against the real `wades` binary.
//!
//! - M1: `hello-world` executed synchronously at concurrency 32, driven by
//!   `wrk` (installed with apt-get if missing): requests/s and latency; the
//!   same load against pygeoapi's `hello-world` under gunicorn, with its
//!   TinyDB job manager and with none (see the `pygeoapi-harness` crate).
//! - Dismissal: `DELETE /jobs/{id}` of a running `echo` job that pauses;
//!   until the answer, until `GET /jobs/{id}` says `dismissed`, and until
//!   the job queued behind it (one job at a time) is successful.
//! - M3: 10,000 async `echo` jobs submitted by 32 clients; accept latency,
//!   and the time until every job is successful.

use anyhow::{bail, ensure, Context, Result};
use pygeoapi_harness::{self as pygeoapi, Manager, Pygeoapi};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `wades serve` child process.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the `wades` binary next to this one: `cargo run -p wades-bench`
/// builds only the library of `wades`, and a stale binary would be measured.
pub(crate) fn build_wades() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "wades",
            "--bin",
            "wades",
        ])
        .current_dir(root())
        .status()
        .context("running cargo build for the wades binary")?
        .success();
    ensure!(ok, "cargo build --release -p wades failed");
    Ok(())
}

pub(crate) fn start_server(env: &[(&str, &str)]) -> Result<Server> {
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
        .envs(env.iter().copied())
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

/// Installs a Debian package with apt-get.
fn apt_install(package: &str) -> Result<()> {
    eprintln!("installing {package} with apt-get");
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}"
            ),
        ])
        .status()?
        .success();
    if !ok {
        bail!("{package} is needed and could not be installed");
    }
    Ok(())
}

fn ensure_wrk() -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    apt_install("wrk")
}

/// What wrk measured.
struct Wrk {
    rps: f64,
    p50: f64,
    p99: f64,
    requests: u64,
    /// wrk's "Socket errors" line, if it printed one.
    socket_errors: Option<String>,
}

const HELLO_BODY: &str = r#"{"inputs": {"name": "World"}}"#;

/// M1 with wrk against a server's `hello-world`.
fn m1(base: &str, seconds: u32) -> Result<Wrk> {
    wrk(
        &format!("{base}/processes/hello-world/execution"),
        Some(HELLO_BODY),
        seconds,
    )
}

/// wrk at concurrency 32 against `url`: a POST of `body` as JSON, or a GET.
fn wrk(url: &str, body: Option<&str>, seconds: u32) -> Result<Wrk> {
    ensure_wrk()?;
    let script = tempfile::NamedTempFile::new()?;
    std::fs::write(
        script.path(),
        match body {
            Some(body) => format!("wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"),
            None => String::new(),
        },
    )?;
    let out = Command::new("wrk")
        // wrk's default 2 s timeout would leave pygeoapi's slowest requests
        // out of its percentiles (and have it retry them).
        .args([
            "-t2",
            "-c32",
            &format!("-d{seconds}s"),
            "--timeout",
            "30s",
            "--latency",
            "-s",
        ])
        .arg(script.path())
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .context("wrk request count")?;
    ensure!(requests > 0, "wrk made no request:\n{text}");
    Ok(Wrk {
        rps: field(&text, "Requests/sec:").context("wrk output")?,
        p50: latency(&text, "50%").context("wrk p50")?,
        p99: latency(&text, "99%").context("wrk p99")?,
        requests,
        socket_errors: text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Socket errors: "))
            .map(str::to_string),
    })
}

/// Sequential sync `hello-world` executions, so that every worker of the
/// server has served before the measurement.
async fn warm_up(client: &reqwest::Client, base: &str, n: usize) -> Result<()> {
    for _ in 0..n {
        let r = client
            .post(format!("{base}/processes/hello-world/execution"))
            .header("Content-Type", "application/json")
            .body(HELLO_BODY)
            .send()
            .await?;
        ensure!(r.status() == 200, "hello-world answered {}", r.status());
        r.bytes().await?;
    }
    Ok(())
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
    m3_on(&[base.to_string()], jobs).await
}

/// M3 against several nodes sharing one database: the 32 clients submit to
/// them in turn, and the first node is asked when every job is done.
pub(crate) async fn m3_on(bases: &[String], jobs: usize) -> Result<(f64, f64, f64)> {
    let base = &bases[0];
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_client = jobs / 32;
    for c in 0..32 {
        let url = format!("{}/processes/echo/execution", bases[c % bases.len()]);
        let client = client.clone();
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

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()?)
}

pub(crate) fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// M1 against wades, then against pygeoapi with each manager, one server
/// at a time.
async fn m1_side_by_side(quick: bool) -> Result<()> {
    let seconds = if quick { 3 } else { 10 };
    println!("\n## M1: hello-world, sync, concurrency 32 (wrk -t2 -c32 -d{seconds}s --timeout 30s, same body)");
    let client = client()?;

    let server = start_server(&[])?;
    warm_up(&client, &server.base, 50).await?;
    let wades = m1(&server.base, seconds)?;
    // The same load on a GET that touches neither the database nor a
    // guest: the latency floor of HTTP alone with wrk on the same cores.
    let floor = wrk(
        &format!("{}/processes/hello-world", server.base),
        None,
        seconds,
    )?;
    drop(server);

    let mut rows = vec![("wades".to_string(), wades)];
    let mut notes = Vec::new();
    for manager in [Manager::TinyDb, Manager::Dummy] {
        let mut py =
            tokio::task::spawn_blocking(move || Pygeoapi::start(&root(), manager)).await??;
        warm_up(&client, &py.base, 50).await?;
        let w = m1(&py.base, seconds).with_context(|| py.log_tail())?;
        py.stop();
        let errors = py.errors_logged();
        if errors > 0 {
            bail!(
                "pygeoapi ({}) logged {errors} errors:\n{}",
                manager.label(),
                py.log_tail()
            );
        }
        if let Some((jobs, ok, bytes)) = py.tinydb()? {
            notes.push(format!(
                "pygeoapi TinyDB after the run: {jobs} jobs ({ok} successful), file {:.0} KiB, \
                 rewritten whole on each of the 3 writes per job",
                bytes as f64 / 1024.0
            ));
        }
        rows.push((
            format!("pygeoapi {}, {}", pygeoapi::VERSION, manager.label()),
            w,
        ));
        drop(py);
    }

    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>9}",
        "server", "req/s", "p50 ms", "p99 ms", "requests"
    );
    for (name, w) in &rows {
        println!(
            "{:<40} {:>9.0} {:>9.2} {:>9.2} {:>9}{}",
            name,
            w.rps,
            w.p50,
            w.p99,
            w.requests,
            w.socket_errors
                .as_ref()
                .map_or(String::new(), |e| format!("  (socket errors: {e})"))
        );
    }
    for n in notes {
        println!("{n}");
    }
    let wades = &rows[0].1;
    for (name, w) in &rows[1..] {
        let ratio = wades.rps / w.rps;
        println!(
            "wades / {name}: throughput {ratio:.1}x (target >= 100x: {}), p99 {:.3}x",
            verdict(ratio >= 100.0),
            wades.p99 / w.p99
        );
    }
    println!(
        "wades p99 {:.2} ms; target p99 <= 5 ms: {}",
        wades.p99,
        verdict(wades.p99 <= 5.0)
    );
    println!(
        "floor: GET /processes/hello-world on wades, same load: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        floor.rps, floor.p50, floor.p99
    );
    Ok(())
}

/// One job's status document.
async fn job_status(client: &reqwest::Client, base: &str, id: &str) -> Result<serde_json::Value> {
    let r = client.get(format!("{base}/jobs/{id}")).send().await?;
    ensure!(r.status() == 200, "GET /jobs/{id} answered {}", r.status());
    Ok(r.json().await?)
}

/// Submits an async `echo` job; returns its id.
async fn submit_echo(client: &reqwest::Client, base: &str, inputs: &str) -> Result<String> {
    let r = client
        .post(format!("{base}/processes/echo/execution"))
        .header("Prefer", "respond-async")
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"inputs": {inputs}}}"#))
        .send()
        .await?;
    ensure!(r.status() == 201, "async echo answered {}", r.status());
    let doc: serde_json::Value = r.json().await?;
    Ok(doc["jobID"].as_str().context("jobID")?.to_string())
}

/// Polls a job every millisecond until it has `status`.
async fn wait_status(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    status: &str,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    loop {
        let doc = job_status(client, base, id).await?;
        if doc["status"] == status {
            return Ok(doc);
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("job {id} not {status} after 10 s: {doc}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Dismissal over HTTP, on a server that runs one job at a time
/// (`WADES_RUNNING_JOBS=1`, and `WADES_WORKERS=1` for servers from before
/// that setting). Each round: job A (`echo` pausing 60 s) runs, job B waits
/// in the queue behind it; then `DELETE` A, timed until the answer, until
/// `GET` shows A dismissed, and until B is successful: B can only start
/// once A's guest has stopped and A has left `running`.
async fn dismiss(runs: usize) -> Result<()> {
    println!("\n## Dismissal: DELETE /jobs/{{id}} of a running echo job (pause 60 s), {runs} times, 1 job at a time");
    let server = start_server(&[("WADES_RUNNING_JOBS", "1"), ("WADES_WORKERS", "1")])?;
    let base = server.base.as_str();
    let client = client()?;
    warm_up(&client, base, 5).await?;
    let (mut answered, mut visible, mut freed) = (Vec::new(), Vec::new(), Vec::new());
    let mut dismissed = Vec::new();
    for i in 0..runs {
        let a = submit_echo(
            &client,
            base,
            r#"{"stringInput": "dismiss me", "pause": 60}"#,
        )
        .await?;
        wait_status(&client, base, &a, "running").await?;
        let b = submit_echo(&client, base, &format!(r#"{{"stringInput": "after {i}"}}"#)).await?;
        // Let A's guest get into its pause, and check that B is held back.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let queued = job_status(&client, base, &b).await?;
        ensure!(
            queued["status"] == "accepted",
            "with 1 job at a time, job B should wait behind A: {queued}"
        );

        let t = Instant::now();
        let r = client.delete(format!("{base}/jobs/{a}")).send().await?;
        let status = r.status();
        let doc: serde_json::Value = r.json().await?;
        answered.push(t.elapsed());
        ensure!(
            status == 200 && doc["status"] == "dismissed",
            "DELETE /jobs/{a} answered {status}: {doc}"
        );
        let doc = wait_status(&client, base, &a, "dismissed").await?;
        visible.push(t.elapsed());
        wait_status(&client, base, &b, "successful").await?;
        freed.push(t.elapsed());
        dismissed.push((a, doc));
    }
    // Some pause slices later, nothing about the dismissed jobs has moved.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (id, then) in &dismissed {
        let now = job_status(&client, base, id).await?;
        ensure!(
            now["status"] == "dismissed"
                && now["progress"] == then["progress"]
                && now["updated"] == then["updated"],
            "dismissed job {id} changed: {then} then {now}"
        );
        let r = client
            .get(format!("{base}/jobs/{id}/results"))
            .send()
            .await?;
        ensure!(
            r.status() == 404,
            "results of dismissed job {id} answered {}",
            r.status()
        );
    }
    println!(
        "{:<50} {:>9} {:>9}",
        "from sending DELETE until", "p50 ms", "max ms"
    );
    for (name, v) in [
        ("DELETE answered (status dismissed)", answered),
        ("GET /jobs/{id} shows dismissed", visible),
        ("job queued behind it successful (A has ended)", freed),
    ] {
        let s = crate::Samples::new(v);
        let max = crate::ms(s.pct(1.0));
        println!(
            "{:<50} {:>9.2} {:>9.2}  target max <= 10 ms: {}",
            name,
            crate::ms(s.median()),
            max,
            verdict(max <= 10.0)
        );
    }
    println!(
        "dismissed jobs 300 ms later: all {runs} still dismissed, progress and updated unchanged, results 404"
    );
    Ok(())
}

/// Which source the `wades` binary was built from: the commit, and whether
/// `host/` had changes not committed yet.
fn wades_source() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "an unknown commit (no git)".into(),
        Some(commit) => match git(&["status", "--porcelain", "--", "host"]) {
            Some(s) if !s.is_empty() => format!(
                "commit {commit} + uncommitted changes to {} files in host/",
                s.lines().count()
            ),
            _ => format!("commit {commit}"),
        },
    }
}

/// Runs M1 (wades and pygeoapi), the dismissal figures and M3.
pub async fn run(quick: bool) -> Result<()> {
    build_wades()?;
    println!(
        "\nwades built from {}; load average {}",
        wades_source(),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    m1_side_by_side(quick).await?;
    dismiss(if quick { 5 } else { 20 }).await?;

    let server = start_server(&[])?;
    let jobs = if quick { 1_000 } else { 10_000 };
    println!("\n## M3: {jobs} async echo jobs from 32 clients");
    let (a50, a99, jps) = m3(&server.base, jobs).await?;
    println!(
        "accept latency p50 {a50:.2} ms, p99 {a99:.2} ms; target p99 <= 5 ms: {}",
        verdict(a99 <= 5.0)
    );
    println!(
        "{jps:.0} jobs/s until all successful; target >= 3000: {}",
        verdict(jps >= 3000.0)
    );
    Ok(())
}
