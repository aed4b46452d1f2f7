//! Callbacks: a job's `subscriber` URLs hear, from the real binary, that the
//! job runs, how it ended (results or exception), again after the receiver
//! failed at first, and never when the URL is one the fetcher refuses.

mod common;

use common::{client, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// One POST the receiver got.
#[derive(Debug)]
struct Call {
    path: String,
    content_type: String,
    body: Value,
}

/// A local HTTP receiver: records every request, and answers 503 to the
/// first `fail_first` requests whose path contains `flaky`, 204 otherwise.
fn receiver(fail_first: usize) -> (String, Receiver<Call>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut failed = 0;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or_default();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "content-type" => content_type = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if path.contains("flaky") && failed < fail_first {
                failed += 1;
                "503 Service Unavailable"
            } else {
                "204 No Content"
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(Call {
                path,
                content_type,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
        }
    });
    (base, rx)
}

fn execute(s: &Server, process: &str, body: Value) -> Value {
    let r = client()
        .post(s.url(&format!("/processes/{process}/execution")))
        .header("Prefer", "respond-async")
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().unwrap()
}

fn next(rx: &Receiver<Call>) -> Call {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("a callback within 30 s")
}

#[test]
fn subscribers_hear_running_success_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (base, rx) = receiver(0);
    let job = execute(
        &s,
        "echo",
        json!({"inputs": {"stringInput": "called back", "pause": 0.3},
               "subscriber": {"successUri": format!("{base}/done"),
                              "inProgressUri": format!("{base}/running"),
                              "failedUri": format!("{base}/failed")}}),
    );
    let running = next(&rx);
    assert_eq!(running.path, "/running");
    assert_eq!(running.content_type, "application/json");
    assert_eq!(running.body["jobID"], job["jobID"]);
    assert_eq!(running.body["status"], "running");
    let done = next(&rx);
    assert_eq!(done.path, "/done");
    // The results document, as GET …/results serves it.
    assert_eq!(done.body["stringInput"], "called back", "{:?}", done.body);
    let results: Value = client()
        .get(s.url(&format!("/jobs/{}/results", job["jobID"].as_str().unwrap())))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(done.body, results);

    // A TIFF that is none fails the job: failedUri gets the exception.
    let job = execute(
        &s,
        "normalized-difference",
        json!({"inputs": {"a": {"value": "bm90IGEgdGlmZg==", "encoding": "base64",
                                "mediaType": "image/tiff; application=geotiff"},
                          "b": {"value": "bm90IGEgdGlmZg==", "encoding": "base64",
                                "mediaType": "image/tiff; application=geotiff"}},
               "subscriber": {"successUri": format!("{base}/done"),
                              "failedUri": format!("{base}/failed")}}),
    );
    let failed = next(&rx);
    assert_eq!(failed.path, "/failed", "{:?}", failed.body);
    assert!(failed.body["type"].is_string(), "{:?}", failed.body);
    assert!(failed.body["detail"].is_string(), "{:?}", failed.body);
    let status: Value = client()
        .get(s.url(&format!("/jobs/{}", job["jobID"].as_str().unwrap())))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["status"], "failed");
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
}

#[test]
fn delivery_is_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (base, rx) = receiver(2);
    execute(
        &s,
        "echo",
        json!({"inputs": {"stringInput": "again"},
               "subscriber": {"successUri": format!("{base}/flaky")}}),
    );
    let attempts: Vec<Call> = (0..3).map(|_| next(&rx)).collect();
    assert!(attempts.iter().all(|c| c.path == "/flaky"));
    assert!(attempts.iter().all(|c| c.body["stringInput"] == "again"));
    // Delivered on the third try: no fourth.
    assert!(rx.recv_timeout(Duration::from_secs(3)).is_err());
}

#[test]
fn refused_addresses_are_never_called() {
    let dir = tempfile::tempdir().unwrap();
    // Without the tests' loopback allowance.
    let s = Server::start_env(&dir, &[("WADES_FETCH_ALLOW", "")]);
    let (base, rx) = receiver(0);
    let job = execute(
        &s,
        "echo",
        json!({"inputs": {"stringInput": "x"},
               "subscriber": {"successUri": format!("{base}/done")}}),
    );
    let status = common::wait_final(
        &s.url(&format!("/jobs/{}", job["jobID"].as_str().unwrap())),
        Duration::from_secs(30),
    );
    assert_eq!(status["status"], "successful");
    assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());
    // Not even a URL that is no http(s) one is accepted.
    let r = client()
        .post(s.url("/processes/echo/execution"))
        .json(&json!({"inputs": {}, "subscriber": {"successUri": "file:///etc/passwd"}}))
        .send()
        .unwrap();
    common::exception(r, 400, "invalid-parameter");
}
