//! Hostile-guest load: while one tenant submits hostile jobs without pause
//! (an endless loop, a memory bomb, runaway recursion, a giant output, a
//! log flood, a panic), another tenant's well-behaved `hello-world` jobs
//! are timed, and compared with the same jobs on the idle server. The
//! server must never abort, its memory must stay bounded, and the good
//! jobs' p99 should stay within 20% of their solo figure. Run once on
//! every CPU and once with the server pinned to one (`taskset -c 0`).

use crate::server::{client, deploy, quantile, Options, Wades};
use anyhow::{bail, ensure, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What an operator hosting strangers would set: short limits, two
/// workers whatever the CPUs.
pub(crate) const CONFIG: &str = r#"
workers = 2
[limits]
fuel = 2000000000
memory_bytes = 268435456
timeout_seconds = 3
"#;

/// The hostile tenant's own quota: one job running, a few queued.
pub(crate) const HOSTILE_QUOTA: &[&str] = &[
    "tenant",
    "quota",
    "mallory",
    "--max-running",
    "1",
    "--max-queued",
    "8",
];

/// `workers` and `[limits] memory_bytes` of [`CONFIG`].
const WORKERS: u64 = 2;
const GUEST_MEMORY: u64 = 256 << 20;

/// The attacks, in turn; each must fail its own job.
const ATTACKS: &[&str] = &[
    "loop",
    "memory",
    "recursion",
    "huge-output",
    "log-flood",
    "panic",
];

/// Tasks submitting hostile jobs at once.
const ATTACKERS: usize = 3;

/// Allowed growth of the good jobs' p99 under attack.
const P99_BUDGET: f64 = 1.2;

const HELLO: &str = r#"{"inputs": {"name": "World"}}"#;

/// Runs the benchmark on every CPU, then pinned to CPU 0.
pub(crate) async fn run(quick: bool) -> Result<()> {
    crate::http::build_wades()?;
    let jobs = if quick { 200 } else { 1000 };
    println!("\n## hostile: good hello-world jobs (sync, one client) under hostile load ({ATTACKERS} attackers: {})", ATTACKS.join(", "));
    println!(
        "server config: {}; the attackers' tenant: wades {}",
        CONFIG.trim().replace('\n', "; "),
        HOSTILE_QUOTA.join(" ")
    );
    println!("\n| CPUs | solo p50 | solo p99 | loaded p50 | loaded p99 | p99 ratio | hostile jobs (failed as they should) | RSS idle / max | server |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut missed = Vec::new();
    for (label, cpus) in [("all", None), ("1 (taskset -c 0)", Some("0"))] {
        let row = one(jobs, cpus).await?;
        println!(
            "| {label} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}x | {} ({}) | {} / {} MiB | {} |",
            row.solo.0,
            row.solo.1,
            row.loaded.0,
            row.loaded.1,
            row.loaded.1 / row.solo.1,
            row.hostile_total,
            row.hostile_failed,
            row.solo_rss >> 20,
            row.max_rss >> 20,
            if row.alive { "alive" } else { "DIED" }
        );
        for (attack, outcomes) in &row.outcomes {
            println!("|   {attack} | {outcomes} |||||||");
        }
        if !row.alive {
            bail!("the server died under hostile load ({label})");
        }
        // What the server may hold beyond its idle self: every worker's
        // guest at its memory limit, and as much again for everything else.
        let bound = row.solo_rss + (WORKERS + 1) * GUEST_MEMORY;
        if row.max_rss > bound {
            bail!(
                "memory is not bounded ({label}): {} MiB under attack, {} MiB idle",
                row.max_rss >> 20,
                row.solo_rss >> 20
            );
        }
        if row.loaded.1 / row.solo.1 > P99_BUDGET {
            missed.push(label);
        }
    }
    if missed.is_empty() {
        println!("\ngood jobs' p99 within {P99_BUDGET}x of solo: met");
    } else {
        println!(
            "\ngood jobs' p99 within {P99_BUDGET}x of solo: MISSED ({})",
            missed.join(", ")
        );
    }
    Ok(())
}

struct Row {
    solo: (f64, f64),
    loaded: (f64, f64),
    hostile_total: u64,
    hostile_failed: u64,
    outcomes: BTreeMap<String, String>,
    max_rss: u64,
    solo_rss: u64,
    alive: bool,
}

async fn one(jobs: usize, cpus: Option<&str>) -> Result<Row> {
    let (mut server, keys) = Wades::start(&Options {
        tenants: &[("alice", "user"), ("mallory", "developer")],
        setup: &[HOSTILE_QUOTA],
        config: CONFIG,
        cpus,
    })?;
    let base = server.base.clone();
    let (good, bad) = (client(&keys[0])?, client(&keys[1])?);
    deploy(&bad, &base, "hostile", "hostile").await?;
    timed(&good, &base, 100).await?;
    let solo = percentiles(timed(&good, &base, jobs).await?);
    let solo_rss = server.rss();

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<BTreeMap<String, BTreeMap<String, u64>>>> = Default::default();
    let (total, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut attackers = Vec::new();
    for a in 0..ATTACKERS {
        let (bad, base, stop) = (bad.clone(), base.clone(), stop.clone());
        let (outcomes, total, failed) = (outcomes.clone(), total.clone(), failed.clone());
        attackers.push(tokio::spawn(async move {
            let mut n = a;
            while !stop.load(Ordering::Relaxed) {
                let attack = ATTACKS[n % ATTACKS.len()];
                n += 1;
                let outcome = attack_once(&bad, &base, attack).await?;
                total.fetch_add(1, Ordering::Relaxed);
                if outcome.starts_with("failed") {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                *outcomes
                    .lock()
                    .unwrap()
                    .entry(attack.to_string())
                    .or_default()
                    .entry(outcome)
                    .or_default() += 1;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    // Let the queue fill before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let max_rss = AtomicU64::new(server.rss());
    let mut loaded_ms = Vec::new();
    let started = Instant::now();
    // In chunks, so that memory is sampled all along.
    for chunk in 0..10 {
        loaded_ms.extend(timed(&good, &base, jobs / 10).await?);
        max_rss.fetch_max(server.rss(), Ordering::Relaxed);
        ensure!(server.alive(), "the server died after {chunk} chunks");
    }
    // At least one of every attack ran while the good jobs were timed.
    while outcomes.lock().unwrap().len() < ATTACKS.len()
        && started.elapsed() < Duration::from_secs(120)
    {
        max_rss.fetch_max(server.rss(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await??;
    }
    let outcomes = outcomes
        .lock()
        .unwrap()
        .iter()
        .map(|(attack, o)| {
            let text = o
                .iter()
                .map(|(k, v)| format!("{v}× {k}"))
                .collect::<Vec<_>>()
                .join(", ");
            (attack.clone(), text)
        })
        .collect();
    Ok(Row {
        solo,
        loaded: percentiles(loaded_ms),
        hostile_total: total.load(Ordering::Relaxed),
        hostile_failed: failed.load(Ordering::Relaxed),
        outcomes,
        max_rss: max_rss.load(Ordering::Relaxed),
        solo_rss,
        alive: server.alive(),
    })
}

/// One hostile job, submitted async and followed to its end: "failed
/// (<exception type>)" as it should be, or what else happened.
async fn attack_once(c: &reqwest::Client, base: &str, attack: &str) -> Result<String> {
    let r = c
        .post(format!("{base}/processes/hostile/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"attack": attack}}))
        .send()
        .await?;
    if r.status() == 429 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Ok("refused (429, queue full)".into());
    }
    ensure!(r.status() == 201, "submitting {attack}: {}", r.status());
    let job = r.headers()["location"].to_str()?.to_string();
    loop {
        let status: Value = c.get(&job).send().await?.json().await?;
        match status["status"].as_str() {
            Some("failed") => {
                let e: Value = c.get(format!("{job}/results")).send().await?.json().await?;
                let kind = e["type"]
                    .as_str()
                    .unwrap_or("?")
                    .rsplit('/')
                    .next()
                    .unwrap_or("?");
                return Ok(format!("failed ({kind})"));
            }
            Some(s @ ("successful" | "dismissed")) => return Ok(s.to_string()),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// `n` sync hello-world executions one after another: latencies in ms.
pub(crate) async fn timed(c: &reqwest::Client, base: &str, n: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = c
            .post(format!("{base}/processes/hello-world/execution"))
            .header("Content-Type", "application/json")
            .body(HELLO)
            .send()
            .await?;
        ensure!(r.status() == 200, "hello-world answered {}", r.status());
        r.bytes().await?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(out)
}

/// (p50, p99) of `v`.
fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (quantile(&v, 0.5), quantile(&v, 0.99))
}
