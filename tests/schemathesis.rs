//! schemathesis (from PyPI, pinned in `tests/schemathesis/requirements.txt`)
//! against the real server's `/api`, once as each of two tenants, each of
//! which owns a deployed private process: every check schemathesis has,
//! every response within 2 s, zero failures. Afterwards each tenant's
//! process is still there, still private, whatever the other's run sent.

mod common;

use common::{guests, tenant, venv, wait_final_with, As, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Cases per operation and phase.
const EXAMPLES: &str = "25";
/// Fixed, so a failure found in CI is found again locally.
const SEED: &str = "20261122";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis")
}

fn schemathesis() -> PathBuf {
    venv::python("schemathesis-venv", &dir().join("requirements.txt"))
        .with_file_name("schemathesis")
}

/// Runs schemathesis against `s` with `key`; `Err` holds its report.
fn run(st: &Path, s: &Server, key: &str, work: &Path) -> Result<String, String> {
    let out_path = work.join("schemathesis.out");
    let mut child = Command::new(st)
        .arg("--config-file")
        .arg(dir().join("schemathesis.toml"))
        .arg("run")
        .arg(s.url("/api"))
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all"])
        .args(["--max-response-time", "2"])
        .args(["--max-examples", EXAMPLES])
        .args(["--seed", SEED])
        .args(["--workers", "2"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .args(["--no-color", "--output-truncate", "false"])
        .current_dir(work)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::from(
            std::fs::File::options()
                .append(true)
                .open(&out_path)
                .unwrap(),
        ))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", st.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("schemathesis failed ({s})\n{output}")),
        None => Err(format!(
            "schemathesis timed out after {RUN_TIMEOUT:?}\n{output}"
        )),
    }
}

impl As<'_> {
    /// (Re)deploys `id`, private (its owner's schemathesis run may have
    /// undeployed or replaced it), with a finished job, so that the job
    /// routes have a job to follow links to.
    fn ensure_private(&self, id: &str) {
        let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
        let _ = self
            .req("DELETE", &format!("/processes/{id}"))
            .send()
            .unwrap();
        let r = self
            .req("POST", &format!("/processes?id={id}"))
            .header("Content-Type", "application/wasm")
            .body(wasm)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{:?}", r.text());
        let r = self
            .req("POST", &format!("/processes/{id}/execution"))
            .header("Prefer", "respond-async")
            .json(&json!({"inputs": {"name": "schemathesis"}}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let job = r.headers()["location"].to_str().unwrap().to_string();
        let status = wait_final_with(&self.client(), &job, Duration::from_secs(30));
        assert_eq!(status["status"], "successful");
    }

    /// What the owner sees of process `id`: its package and visibility.
    fn state(&self, id: &str) -> (String, Value) {
        let package = self
            .get(&format!("/processes/{id}/package"))
            .text()
            .unwrap();
        let visibility = self
            .get(&format!("/processes/{id}/visibility"))
            .json()
            .unwrap();
        (package, visibility)
    }
}

#[test]
fn schemathesis_finds_no_failure_as_either_tenant() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let tenants = [
        ("alice", tenant(&data, "alice", "developer")),
        ("bob", tenant(&data, "bob", "developer")),
    ];
    // Fetches give up within the 2 s every response must keep to, should
    // the fuzzer make up a URL of a real host.
    let config = dir.path().join("wades.toml");
    std::fs::write(&config, "[fetch]\ntimeout_seconds = 1\n").unwrap();
    let s = Server::start_env(&dir, &[("WADES_CONFIG", config.to_str().unwrap())]);

    for (name, key) in &tenants {
        for (owner, owner_key) in &tenants {
            As::key(&s, owner_key).ensure_private(&format!("{owner}s-process"));
        }
        let others: Vec<_> = tenants
            .iter()
            .filter(|(other, _)| other != name)
            .map(|(other, key)| {
                let id = format!("{other}s-process");
                let state = As::key(&s, key).state(&id);
                (id, key, state)
            })
            .collect();
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        let start = Instant::now();
        match run(&st, &s, key, &work) {
            Ok(output) => {
                let summary: Vec<&str> = output.lines().rev().take(12).collect();
                eprintln!(
                    "schemathesis as {name} ({:.1?}):\n{}",
                    start.elapsed(),
                    summary.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            Err(report) => {
                let log = std::fs::read_to_string(s.data.join("server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "as {name}: {report}\n--- server.log (last lines)\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        // The other tenant's private process came through untouched.
        for (id, key, state) in others {
            assert_eq!(
                As::key(&s, key).state(&id),
                state,
                "{name}'s run changed {id}"
            );
            assert_eq!(state.1, json!({"visibility": "private"}));
        }
    }
}
