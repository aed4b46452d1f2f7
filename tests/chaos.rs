//! Chaos: nodes killed with SIGKILL at random while they run jobs, and
//! restarted; no accepted job is lost, none ends twice, every result is
//! the right one.
//!
//! - On PostgreSQL (when `WADES_TEST_DATABASE` names a server, as in
//!   `cargo xtask test`'s second run): three nodes share one database.
//! - On SQLite (otherwise): one node, killed and restarted in place.
//!
//! 500 async `echo` jobs, each echoing its own text after a short pause,
//! are submitted to live nodes while 20 kills land; a submission a kill cut
//! short is retried, and only jobs whose 201 arrived count as accepted.
//! Then every accepted job must reach exactly one final state: successful
//! with its own text back, or failed because it was interrupted more often
//! than `max_attempts` allows. Every final state seen while polling must
//! never change afterwards, and on PostgreSQL the audit table the store's
//! trigger writes must show each job becoming final once.

mod common;

use common::database::{postgres, psql, url_for};
use common::{client, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const JOBS: usize = 500;
const KILLS: usize = 20;

/// A small deterministic generator, so a failing run can be replayed from
/// the seed it prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The nodes, each restartable on its own data folder.
struct Cluster {
    nodes: Vec<Option<Server>>,
    data: Vec<std::path::PathBuf>,
}

impl Cluster {
    fn start(data: Vec<std::path::PathBuf>) -> Cluster {
        let nodes = data.iter().map(|d| Some(node(d))).collect();
        Cluster { nodes, data }
    }

    fn live(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().unwrap()
    }

    fn kill_and_restart(&mut self, i: usize) {
        if let Some(mut s) = self.nodes[i].take() {
            s.kill9();
        }
        self.nodes[i] = Some(node(&self.data[i]));
    }
}

fn node(data: &std::path::Path) -> Server {
    Server::start_with(
        data,
        &[
            ("WADES_RUNNING_JOBS", "8"),
            // Enough attempts that the 20 kills rarely exhaust a job's.
            ("WADES_MAX_ATTEMPTS", "5"),
        ],
    )
}

#[test]
fn three_nodes_on_postgresql_lose_and_rewrite_no_job_under_kill_9() {
    let Some(_) = postgres() else {
        eprintln!("skipped: WADES_TEST_DATABASE is unset (cargo xtask test sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("node{i}")))
        .collect();
    // One database for the three: the first folder's, named in the others.
    let url = url_for(&data[0]).unwrap();
    for d in &data[1..] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("test-database.url"), &url).unwrap();
    }
    let cluster = Cluster::start(data);
    chaos(cluster);
    let rewritten = psql(
        &url,
        "SELECT COUNT(*) FROM (SELECT job_id FROM job_final_states \
         GROUP BY job_id HAVING COUNT(*) > 1) t",
    );
    assert_eq!(rewritten.trim(), "0", "no job became final twice");
    let open = psql(
        &url,
        "SELECT COUNT(*) FROM jobs WHERE status IN ('accepted', 'running')",
    );
    assert_eq!(
        open.trim(),
        "0",
        "no job, acknowledged or not, is left open"
    );
}

#[test]
fn one_node_on_sqlite_loses_and_rewrites_no_job_under_kill_9() {
    if postgres().is_some() {
        eprintln!("skipped: this run is on PostgreSQL (the SQLite run covers it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chaos(Cluster::start(vec![dir.path().join("node")]));
}

/// Submits the jobs while killing nodes, then checks every job's end.
fn chaos(mut cluster: Cluster) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("chaos seed {seed}");
    let mut rng = Rng(seed);
    let c = client();
    let n = cluster.nodes.len() as u64;
    // Kills spread over the submissions, at random jobs.
    let mut kill_at: Vec<usize> = (0..KILLS)
        .map(|_| rng.below(JOBS as u64) as usize)
        .collect();
    kill_at.sort();
    let mut accepted: HashMap<String, String> = HashMap::new();
    let mut kills = 0;
    for i in 0..JOBS {
        while kill_at.get(kills) == Some(&i) {
            cluster.kill_and_restart(rng.below(n) as usize);
            kills += 1;
        }
        let text = format!("chaos job {i} {}", rng.next());
        let body = json!({"inputs": {"stringInput": text, "pause": 0.02 + (rng.below(60) as f64) / 1000.0}});
        // A node killed under the request: try another (each try is a new
        // job, so only the acknowledged one counts).
        let id = loop {
            let s = cluster.live(rng.below(n) as usize);
            let sent = c
                .post(s.url("/processes/echo/execution"))
                .header("Prefer", "respond-async")
                .json(&body)
                .send();
            if let Ok(r) = sent {
                assert_eq!(r.status(), 201, "submission refused");
                break r.json::<Value>().unwrap()["jobID"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
        };
        accepted.insert(id, text);
    }
    assert_eq!(kills, KILLS);

    // Poll every job from the nodes in turn until all are final, noting
    // each final state the first time it is seen.
    let mut finals: HashMap<String, Value> = HashMap::new();
    let started = Instant::now();
    while finals.len() < accepted.len() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {} jobs still open after 5 minutes",
            accepted.len() - finals.len(),
            accepted.len()
        );
        for (k, id) in accepted.keys().enumerate() {
            if finals.contains_key(id) {
                continue;
            }
            let s = cluster.live(k % cluster.nodes.len());
            let job: Value = c
                .get(s.url(&format!("/jobs/{id}")))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if matches!(
                job["status"].as_str(),
                Some("successful" | "failed" | "dismissed")
            ) {
                finals.insert(id.clone(), job);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let mut successful = 0;
    for (k, (id, text)) in accepted.iter().enumerate() {
        let s = cluster.live(k % cluster.nodes.len());
        let job: Value = c
            .get(s.url(&format!("/jobs/{id}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let first = &finals[id];
        assert_eq!(
            job["status"], first["status"],
            "job {id}'s final state changed"
        );
        assert_eq!(job["finished"], first["finished"], "job {id} ended twice");
        match job["status"].as_str().unwrap() {
            "successful" => {
                successful += 1;
                let results: Value = c
                    .get(s.url(&format!("/jobs/{id}/results")))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                assert_eq!(results["stringInput"], *text, "job {id} has its own result");
            }
            "failed" => assert!(
                job["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("restart"),
                "job {id} failed other than by interruption: {job}"
            ),
            other => panic!("job {id} ended {other}"),
        }
    }
    eprintln!("{successful} of {} jobs successful", accepted.len());
    assert!(
        successful * 10 >= accepted.len() * 9,
        "interrupted jobs are resumed: only {successful} of {} successful",
        accepted.len()
    );
}
