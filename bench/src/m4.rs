//! M4: the async pipeline in jobs/s on PostgreSQL, with one and with two
//! wades nodes, side by side with SQLite on one node, in the same run.
//!
//! Each configuration gets a fresh database and runs M3's load: 32 clients
//! submit `echo` jobs (`Prefer: respond-async`), spread over the nodes, and
//! the clock stops when none is open any more. Every node has the role
//! `all`: it accepts submissions and runs jobs, so the second node adds
//! both. The PostgreSQL server is the one `cargo xtask bench` starts
//! (`WADES_BENCH_DATABASE`, an admin URL); without it M4 is skipped.

use crate::http::{m3_on, start_server, verdict};
use anyhow::{ensure, Context, Result};
use std::process::Command;

/// Runs M4 and prints its table.
pub async fn run(quick: bool) -> Result<()> {
    let Some(admin) = std::env::var("WADES_BENCH_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("\n## M4: skipped (WADES_BENCH_DATABASE unset; `cargo xtask bench m4` sets it)");
        return Ok(());
    };
    crate::http::build_wades()?;
    let jobs = if quick { 2_000 } else { 10_000 };
    println!("\n## M4: {jobs} async echo jobs from 32 clients, by database and nodes");
    let mut rows = Vec::new();
    for (label, nodes, pg) in [
        ("SQLite, 1 node", 1, false),
        ("PostgreSQL, 1 node", 1, true),
        ("PostgreSQL, 2 nodes", 2, true),
    ] {
        let database = if pg { Some(create(&admin)?) } else { None };
        let mut env = vec![("RUST_LOG", "warn")];
        if let Some(url) = &database {
            env.push(("WADES_DATABASE", url.as_str()));
        }
        let servers = (0..nodes)
            .map(|_| start_server(&env))
            .collect::<Result<Vec<_>>>()?;
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        let (a50, a99, jps) = m3_on(&bases, jobs).await?;
        drop(servers);
        rows.push((label, a50, a99, jps));
    }
    println!(
        "{:<24} {:>10} {:>14} {:>14}",
        "configuration", "jobs/s", "accept p50 ms", "accept p99 ms"
    );
    for (label, a50, a99, jps) in &rows {
        println!("{label:<24} {jps:>10.0} {a50:>14.2} {a99:>14.2}");
    }
    let sqlite = rows[0].3;
    let (pg1, pg2) = (rows[1].3, rows[2].3);
    println!(
        "PostgreSQL 1 node / SQLite: {:.2}x; 2 nodes / 1 node: {:.2}x",
        pg1 / sqlite,
        pg2 / pg1
    );
    println!(
        "PostgreSQL, 2 nodes: {pg2:.0} jobs/s; target >= 2000: {}",
        verdict(pg2 >= 2000.0)
    );
    Ok(())
}

/// A new database on the server of `admin`; returns its URL.
fn create(admin: &str) -> Result<String> {
    let name = format!(
        "m4_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let ok = Command::new("psql")
        .args([admin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .context("running psql")?
        .success();
    ensure!(ok, "creating database {name} failed");
    let (server, _) = admin.rsplit_once('/').context("an admin URL")?;
    Ok(format!("{server}/{name}"))
}
