//! M7 against the real `wades` binary: deploying a component of about
//! 2 MB, and its first execution after the server restarts.
//!
//! The component is `validate-json` (`example-processes/validate-json`):
//! a real process whose size is code, the `jsonschema` crate with every
//! draft and its format checks (regexes with look-around, IDN, URIs, ...).
//! Compiling costs in proportion to code, not to data, so a component
//! padded with data would flatter the figure.
//!
//! - Deploy: `POST /processes?id=…` with the component as
//!   `application/wasm`, by a tenant with the developer role (made with
//!   `wades tenant add` and `wades key create`), timed until the 201 and its body. Every deploy
//!   sends different bytes (the component plus a custom section holding a
//!   run-unique nonce: a component may carry custom sections anywhere, and
//!   compiling ignores them), so each one is a cold compile: identical
//!   bytes would hit the artifact cache. Its baseline: the same bytes
//!   compiled in this process with `Runtime::load` (no compile child, no
//!   HTTP, no database), after the server has stopped.
//! - Restart: the server is stopped (SIGTERM) and started again on the
//!   same data folder, which loads the built-ins and every deployed process
//!   from the compiled-artifact cache before it listens. Timed from spawn
//!   to the ready line; then the first synchronous execute of a deployed
//!   process, from a new connection, until the 200 and its body. Its
//!   baselines: the same request warm, before the restarts; and the first
//!   execute of the small built-in `hello-world` after a restart of its own.

use anyhow::{bail, ensure, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http::{build_wades, root};
use crate::{ms, Samples};

const COMPONENT: &str = "validate-json";
const DEPLOY_TARGET: Duration = Duration::from_millis(1500);
const FIRST_EXECUTE_TARGET: Duration = Duration::from_millis(10);

/// What each execute asks: a STAC-like item against a draft-07 schema (the
/// draft STAC's schemas use), two errors. Light on purpose, so that the
/// figure is the server's and the component's start more than the guest's
/// work: with draft 2020-12, building its meta-schema validator alone costs
/// the guest 25 million fuel (5-15 ms here) on every job, since every job
/// is a fresh instance.
const EXECUTE_BODY: &str = r#"{"inputs": {
  "document": {"type": "Feature", "id": 5, "properties": {"datetime": "2026-11-22T00:00:00Z"}},
  "schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
             "required": ["type", "id", "geometry", "properties"],
             "properties": {"type": {"const": "Feature"}, "id": {"type": "string"},
                            "properties": {"type": "object", "required": ["datetime"]}}},
  "checkFormats": false
}, "response": "document"}"#;
const EXECUTE_ERRORS: usize = 2;

/// A `wades serve` on a data folder that outlives it.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts a server on `data`; returns it and the time from spawn to its
    /// ready line.
    fn start(data: &Path) -> Result<(Server, Duration)> {
        let bin = std::env::current_exe()?.with_file_name("wades");
        ensure!(
            bin.exists(),
            "{} is missing: cargo build --release -p wades",
            bin.display()
        );
        let t = Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--builtin-dir")
            .arg(root().join("target/wasm"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let ready = t.elapsed();
        let Some(base) = line.trim().strip_prefix("wades listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the server did not start (it printed {line:?})");
        };
        let base = base.to_string();
        Ok((Server { child, base }, ready))
    }

    /// SIGTERM, as an operator's restart would send; SIGKILL after 10 s.
    fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("wades did not stop 10 s after SIGTERM; killing it");
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wades --data-dir DATA ARGS` (a CLI command); its standard output.
fn cli(data: &Path, args: &[&str]) -> Result<String> {
    let bin = std::env::current_exe()?.with_file_name("wades");
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "wades {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// A client sending `key` as its bearer token: deploying needs credentials.
fn new_client(key: &str) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()?)
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `component` with a custom section (id 0, size, name, payload) appended.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut content = Vec::new();
    leb128(&mut content, name.len());
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = Vec::with_capacity(component.len() + content.len() + 6);
    out.extend_from_slice(component);
    out.push(0);
    leb128(&mut out, content.len());
    out.extend_from_slice(&content);
    out
}

/// `n` variants of the component that differ only in a custom section.
fn variants(component: &[u8], n: usize) -> Vec<Vec<u8>> {
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (0..n)
        .map(|i| {
            with_custom_section(
                component,
                "wades-bench-nonce",
                format!("{nonce}-{i}").as_bytes(),
            )
        })
        .collect()
}

/// Deploys `bytes` as process `id`; returns the time until the 201's body.
async fn deploy(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    bytes: Vec<u8>,
) -> Result<Duration> {
    let t = Instant::now();
    let r = client
        .post(format!("{base}/processes?id={id}"))
        .header("Content-Type", "application/wasm")
        .body(bytes)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    let took = t.elapsed();
    ensure!(
        status == 201,
        "deploying {id} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let summary: serde_json::Value = serde_json::from_slice(&body)?;
    ensure!(
        summary["id"] == id,
        "deploying {id} gave the summary {summary}"
    );
    Ok(took)
}

/// One sync execution of process `id` with `body`; returns the time until
/// the 200's body, and that body.
async fn execute_with(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    body: &'static str,
) -> Result<(Duration, serde_json::Value)> {
    let t = Instant::now();
    let r = client
        .post(format!("{base}/processes/{id}/execution"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    let took = t.elapsed();
    ensure!(
        status == 200,
        "executing {id} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok((took, serde_json::from_slice(&body)?))
}

/// [`EXECUTE_BODY`] on process `id`, whose answer is checked.
async fn execute(client: &reqwest::Client, base: &str, id: &str) -> Result<Duration> {
    let (took, out) = execute_with(client, base, id, EXECUTE_BODY).await?;
    let errors = out["errors"].as_array().map_or(0, Vec::len);
    ensure!(
        out["valid"] == false && errors == EXECUTE_ERRORS,
        "{id} did not find the {EXECUTE_ERRORS} errors: {out}"
    );
    Ok(took)
}

/// The built-in `hello-world` (0.2 MB), whose guest does next to nothing.
async fn execute_hello(client: &reqwest::Client, base: &str) -> Result<Duration> {
    let body = r#"{"inputs": {"name": "World"}, "response": "document"}"#;
    let (took, out) = execute_with(client, base, "hello-world", body).await?;
    ensure!(out["echo"] == "Hello World!", "hello-world answered {out}");
    Ok(took)
}

/// The size of the compiled artifact of process `id`, found by the digest
/// its package names.
async fn artifact_bytes(
    client: &reqwest::Client,
    base: &str,
    data: &Path,
    id: &str,
) -> Result<u64> {
    let package: serde_json::Value = client
        .get(format!("{base}/processes/{id}/package"))
        .send()
        .await?
        .json()
        .await?;
    let digest = package["executionUnit"]["digest"]
        .as_str()
        .and_then(|d| d.strip_prefix("sha256:"))
        .with_context(|| format!("no digest in the package of {id}: {package}"))?;
    for entry in std::fs::read_dir(data.join("artifacts"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(digest) && !name.ends_with(QUICK_SUFFIX) {
            return Ok(entry.metadata()?.len());
        }
    }
    bail!(
        "no artifact of {digest} in {}",
        data.join("artifacts").display()
    )
}

/// How the artifact cache names code compiled by Winch, the quick tier.
const QUICK_SUFFIX: &str = ".winch.cwasm";

/// Artifacts in `data` that are still only Winch's code.
fn quick_artifacts(data: &Path) -> Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(data.join("artifacts"))? {
        n += entry?.file_name().to_string_lossy().ends_with(QUICK_SUFFIX) as usize;
    }
    Ok(n)
}

/// Waits until every upload has Cranelift's code (the server deletes
/// Winch's artifact once it has), or `limit` passes; returns how many
/// still have not.
fn wait_optimized(data: &Path, limit: Duration) -> Result<usize> {
    let t = Instant::now();
    loop {
        let left = quick_artifacts(data)?;
        if left == 0 || t.elapsed() >= limit {
            return Ok(left);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Runtime::load` of each of `bytes` in this process, in a fresh cache.
async fn in_process_compiles(bytes: Vec<Vec<u8>>) -> Result<Vec<Duration>> {
    use wades::runtime::{Runtime, RuntimeConfig};
    let cache = tempfile::tempdir()?;
    let rt = Runtime::new(RuntimeConfig::new(cache.path()))?;
    let mut took = Vec::new();
    for b in bytes {
        let t = Instant::now();
        let process = rt.load(b).await?;
        took.push(t.elapsed());
        ensure!(process.description().id == COMPONENT);
    }
    Ok(took)
}

fn row(name: &str, v: &[Duration]) {
    let s = Samples::new(v.to_vec());
    println!(
        "{:<66} {:>9.1} {:>9.1} {:>9.1} {:>4}",
        name,
        ms(s.median()),
        ms(s.pct(0.0)),
        ms(s.pct(1.0)),
        v.len()
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// Runs M7.
pub async fn run(quick: bool) -> Result<()> {
    let (deploys, restarts) = if quick { (2, 3) } else { (5, 10) };
    build_wades()?;
    let component = crate::component(COMPONENT)?;
    println!(
        "\n## M7: deploy {COMPONENT} ({:.2} MB of component), {deploys} times cold; then {restarts} restarts, each with a first sync execute",
        component.len() as f64 / 1e6
    );
    println!(
        "load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    cli(&data, &["tenant", "add", "bench", "--role", "developer"])?;
    let key = cli(&data, &["key", "create", "bench"])?.trim().to_string();
    let (server, first_start) = Server::start(&data)?;
    println!(
        "first start on an empty data folder (compiles the built-ins): {:.1} s",
        first_start.as_secs_f64()
    );
    let client = new_client(&key)?;
    let ids: Vec<String> = (1..=deploys).map(|i| format!("{COMPONENT}-{i}")).collect();

    // Deploys, each of different bytes: cold compiles.
    let bytes = variants(&component, deploys);
    let mut cold = Vec::new();
    for (id, b) in ids.iter().zip(bytes.iter().cloned()) {
        cold.push(deploy(&client, &server.base, id, b).await?);
    }
    let optimizing = Instant::now();
    // The bytes of the first deploy again, under other ids: no compile.
    let mut same = Vec::new();
    for i in 1..=deploys {
        let id = format!("{COMPONENT}-same-{i}");
        same.push(deploy(&client, &server.base, &id, bytes[0].clone()).await?);
    }
    // Right after its deploy a process runs on Winch's code, until
    // Cranelift's lands in the background.
    let after_deploy = execute(&client, &server.base, &ids[0]).await?;
    let mut warm_quick = Vec::new();
    if quick_artifacts(&data)? > 0 {
        for _ in 0..20 {
            warm_quick.push(execute(&client, &server.base, &ids[0]).await?);
        }
    }
    let left = wait_optimized(&data, Duration::from_secs(300))?;
    ensure!(
        left == 0,
        "{left} uploads still had only Winch's code after 300 s"
    );
    let optimized_after = optimizing.elapsed();
    let artifact = artifact_bytes(&client, &server.base, &data, &ids[0]).await?;
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(execute(&client, &server.base, &ids[0]).await?);
    }
    server.stop()?;

    // Restarts on the same data folder.
    let (mut ready, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
    let mut hello_first = Vec::new();
    for i in 0..restarts {
        let (server, took) = Server::start(&data)?;
        ready.push(took);
        // A new client: the first request also opens its connection.
        let client = new_client(&key)?;
        let id = &ids[i % ids.len()];
        first.push(execute(&client, &server.base, id).await?);
        second.push(execute(&client, &server.base, id).await?);
        server.stop()?;
        // The same for a small built-in, as a baseline.
        let (server, _) = Server::start(&data)?;
        let client = new_client(&key)?;
        hello_first.push(execute_hello(&client, &server.base).await?);
        server.stop()?;
    }

    // Baseline: the same compiles without child, HTTP or database.
    let baseline = in_process_compiles(variants(&component, deploys)).await?;

    println!(
        "component {} bytes; its compiled artifact {} bytes",
        component.len(),
        artifact
    );
    println!(
        "{:<66} {:>9} {:>9} {:>9} {:>4}",
        "", "median ms", "min ms", "max ms", "n"
    );
    row(
        "deploy, POST application/wasm until 201 (cold, Winch in the child)",
        &cold,
    );
    row(
        "  baseline: Runtime::load in-process (Cranelift, no child/HTTP/DB)",
        &baseline,
    );
    row(
        "Cranelift's code in use by all, counted from the last cold 201",
        &[optimized_after],
    );
    row("deploy of bytes already deployed, under another id", &same);
    row("first sync execute right after its deploy", &[after_deploy]);
    if !warm_quick.is_empty() {
        row(
            "sync execute on Winch's code, warm (20 in a row)",
            &warm_quick,
        );
    }
    row(
        "sync execute on Cranelift's code, warm (20 in a row; guest's work included)",
        &warm,
    );
    let processes = 4 + 2 * deploys;
    row(
        &format!("restart: spawn until listening ({processes} processes from the cache)"),
        &ready,
    );
    row(
        "first sync execute after restart, new connection, until 200",
        &first,
    );
    row("second sync execute after restart", &second);
    let warm_median = Samples::new(warm).median();
    let overhead: Vec<Duration> = first
        .iter()
        .map(|f| f.saturating_sub(warm_median))
        .collect();
    row("  first after restart minus the warm median", &overhead);
    row(
        "  baseline: first execute of built-in hello-world after restart",
        &hello_first,
    );
    let (cold, first) = (Samples::new(cold), Samples::new(first));
    let base = Samples::new(baseline);
    println!(
        "deploy / in-process Cranelift compile: {:.2}x median",
        cold.median().as_secs_f64() / base.median().as_secs_f64()
    );
    println!(
        "target deploy <= {:.1} s: {} (median {:.2} s, max {:.2} s)",
        DEPLOY_TARGET.as_secs_f64(),
        verdict(cold.pct(1.0) <= DEPLOY_TARGET),
        cold.median().as_secs_f64(),
        cold.pct(1.0).as_secs_f64()
    );
    println!(
        "target first execute after restart <= {:.0} ms: {} (median {:.2} ms, max {:.2} ms)",
        ms(FIRST_EXECUTE_TARGET),
        verdict(first.pct(1.0) <= FIRST_EXECUTE_TARGET),
        ms(first.median()),
        ms(first.pct(1.0))
    );
    Ok(())
}
