//! Soak: a mixed workload for N minutes against one server: sync and async
//! jobs, results and job lists read back, dismissals, hostile jobs, and
//! deployments that come and go. Afterwards every async job must be found
//! in a final state (no job lost), resident memory must not have grown by
//! 10% or more from the first minute after warm-up to the last, and the
//! server must hold no more descriptors than it did then.
//!
//! `cargo xtask bench soak --minutes 30` (CI runs `--minutes 3`).

use crate::hostile::{CONFIG, HOSTILE_QUOTA};
use crate::server::{client, deploy, quantile, Options, Wades};
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients running the mix at once.
const CLIENTS: usize = 4;
/// Allowed growth of resident memory, first minute to last.
const RSS_BUDGET: f64 = 0.10;
/// Descriptors the server may hold beyond its first-minute figure: idle
/// keep-alive connections of the clients come and go.
const FD_SLACK: usize = 8;

/// One sample of the server.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    rss: u64,
    fds: usize,
}

/// Runs the soak for `minutes`; fails if a criterion is missed.
pub(crate) async fn run(minutes: f64) -> Result<()> {
    crate::http::build_wades()?;
    let length = Duration::from_secs_f64(minutes * 60.0);
    // The first tenth (at least 20 s) warms caches, pools and allocators.
    let warm = (length / 10).max(Duration::from_secs(20));
    let window = (length / 5).max(Duration::from_secs(20));
    println!("\n## soak: {minutes} min of mixed load, {CLIENTS} clients");
    let (mut server, keys) = Wades::start(&Options {
        tenants: &[("alice", "developer"), ("mallory", "developer")],
        setup: &[HOSTILE_QUOTA],
        config: CONFIG,
        cpus: None,
    })?;
    let base = server.base.clone();
    let (alice, mallory) = (client(&keys[0])?, client(&keys[1])?);
    deploy(&mallory, &base, "hostile", "hostile").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let jobs: Arc<Mutex<Vec<String>>> = Default::default();
    let ops = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let c = if n == 0 {
            mallory.clone()
        } else {
            alice.clone()
        };
        let (base, stop, jobs, ops) = (base.clone(), stop.clone(), jobs.clone(), ops.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                step(&c, &base, n, i, &jobs)
                    .await
                    .with_context(|| format!("client {n}, step {i}"))?;
                ops.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            server.alive(),
            "the server died after {:?}",
            started.elapsed()
        );
        if tasks.iter().any(|t| t.is_finished()) {
            break;
        }
        samples.push(Sample {
            at: started.elapsed(),
            rss: server.rss(),
            fds: server.fds(),
        });
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();

    // No job lost: every async job is there, final.
    let ids = jobs.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finals = std::collections::BTreeMap::<String, u64>::new();
    for id in &ids {
        let c = if id.starts_with('m') {
            &mallory
        } else {
            &alice
        };
        let id = &id[1..];
        loop {
            let r = c.get(format!("{base}/jobs/{id}")).send().await?;
            ensure!(r.status() == 200, "job {id} is lost: {}", r.status());
            let status: Value = r.json().await?;
            let s = status["status"].as_str().unwrap_or("?").to_string();
            if matches!(s.as_str(), "successful" | "failed" | "dismissed") {
                *finals.entry(s).or_default() += 1;
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "job {id} still {s} a minute after the soak"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let first: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at >= warm && s.at < warm + window)
        .collect();
    let last: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at + window >= elapsed)
        .collect();
    ensure!(
        !first.is_empty() && !last.is_empty(),
        "the soak was too short to compare"
    );
    let median_rss = |v: &[Sample]| {
        let mut r: Vec<f64> = v.iter().map(|s| s.rss as f64).collect();
        r.sort_by(f64::total_cmp);
        quantile(&r, 0.5)
    };
    let max_fds = |v: &[Sample]| v.iter().map(|s| s.fds).max().unwrap_or(0);
    let (rss0, rss1) = (median_rss(&first), median_rss(&last));
    let growth = rss1 / rss0 - 1.0;
    let (fd0, fd1) = (max_fds(&first), max_fds(&last));
    let peak = samples.iter().map(|s| s.rss).max().unwrap_or(0);
    println!(
        "operations: {} in {:.0?} ({:.0}/s)",
        ops.load(Ordering::Relaxed),
        elapsed,
        ops.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "async jobs: {} submitted, all found final: {finals:?}",
        ids.len()
    );
    println!(
        "RSS (median): {:.1} MiB in the first window after warm-up, {:.1} MiB in the last: {:+.1}% (budget < {:.0}%); peak {:.1} MiB",
        rss0 / 1048576.0,
        rss1 / 1048576.0,
        growth * 100.0,
        RSS_BUDGET * 100.0,
        peak as f64 / 1048576.0
    );
    println!(
        "open descriptors (max): {fd0} in the first window, {fd1} in the last (slack {FD_SLACK})"
    );
    println!("data folder: {:.1} MiB", server.disk() as f64 / 1048576.0);
    if growth >= RSS_BUDGET {
        bail!("RSS grew by {:.1}%", growth * 100.0);
    }
    if fd1 > fd0 + FD_SLACK {
        bail!("descriptors grew from {fd0} to {fd1}");
    }
    println!(
        "soak: met (no job lost, RSS growth {:+.1}%, descriptors {fd0} -> {fd1})",
        growth * 100.0
    );
    Ok(())
}

/// One operation of client `n`'s mix, chosen by the step `i`. Client 0 is
/// the hostile tenant: it deploys and undeploys, and runs hostile jobs.
async fn step(
    c: &reqwest::Client,
    base: &str,
    n: usize,
    i: u64,
    jobs: &Mutex<Vec<String>>,
) -> Result<()> {
    let tag = if n == 0 { "m" } else { "a" };
    let submit = |process: &str, inputs: Value| {
        c.post(format!("{base}/processes/{process}/execution"))
            .header("Prefer", "respond-async")
            .json(&json!({ "inputs": inputs }))
            .send()
    };
    let job_id = |r: &reqwest::Response| -> Result<String> {
        let location = r
            .headers()
            .get("location")
            .context("no Location")?
            .to_str()?;
        Ok(location.rsplit('/').next().unwrap_or_default().to_string())
    };
    if n == 0 {
        match i % 4 {
            0 => {
                let id = format!("churn-{}", i % 3);
                deploy(c, base, &id, "echo").await?;
                let r = c.delete(format!("{base}/processes/{id}")).send().await?;
                ensure!(r.status() == 204, "undeploying {id}: {}", r.status());
            }
            _ => {
                let attack = ["loop", "memory", "log-flood"][(i % 3) as usize];
                let r = submit("hostile", json!({ "attack": attack })).await?;
                if r.status() == 429 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return Ok(());
                }
                ensure!(r.status() == 201, "hostile {attack}: {}", r.status());
                jobs.lock().unwrap().push(format!("{tag}{}", job_id(&r)?));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        return Ok(());
    }
    match i % 6 {
        0 | 1 => {
            let r = c
                .post(format!("{base}/processes/hello-world/execution"))
                .json(&json!({"inputs": {"name": format!("soak {n}-{i}")}}))
                .send()
                .await?;
            ensure!(r.status() == 200, "hello-world: {}", r.status());
            r.bytes().await?;
        }
        2 => {
            let r = submit("echo", json!({"stringInput": format!("soak {n}-{i}")})).await?;
            if r.status() == 429 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Ok(());
            }
            ensure!(r.status() == 201, "echo: {}", r.status());
            let id = job_id(&r)?;
            jobs.lock().unwrap().push(format!("{tag}{id}"));
            // Read back its results once it is done.
            for _ in 0..200 {
                let r = c.get(format!("{base}/jobs/{id}/results")).send().await?;
                if r.status() == 200 {
                    let results: Value = r.json().await?;
                    ensure!(
                        results["stringInput"] == format!("soak {n}-{i}"),
                        "echo results: {results}"
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        3 => {
            let r = c.get(format!("{base}/jobs?limit=20")).send().await?;
            ensure!(r.status() == 200, "job list: {}", r.status());
            r.bytes().await?;
            let r = c.get(format!("{base}/processes")).send().await?;
            ensure!(r.status() == 200, "process list: {}", r.status());
            r.bytes().await?;
        }
        4 => {
            // Dismissed at once: whatever state it reached, it must end dismissed.
            let r = submit("echo", json!({"stringInput": "dismiss me"})).await?;
            if r.status() == 429 {
                return Ok(());
            }
            ensure!(r.status() == 201, "echo: {}", r.status());
            let id = job_id(&r)?;
            let r = c.delete(format!("{base}/jobs/{id}")).send().await?;
            ensure!(r.status() == 200, "dismissing: {}", r.status());
            jobs.lock().unwrap().push(format!("{tag}{id}"));
        }
        _ => {
            let r = c.get(format!("{base}/api")).send().await?;
            ensure!(r.status() == 200, "/api: {}", r.status());
            r.bytes().await?;
        }
    }
    Ok(())
}
