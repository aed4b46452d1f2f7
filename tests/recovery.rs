//! Durability: a server killed with SIGKILL loses no job.

mod common;

use common::{client, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[test]
fn after_kill_9_every_job_reaches_a_final_state_with_its_results() {
    let dir = tempfile::tempdir().unwrap();
    // Four at a time, 50 ms each: the 200 jobs take about 2.5 s, so the
    // kill below lands mid-run.
    let mut s = Server::start_env(&dir, &[("WADES_RUNNING_JOBS", "4")]);
    let c = client();
    let mut ids = Vec::new();
    for i in 0..200 {
        let body = json!({"inputs": {"stringInput": format!("job {i}"), "pause": 0.05}});
        let r = c
            .post(s.url("/processes/echo/execution"))
            .header("Prefer", "respond-async")
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        ids.push((
            i,
            r.json::<Value>().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    // Let some finish and some run, then pull the plug.
    std::thread::sleep(Duration::from_millis(600));
    let before: Value = c
        .get(s.url("/jobs?status=successful&limit=1000"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let done_before = before["jobs"].as_array().unwrap().len();
    assert!(
        done_before > 0 && done_before < 200,
        "the kill lands mid-run ({done_before} done)"
    );
    s.kill9();

    let s = Server::start_with(&s.data.clone(), &[]);
    let started = Instant::now();
    loop {
        let open: Value = c
            .get(s.url("/jobs?status=accepted,running&limit=1000"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if open["jobs"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "jobs still open after restart: {}",
            open["jobs"].as_array().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut successful = 0;
    for (i, id) in &ids {
        let status: Value = c
            .get(s.url(&format!("/jobs/{id}")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        match status["status"].as_str().unwrap() {
            "successful" => {
                successful += 1;
                let results: Value = c
                    .get(s.url(&format!("/jobs/{id}/results")))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                assert_eq!(
                    results["stringInput"],
                    format!("job {i}"),
                    "results survive the crash intact"
                );
            }
            "failed" => assert!(
                status["message"].as_str().unwrap().contains("restart"),
                "{status}"
            ),
            other => panic!("job {id} ended {other}"),
        }
    }
    assert!(
        successful >= done_before,
        "every job finished before the kill is still successful"
    );
    assert!(
        successful > 190,
        "interrupted jobs are resumed, not failed: {successful} of 200 successful"
    );
}
