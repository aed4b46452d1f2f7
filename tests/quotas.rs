//! Per-tenant quotas and fair scheduling over HTTP: defaults from the
//! config file, a tenant's own quota set with `wades tenant quota` or by an
//! admin at `/admin/tenants/{id}/quota`; 429 + Retry-After for what passes
//! with time, 413/507 for storage, clamped fuel and memory per job; and
//! one tenant's long queue does not hold back another's job.

mod common;

use common::{cli, exception, guests, tenant, As, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// `wades tenant quota ...` while the server runs; the server trusts its
/// memory of a tenant's quota for up to a second
/// (`wades::tenancy::quota::OWN_QUOTA_TTL`), so wait that out.
fn quota_cli(data: &Path, args: &[&str]) -> String {
    let out = cli(data, args);
    std::thread::sleep(Duration::from_millis(1100));
    out
}

impl As<'_> {
    /// Executes `process` with `inputs`, async or sync.
    fn execute(&self, process: &str, inputs: Value, run_async: bool) -> Response {
        let mut r = self
            .req("POST", &format!("/processes/{process}/execution"))
            .json(&json!({"inputs": inputs}));
        if run_async {
            r = r.header("Prefer", "respond-async");
        }
        r.send().unwrap()
    }

    /// Queues a paused echo and returns the job's path.
    fn queue_echo(&self, pause: f64) -> String {
        let r = self.execute("echo", json!({"stringInput": "x", "pause": pause}), true);
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
        path_of(&self.server.base, r.headers()["location"].to_str().unwrap())
    }

    fn status(&self, job: &str) -> String {
        let doc: Value = self.req("GET", job).send().unwrap().json().unwrap();
        doc["status"].as_str().unwrap().to_string()
    }

    fn deploy(&self, id: &str) -> Response {
        let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
        self.req("POST", &format!("/processes?id={id}"))
            .header("Content-Type", "application/wasm")
            .body(wasm)
            .send()
            .unwrap()
    }
}

fn path_of(base: &str, url: &str) -> String {
    url.strip_prefix(base).unwrap().to_string()
}

/// Checks a 429 with a Retry-After of at most `max` seconds.
fn too_many(r: Response, kind: &str, max: u64) -> Value {
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=max).contains(&retry), "Retry-After {retry}");
    exception(r, 429, kind)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn quotas_refuse_what_is_over_and_clamp_what_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("wades.toml");
    std::fs::write(&config, "[quotas]\nmax_queued = 2\n").unwrap();
    let alice_key = tenant(&data, "alice", "developer");
    let bob_key = tenant(&data, "bob", "user");
    let ops_key = tenant(&data, "ops", "admin");
    let dave_key = tenant(&data, "dave", "user");
    let erin_key = tenant(&data, "erin", "user");
    let s = Server::start_env(
        &dir,
        &[
            ("WADES_CONFIG", config.to_str().unwrap()),
            ("WADES_RUNNING_JOBS", "1"),
        ],
    );
    let alice = As::key(&s, &alice_key);
    let bob = As::key(&s, &bob_key);
    let ops = As::key(&s, &ops_key);
    let dave = As::key(&s, &dave_key);
    let erin = As::key(&s, &erin_key);
    let anon = As::anonymous(&s);

    // Queued jobs: the default quota of 2 from [quotas].
    let running = alice.queue_echo(60.0);
    wait_until("alice's first job runs", Duration::from_secs(20), || {
        alice.status(&running) == "running"
    });
    let queued = [alice.queue_echo(60.0), alice.queue_echo(60.0)];
    let body = too_many(
        alice.execute("echo", json!({"stringInput": "x"}), true),
        "quota-exceeded",
        60,
    );
    assert!(
        body["detail"].as_str().unwrap().contains("2 queued"),
        "{body}"
    );
    // Someone else's queue is their own.
    let bobs = bob.queue_echo(0.0);

    // An admin raises alice's own quota; the rest follows the defaults.
    let doc: Value = ops
        .req("GET", "/admin/tenants/alice/quota")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["effective"]["max_queued"], 2);
    assert_eq!(doc["quota"]["max_queued"], Value::Null);
    let r = ops
        .req("PUT", "/admin/tenants/alice/quota")
        .json(&json!({"max_queued": 3}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let doc: Value = r.json().unwrap();
    assert_eq!(
        (
            doc["quota"]["max_queued"].as_u64(),
            doc["effective"]["max_queued"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let third = alice.queue_echo(60.0);
    too_many(
        alice.execute("echo", json!({"stringInput": "x"}), true),
        "quota-exceeded",
        60,
    );
    // Admins only, and only quota documents.
    exception(
        bob.req("GET", "/admin/tenants/alice/quota").send().unwrap(),
        403,
        "forbidden",
    );
    exception(
        alice
            .req("PUT", "/admin/tenants/alice/quota")
            .json(&json!({"max_queued": 99}))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    exception(
        anon.req("GET", "/admin/tenants/alice/quota")
            .send()
            .unwrap(),
        401,
        "unauthorized",
    );
    exception(
        ops.req("PUT", "/admin/tenants/alice/quota")
            .json(&json!({"max_queud": 9}))
            .send()
            .unwrap(),
        400,
        "invalid-parameter",
    );
    exception(
        ops.req("PUT", "/admin/tenants/alice/quota")
            .body("[1]")
            .send()
            .unwrap(),
        400,
        "invalid-parameter",
    );
    for job in queued.iter().chain([&running, &third, &bobs]) {
        alice.req("DELETE", job).send().unwrap();
        bob.req("DELETE", job).send().unwrap();
    }

    // Running jobs, set with the CLI while the server runs: a sync job
    // beyond the quota is refused rather than left waiting.
    quota_cli(&data, &["tenant", "quota", "bob", "--max-running", "0"]);
    let body = too_many(
        bob.execute("hello-world", json!({"name": "b"}), false),
        "quota-exceeded",
        60,
    );
    assert!(
        body["detail"].as_str().unwrap().contains("running"),
        "{body}"
    );
    let shown = quota_cli(&data, &["tenant", "quota", "bob", "--clear"]);
    assert!(shown.contains("\"max_running\":null"), "{shown}");
    assert_eq!(
        bob.execute("hello-world", json!({"name": "b"}), false)
            .status()
            .as_u16(),
        200
    );

    // Fuel and memory per job cap what a job gets.
    quota_cli(&data, &["tenant", "quota", "bob", "--fuel-per-job", "1000"]);
    let body = exception(
        bob.execute("hello-world", json!({"name": "b"}), false),
        500,
        "out-of-fuel",
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("fuel after 1000 units"),
        "{body}"
    );
    quota_cli(&data, &["tenant", "quota", "bob", "--clear"]);
    quota_cli(
        &data,
        &["tenant", "quota", "bob", "--memory-per-job", "65536"],
    );
    let body = exception(
        bob.execute("hello-world", json!({"name": "b"}), false),
        500,
        "memory-limit",
    );
    assert!(body["detail"].as_str().unwrap().contains("65536"), "{body}");
    quota_cli(&data, &["tenant", "quota", "bob", "--clear"]);

    // Fuel per day: the job that spends it runs; the next waits for
    // midnight UTC. Bob has burnt fuel today already.
    quota_cli(&data, &["tenant", "quota", "bob", "--fuel-per-day", "1"]);
    too_many(
        bob.execute("hello-world", json!({"name": "b"}), false),
        "quota-exceeded",
        86_400,
    );
    quota_cli(&data, &["tenant", "quota", "bob", "--clear"]);
    quota_cli(&data, &["tenant", "quota", "dave", "--fuel-per-day", "1"]);
    assert_eq!(
        dave.execute("hello-world", json!({"name": "d"}), false)
            .status()
            .as_u16(),
        200
    );
    for run_async in [false, true] {
        let body = too_many(
            dave.execute("hello-world", json!({"name": "d"}), run_async),
            "quota-exceeded",
            86_400,
        );
        assert!(body["detail"].as_str().unwrap().contains("fuel"), "{body}");
    }

    // Result storage: one result larger than the quota is 413, a full
    // quota 507; the job fails and keeps nothing.
    quota_cli(&data, &["tenant", "quota", "erin", "--result-bytes", "10"]);
    exception(
        erin.execute("echo", json!({"stringInput": "more than ten bytes"}), false),
        413,
        "payload-too-large",
    );
    quota_cli(
        &data,
        &["tenant", "quota", "erin", "--result-bytes", "1500"],
    );
    let big = "x".repeat(800);
    assert_eq!(
        erin.execute("echo", json!({"stringInput": big}), false)
            .status()
            .as_u16(),
        200
    );
    exception(
        erin.execute("echo", json!({"stringInput": big}), false),
        507,
        "storage-quota-exceeded",
    );
    let failed: Value = erin
        .req("GET", "/jobs?status=failed")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let job = failed["jobs"][0]["jobID"].as_str().unwrap().to_string();
    let results = erin
        .req("GET", &format!("/jobs/{job}/results"))
        .send()
        .unwrap();
    exception(results, 507, "storage-quota-exceeded");
    // Full before it starts: refused at once, async too.
    quota_cli(&data, &["tenant", "quota", "erin", "--result-bytes", "800"]);
    exception(
        erin.execute("echo", json!({"stringInput": "x"}), true),
        507,
        "storage-quota-exceeded",
    );

    // Deployed components: one larger than the quota is 413, a full quota 507.
    let size = std::fs::metadata(guests().join("hello-world.wasm"))
        .unwrap()
        .len();
    quota_cli(
        &data,
        &[
            "tenant",
            "quota",
            "alice",
            "--module-bytes",
            &(size - 1).to_string(),
        ],
    );
    exception(alice.deploy("alices-a"), 413, "payload-too-large");
    quota_cli(
        &data,
        &[
            "tenant",
            "quota",
            "alice",
            "--module-bytes",
            &(size + 10).to_string(),
        ],
    );
    assert_eq!(alice.deploy("alices-a").status().as_u16(), 201);
    exception(alice.deploy("alices-b"), 507, "storage-quota-exceeded");
    // Replacing counts the new component instead of the old one.
    let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
    let r = alice
        .req("PUT", "/processes/alices-a")
        .header("Content-Type", "application/wasm")
        .body(wasm)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        alice
            .req("DELETE", "/processes/alices-a")
            .send()
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        alice.deploy("alices-b").status().as_u16(),
        201,
        "undeploying frees the room"
    );
}

#[test]
fn one_tenants_queue_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let alice_key = tenant(&data, "alice", "user");
    let bob_key = tenant(&data, "bob", "user");
    let s = Server::start_env(&dir, &[("WADES_RUNNING_JOBS", "2")]);
    let alice = As::key(&s, &alice_key);
    let bob = As::key(&s, &bob_key);

    let alices: Vec<String> = (0..8).map(|_| alice.queue_echo(2.0)).collect();
    wait_until("two of alice's jobs run", Duration::from_secs(20), || {
        alices
            .iter()
            .filter(|j| alice.status(j) == "running")
            .count()
            == 2
    });
    let bobs = bob.queue_echo(0.0);
    wait_until("bob's job ends", Duration::from_secs(30), || {
        matches!(bob.status(&bobs).as_str(), "successful" | "failed")
    });
    assert_eq!(bob.status(&bobs), "successful");
    let waiting = alices
        .iter()
        .filter(|j| alice.status(j) == "accepted")
        .count();
    assert!(
        waiting >= 4,
        "bob's job waited for alice's queue: only {waiting} of hers still queued"
    );
    for job in &alices {
        alice.req("DELETE", job).send().unwrap();
    }

    // A tenant capped at one running job waits for it, with slots to spare.
    quota_cli(&data, &["tenant", "quota", "bob", "--max-running", "1"]);
    let two = [bob.queue_echo(1.5), bob.queue_echo(1.5)];
    wait_until("bob's first job runs", Duration::from_secs(20), || {
        bob.status(&two[0]) == "running"
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        bob.status(&two[1]),
        "accepted",
        "the second waits for the first"
    );
    wait_until("both of bob's jobs end", Duration::from_secs(20), || {
        two.iter().all(|j| bob.status(j) == "successful")
    });
}
