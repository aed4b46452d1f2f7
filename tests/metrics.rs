//! Observability as an operator sees it: `GET /metrics` counts jobs,
//! their durations, fuel and instantiations, and requests by route
//! template; only admins may read it unless it is made public; and with
//! JSON logs every line is a JSON object naming the job it is about.

mod common;

use common::{exception, tenant, As, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One sample of the exposition: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of an OpenMetrics / Prometheus text exposition.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a sample line");
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            // Label values may hold `}` and `,` (route templates do).
            let mut chars = inner.char_indices();
            let (mut key, mut value, mut in_value, mut escaped) =
                (String::new(), String::new(), false, false);
            let end = loop {
                let (i, c) = chars.next().expect("labels end");
                match (in_value, c) {
                    (true, _) if escaped => {
                        value.push(c);
                        escaped = false;
                    }
                    (true, '\\') => escaped = true,
                    (true, '"') => {
                        labels.insert(std::mem::take(&mut key), std::mem::take(&mut value));
                        in_value = false;
                    }
                    (true, c) => value.push(c),
                    (false, '}') => break i,
                    (false, '"') => in_value = true,
                    (false, ',' | '=') => {}
                    (false, c) => key.push(c),
                }
            };
            rest = &inner[end + 1..];
        }
        let value = rest.split_whitespace().next().expect("a value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The sum of the samples of `name` whose labels include `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|s| s.value)
        .sum()
}

impl As<'_> {
    fn scrape(&self) -> Vec<Sample> {
        let r = self.get("/metrics");
        assert_eq!(r.status(), 200);
        let media = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(media.starts_with("application/openmetrics-text"), "{media}");
        parse(&r.text().unwrap())
    }

    fn execute(&self, process: &str, inputs: Value, prefer_async: bool) -> Response {
        let mut r = self
            .req("POST", &format!("/processes/{process}/execution"))
            .json(&json!({ "inputs": inputs }));
        if prefer_async {
            r = r.header("Prefer", "respond-async");
        }
        r.send().unwrap()
    }

    /// Polls job `id` until it is final; returns it and the polls made.
    fn wait(&self, id: &str) -> (Value, usize) {
        let start = Instant::now();
        for polls in 1.. {
            let job: Value = self.get(&format!("/jobs/{id}")).json().unwrap();
            if matches!(job["status"].as_str(), Some("successful" | "failed")) {
                return (job, polls);
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{job}");
            std::thread::sleep(Duration::from_millis(50));
        }
        unreachable!()
    }
}

/// A job started with `Prefer: respond-async`: its id.
fn started(r: Response) -> String {
    assert_eq!(r.status(), 201);
    let job: Value = r.json().unwrap();
    job["jobID"].as_str().unwrap().to_string()
}

/// Not a TIFF: normalized-difference fails on it.
fn garbage() -> Value {
    json!({"value": "bm90IGEgdGlmZg==", "encoding": "base64",
           "mediaType": "image/tiff; application=geotiff"})
}

#[test]
fn jobs_and_requests_move_the_counters_by_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let ops_key = tenant(&data, "ops", "admin");
    let s = Server::start(&dir);
    let ops = As::key(&s, &ops_key);

    let before = ops.scrape();
    let d = |after: &[Sample], name: &str, labels: &[(&str, &str)]| {
        value(after, name, labels) - value(&before, name, labels)
    };
    // The built-in components were loaded when the server started.
    assert!(value(&before, "wades_module_load_seconds_count", &[]) >= 1.0);

    for _ in 0..2 {
        let r = ops.execute("hello-world", json!({"name": "World"}), false);
        assert_eq!(r.status(), 200);
    }
    let ok = started(ops.execute("hello-world", json!({"name": "async"}), true));
    let bad = started(ops.execute(
        "normalized-difference",
        json!({"a": garbage(), "b": garbage()}),
        true,
    ));
    let (job, ok_polls) = ops.wait(&ok);
    assert_eq!(job["status"], "successful", "{job}");
    let (job, bad_polls) = ops.wait(&bad);
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(ops.get("/no/such/thing").status(), 404);

    let after = ops.scrape();
    let hello = [("process", "hello-world")];
    let nd = [("process", "normalized-difference")];
    let finished = "wades_jobs_finished_total";
    assert_eq!(
        d(&after, finished, &[hello[0], ("status", "successful")]),
        3.0
    );
    assert_eq!(d(&after, finished, &[hello[0], ("status", "failed")]), 0.0);
    assert_eq!(d(&after, finished, &[nd[0], ("status", "failed")]), 1.0);
    assert_eq!(d(&after, finished, &[nd[0], ("status", "successful")]), 0.0);
    assert_eq!(d(&after, finished, &[]), 4.0);

    let durations = "wades_job_duration_seconds_count";
    assert_eq!(d(&after, durations, &hello), 3.0);
    assert_eq!(d(&after, durations, &nd), 1.0);
    assert!(d(&after, "wades_job_duration_seconds_sum", &hello) > 0.0);
    // Every job lands in exactly one bucket: +Inf holds them all.
    assert_eq!(
        d(
            &after,
            "wades_job_duration_seconds_bucket",
            &[hello[0], ("le", "+Inf")]
        ),
        3.0
    );
    assert!(d(&after, "wades_job_fuel_consumed_total", &hello) > 0.0);

    // One instance per job; nothing was loaded meanwhile.
    assert_eq!(d(&after, "wades_instantiation_seconds_count", &[]), 4.0);
    assert_eq!(d(&after, "wades_module_load_seconds_count", &[]), 0.0);

    assert_eq!(value(&after, "wades_jobs_queued", &[]), 0.0);
    assert_eq!(value(&after, "wades_jobs_running", &[]), 0.0);
    assert_eq!(value(&after, "wades_jobs_in_flight", &[]), 0.0);

    // Requests are counted by route template, never by path.
    let requests = "wades_http_requests_total";
    let execution = ("route", "/processes/{processId}/execution");
    let post = ("method", "POST");
    assert_eq!(
        d(&after, requests, &[post, execution, ("status", "200")]),
        2.0
    );
    assert_eq!(
        d(&after, requests, &[post, execution, ("status", "201")]),
        2.0
    );
    assert_eq!(
        d(
            &after,
            requests,
            &[
                ("method", "GET"),
                ("route", "/jobs/{jobId}"),
                ("status", "200")
            ]
        ),
        (ok_polls + bad_polls) as f64
    );
    assert_eq!(
        d(
            &after,
            requests,
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    // The first scrape, counted once it was answered.
    assert_eq!(
        d(
            &after,
            requests,
            &[("route", "/metrics"), ("status", "200")]
        ),
        1.0
    );
    for sample in after.iter().filter(|s| s.name == requests) {
        let route = &sample.labels["route"];
        assert!(
            !route.contains(&ok) && !route.contains(&bad) && !route.contains("hello-world"),
            "a path, not a template: {route}"
        );
    }
}

#[test]
fn only_admins_read_metrics_unless_they_are_public() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let bob = tenant(&data, "bob", "user");
    let dev = tenant(&data, "dev", "developer");
    let s = Server::start(&dir);
    exception(As::anonymous(&s).get("/metrics"), 401, "unauthorized");
    exception(As::key(&s, &bob).get("/metrics"), 403, "forbidden");
    exception(As::key(&s, &dev).get("/metrics"), 403, "forbidden");
    drop(s);

    let public = tempfile::tempdir().unwrap();
    let s = Server::start_env(&public, &[("WADES_METRICS_PUBLIC", "true")]);
    let samples = As::anonymous(&s).scrape();
    assert!(samples.iter().any(|s| s.name == "wades_jobs_queued"));
    drop(s);

    let off = tempfile::tempdir().unwrap();
    let config = off.path().join("wades.toml");
    std::fs::write(&config, "[metrics]\nenabled = false\n").unwrap();
    let s = Server::start_env(&off, &[("WADES_CONFIG", config.to_str().unwrap())]);
    exception(As::anonymous(&s).get("/metrics"), 404, "not-found");
}

#[test]
fn json_logs_name_the_job_and_process_of_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_env(
        &dir,
        &[
            ("WADES_LOG_FORMAT", "json"),
            ("RUST_LOG", "wades=debug,warn"),
        ],
    );
    let anon = As::anonymous(&s);
    let id = started(anon.execute("hello-world", json!({"name": "logs"}), true));
    let (job, _) = anon.wait(&id);
    assert_eq!(job["status"], "successful", "{job}");

    let log = std::fs::read_to_string(s.data.join("server.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    let of_job: Vec<&Value> = lines.iter().filter(|l| l["span"]["job"] == id).collect();
    assert!(!of_job.is_empty(), "no line names job {id}:\n{log}");
    for line in of_job {
        assert_eq!(line["span"]["process"], "hello-world", "{line}");
        assert!(line["message"].is_string(), "{line}");
    }
}
