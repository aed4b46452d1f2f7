//! What protects the server, as a client sees it: the per-identity rate
//! limit, retention of old jobs, security headers, CORS, and the limits on
//! request headers and request time, each answered with an OGC exception.

mod common;

use common::{cli, client, exception, Server};

use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[test]
fn the_rate_limit_is_per_identity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    cli(&data, &["tenant", "add", "alice"]);
    let key = cli(&data, &["key", "create", "alice"]).trim().to_string();
    let s = Server::start_env(
        &dir,
        &[
            ("WADES_RATE_LIMIT_PER_SECOND", "1"),
            ("WADES_RATE_LIMIT_BURST", "3"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(
            client()
                .get(s.url("/processes"))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
    let r = client().get(s.url("/jobs")).send().unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body = exception(r, 429, "rate-limited");
    assert!(
        body["detail"].as_str().unwrap().contains("1 per second"),
        "{body}"
    );
    // Another identity has its own bucket.
    let alice = client()
        .get(s.url("/processes"))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(alice.status().as_u16(), 200);
    // The bucket refills.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        client()
            .get(s.url("/processes"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn final_jobs_are_deleted_after_the_retention_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_env(&dir, &[("WADES_RETENTION", "2s")]);
    let r = client()
        .post(s.url("/processes/echo/execution"))
        .json(&json!({"inputs": {"stringInput": "keep me briefly"}}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let link = r.headers()["link"].to_str().unwrap().to_string();
    let job = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let id = job.rsplit('/').next().unwrap().to_string();
    assert_eq!(client().get(&job).send().unwrap().status().as_u16(), 200);
    assert_eq!(
        client()
            .get(format!("{job}/results"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let start = Instant::now();
    loop {
        let r = client().get(&job).send().unwrap();
        if r.status().as_u16() == 404 {
            exception(r, 404, "no-such-job");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "job still there after 15 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    exception(
        client().get(format!("{job}/results")).send().unwrap(),
        404,
        "no-such-job",
    );
    exception(
        client().get(format!("{job}/logs")).send().unwrap(),
        404,
        "no-such-job",
    );
    let listed: Value = client()
        .get(s.url("/jobs?limit=100"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        !listed.to_string().contains(&id),
        "the job is gone from the list"
    );
    assert!(
        !s.data.join("jobs").join(&id).exists(),
        "its files are gone"
    );
}

#[test]
fn responses_carry_security_headers_and_no_cors_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    for path in ["/", "/processes", "/nowhere"] {
        let r = client()
            .get(s.url(path))
            .header("Origin", "https://evil.example")
            .send()
            .unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'"),
            "{path}"
        );
        assert!(
            h.get("access-control-allow-origin").is_none(),
            "{path}: no CORS unless configured"
        );
    }
    // Headers beyond the limit (16 KiB by default): 431 as an exception.
    let r = client()
        .get(s.url("/processes"))
        .header("X-Padding", "a".repeat(20_000))
        .send()
        .unwrap();
    exception(r, 431, "headers-too-large");
}

#[test]
fn cors_admits_configured_origins_and_slow_requests_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_env(
        &dir,
        &[
            ("WADES_CORS_ORIGINS", "https://app.example.org"),
            ("WADES_REQUEST_TIMEOUT_SECONDS", "1"),
        ],
    );
    let preflight = client()
        .request(reqwest::Method::OPTIONS, s.url("/processes/echo/execution"))
        .header("Origin", "https://app.example.org")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, prefer",
        )
        .send()
        .unwrap();
    assert!(preflight.status().is_success());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.org");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("authorization"));
    let r = client()
        .get(s.url("/jobs"))
        .header("Origin", "https://app.example.org")
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    assert!(r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("location"));
    let r = client()
        .get(s.url("/jobs"))
        .header("Origin", "https://other.example")
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // A sync job longer than the request time limit: 503 with an exception
    // body, and the job goes on.
    let started = Instant::now();
    let r = client()
        .post(s.url("/processes/echo/execution"))
        .json(&json!({"inputs": {"stringInput": "slow", "pause": 3}}))
        .send()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "answered at the limit"
    );
    let body = exception(r, 503, "request-timeout");
    assert!(
        body["detail"].as_str().unwrap().contains("respond-async"),
        "{body}"
    );
}
