//! OGC API – Processes Part 1 over HTTP, against the real `wades` binary.

mod common;

use common::{client, serve_bytes, wait_final, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const OGC_EXC: &str = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/";

fn get(s: &Server, path: &str) -> (StatusCode, Value) {
    let r = client().get(s.url(path)).send().unwrap();
    let status = r.status();
    (status, r.json().unwrap_or(Value::Null))
}

fn post(s: &Server, path: &str, body: &Value, prefer: Option<&str>) -> reqwest::blocking::Response {
    let mut req = client().post(s.url(path)).json(body);
    if let Some(p) = prefer {
        req = req.header("Prefer", p);
    }
    req.send().unwrap()
}

/// The document behind the link `rel` of `doc`, if it has one.
fn follow(doc: &Value, rel: &str) -> Option<Value> {
    let link = doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)?;
    Some(
        client()
            .get(link["href"].as_str()?)
            .send()
            .unwrap()
            .json()
            .unwrap(),
    )
}

fn assert_exception(status: StatusCode, body: &Value, want_status: u16, kind: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert!(
        body["type"].as_str().unwrap().ends_with(kind),
        "type {} should end with {kind}",
        body["type"]
    );
    assert_eq!(body["status"], want_status);
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

#[test]
fn landing_page_conformance_and_api_definition() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, landing) = get(&s, "/");
    assert_eq!(status, StatusCode::OK);
    let links = landing["links"].as_array().unwrap();
    let desc = links
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .expect("service-desc link");
    assert_eq!(
        desc["type"], "application/vnd.oai.openapi+json;version=3.0",
        "what OWSLib looks for"
    );
    for rel in [
        "self",
        "service-doc",
        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
        "http://www.opengis.net/def/rel/ogc/1.0/processes",
        "http://www.opengis.net/def/rel/ogc/1.0/job-list",
    ] {
        assert!(links.iter().any(|l| l["rel"] == rel), "missing link {rel}");
    }

    let (_, conformance) = get(&s, "/conformance");
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for class in [
        "core",
        "ogc-process-description",
        "json",
        "job-list",
        "dismiss",
    ] {
        assert!(
            classes.contains(
                &format!("http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{class}")
                    .as_str()
            ),
            "1.0 {class}"
        );
        assert!(
            classes.contains(
                &format!("http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/{class}")
                    .as_str()
            ),
            "2.0 {class}"
        );
    }

    let api = client().get(s.url("/api")).send().unwrap();
    assert!(api.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/vnd.oai.openapi+json"));
    let api: Value = api.json().unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.0"));
    for path in [
        "/processes/{id}/execution",
        "/jobs/{jobId}",
        "/jobs/{jobId}/results",
    ] {
        assert!(
            api["paths"][path].is_object(),
            "the API definition documents {path}"
        );
    }
}

#[test]
fn processes_are_listed_paged_and_described() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (_, all) = get(&s, "/processes");
    let ids: Vec<&str> = all["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["echo", "hello-world", "normalized-difference", "otsu"]
    );
    assert!(
        all["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["mutable"] == false),
        "built-ins are immutable"
    );

    let (_, page) = get(&s, "/processes?limit=3");
    assert_eq!(page["processes"].as_array().unwrap().len(), 3);
    let rest = follow(&page, "next").expect("next link");
    assert_eq!(rest["processes"][0]["id"], "otsu");
    assert!(
        !rest["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next"),
        "no next on the last page"
    );

    let (status, echo) = get(&s, "/processes/echo");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echo["inputs"]["stringInput"]["schema"]["type"], "string");
    assert_eq!(echo["inputs"]["pause"]["schema"]["type"], "number");
    assert!(
        echo["outputs"]["stringInput"].is_object(),
        "outputs mirror inputs"
    );

    let (status, body) = get(&s, "/processes/nope");
    assert_exception(status, &body, 404, "no-such-process");
    let (status, body) = get(&s, "/processes?limit=zero");
    assert_exception(status, &body, 400, "invalid-parameter");
    // Any non-negative integer pages: found by schemathesis, which was
    // refused an offset beyond 2^32.
    let (status, page) = get(&s, "/processes?offset=355687428096000");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["processes"], json!([]));
    let (status, page) = get(&s, "/processes?limit=99999999999");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["processes"].as_array().unwrap().len(), 4);
    let (status, jobs) = get(&s, "/jobs?offset=99999999999&limit=99999999999");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["jobs"], json!([]));
}

#[test]
fn sync_execution_answers_raw_or_as_a_document() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let r = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {"name": "World"}}),
        None,
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        r.text().unwrap(),
        "Hello World!",
        "one output, no preference: the raw value"
    );

    let r = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {"name": "Ada"}, "response": "document"}),
        None,
    );
    assert_eq!(r.json::<Value>().unwrap(), json!({"echo": "Hello Ada!"}));

    let r = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {"name": "Bo"}}),
        Some("return=minimal"),
    );
    assert_eq!(r.headers()["preference-applied"], "return=minimal");
    assert_eq!(r.json::<Value>().unwrap(), json!({"echo": "Hello Bo!"}));

    // Sync executions are jobs too.
    let (_, jobs) = get(&s, "/jobs?processID=hello-world&limit=100");
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3);
    assert!(jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["status"] == "successful" && j["type"] == "process"));
}

#[test]
fn several_raw_outputs_come_as_multipart_related() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let body = json!({"inputs": {"stringInput": "two", "booleanInput": true}, "response": "raw"});
    let r = post(&s, "/processes/echo/execution", &body, None);
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("multipart/related; boundary="), "{ct}");
    let text = r.text().unwrap();
    assert!(
        text.contains("Content-ID: <stringInput>") && text.contains("\r\n\r\ntwo\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-ID: <booleanInput>") && text.contains("true"),
        "{text}"
    );
}

#[test]
fn async_jobs_report_progress_then_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let body = json!({"inputs": {"stringInput": "later", "integerInput": 7, "pause": 1.5}});
    let r = post(
        &s,
        "/processes/echo/execution",
        &body,
        Some("respond-async"),
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["preference-applied"], "respond-async");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let status: Value = r.json().unwrap();
    assert_eq!(status["jobID"], status["id"]);
    assert_eq!(status["type"], "process");
    assert_eq!(
        location,
        s.url(&format!("/jobs/{}", status["id"].as_str().unwrap()))
    );

    // While it runs: status with progress, and no results yet.
    std::thread::sleep(Duration::from_millis(700));
    let running: Value = client().get(&location).send().unwrap().json().unwrap();
    assert_eq!(running["status"], "running", "{running}");
    assert!(
        running["progress"].as_u64().unwrap() > 0,
        "progress moves while the guest pauses: {running}"
    );
    let r = client().get(format!("{location}/results")).send().unwrap();
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 404, "result-not-ready");

    let done = wait_final(&location, Duration::from_secs(20));
    assert_eq!(done["status"], "successful");
    assert_eq!(done["progress"], 100);
    let results_link = done["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/results")
        .unwrap();
    let results: Value = client()
        .get(results_link["href"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(results["stringInput"], "later");
    assert_eq!(results["integerInput"], 7);
    let one = client()
        .get(format!("{location}/results/stringInput"))
        .send()
        .unwrap();
    assert_eq!(one.text().unwrap(), "later");
    let missing = client()
        .get(format!("{location}/results/nothing"))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let log_link = done["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "related")
        .expect("log link");
    assert_eq!(log_link["type"], "text/plain");
}

#[test]
fn wait_preference_answers_a_finished_job() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let r = post(
        &s,
        "/processes/echo/execution",
        &json!({"inputs": {"pause": 0.2}}),
        Some("respond-async, wait=10"),
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["preference-applied"], "respond-async, wait=10");
    assert_eq!(
        r.json::<Value>().unwrap()["status"],
        "successful",
        "waited until done"
    );
}

#[test]
fn dismiss_stops_a_running_guest_and_removes_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let r = post(
        &s,
        "/processes/echo/execution",
        &json!({"inputs": {"pause": 60}}),
        Some("respond-async"),
    );
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let started = Instant::now();
    while client()
        .get(&location)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["status"]
        != "running"
    {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = client().delete(&location).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().unwrap()["status"], "dismissed");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 60 s pause did not run out"
    );
    let r = client().get(format!("{location}/results")).send().unwrap();
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 404, "no-such-job");
    let (_, jobs) = get(&s, "/jobs?status=running");
    assert!(
        jobs["jobs"].as_array().unwrap().is_empty(),
        "nothing left running"
    );

    let r = client().delete(s.url("/jobs/no-such-id")).send().unwrap();
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 404, "no-such-job");
}

#[test]
fn bad_requests_get_ogc_exceptions_and_the_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let r = post(
        &s,
        "/processes/echo/execution",
        &json!({"inputs": {"booleanInput": "yes"}}),
        None,
    );
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert_exception(status, &body, 400, "invalid-parameter");
    assert!(
        body["detail"].as_str().unwrap().contains("booleanInput"),
        "the input is named: {body}"
    );

    let r = post(
        &s,
        "/processes/echo/execution",
        &json!({"inputs": {"pause": -1}}),
        None,
    );
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 400, "invalid-parameter");

    let r = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {}}),
        None,
    );
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 400, "invalid-parameter");

    let r = client()
        .post(s.url("/processes/echo/execution"))
        .body("{not json")
        .send()
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 400, "invalid-parameter");

    let r = post(
        &s,
        "/processes/nope/execution",
        &json!({"inputs": {}}),
        None,
    );
    let status = r.status();
    assert_exception(status, &r.json().unwrap(), 404, "no-such-process");

    let huge = vec![b' '; 65 << 20];
    let r = client()
        .post(s.url("/processes/echo/execution"))
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body) = get(&s, "/no/such/route");
    assert_exception(status, &body, 404, "not-found");
    let r = client().put(s.url("/jobs")).send().unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = get(&s, "/jobs/not-a-job");
    assert_exception(status, &body, 404, "no-such-job");
    assert!(body["type"].as_str().unwrap().starts_with(OGC_EXC));

    // Still serving.
    let r = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {"name": "still up"}}),
        None,
    );
    assert_eq!(r.text().unwrap(), "Hello still up!");
}

#[test]
fn the_job_list_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    for i in 0..3 {
        post(
            &s,
            "/processes/hello-world/execution",
            &json!({"inputs": {"name": format!("n{i}")}}),
            None,
        );
    }
    post(
        &s,
        "/processes/echo/execution",
        &json!({"inputs": {"stringInput": "x"}}),
        None,
    );
    let failing = post(
        &s,
        "/processes/hello-world/execution",
        &json!({"inputs": {"name": 5}}),
        None,
    );
    assert_eq!(failing.status(), StatusCode::BAD_REQUEST);

    let count = |q: &str| {
        get(&s, &format!("/jobs?{q}")).1["jobs"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("limit=100"), 4, "rejected requests create no job");
    assert_eq!(count("processID=echo"), 1);
    assert_eq!(count("processID=echo&processID=hello-world"), 4);
    assert_eq!(count("status=successful"), 4);
    assert_eq!(count("status=failed"), 0);
    assert_eq!(count("type=process"), 4);
    assert_eq!(count("type=workflow"), 0);
    assert_eq!(count("datetime=2000-01-01T00:00:00Z/.."), 4);
    assert_eq!(count("datetime=../2000-01-01T00:00:00Z"), 0);
    assert_eq!(count("minDuration=0"), 4);
    assert_eq!(count("minDuration=3600"), 0);

    let (_, page) = get(&s, "/jobs?limit=3");
    assert_eq!(page["jobs"].as_array().unwrap().len(), 3);
    let rest = follow(&page, "next").expect("next link");
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 1);

    let (status, body) = get(&s, "/jobs?status=sleeping");
    assert_exception(status, &body, 400, "invalid-parameter");
    let (status, body) = get(&s, "/jobs?datetime=yesterday");
    assert_exception(status, &body, 400, "invalid-parameter");
}

#[test]
fn href_inputs_are_fetched_and_file_outputs_served_by_reference() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (green, nir) = geotiff_ops::synthetic::water_scene(64, 48);
    let tiff = "image/tiff; application=geotiff";
    let a = serve_bytes(geotiff_ops::synthetic::encode_u16(&green), tiff);
    let b = serve_bytes(geotiff_ops::synthetic::encode_u16(&nir), tiff);
    let body = json!({"inputs": {"a": {"href": format!("{a}/green.tif"), "type": tiff}, "b": {"href": format!("{b}/nir.tif")}},
                      "outputs": {"nd": {"transmissionMode": "reference"}}, "response": "document"});
    let r = post(
        &s,
        "/processes/normalized-difference/execution",
        &body,
        None,
    );
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().unwrap();
    let href = doc["nd"]["href"]
        .as_str()
        .expect("by reference")
        .to_string();
    assert!(
        href.starts_with(&s.base) && href.ends_with("/results/nd"),
        "{href}"
    );
    let file = client().get(&href).send().unwrap();
    assert_eq!(file.headers()["content-type"], tiff);
    let nd = geotiff_ops::read_band(std::io::Cursor::new(file.bytes().unwrap().to_vec())).unwrap();
    assert_eq!(
        nd.data,
        geotiff_ops::normalized_difference(&green, &nir)
            .unwrap()
            .data
    );

    // The same over inline base64.
    use base64_like::encode;
    let body = json!({"inputs": {"a": {"value": encode(&geotiff_ops::synthetic::encode_u16(&green)), "encoding": "base64", "mediaType": tiff},
                                  "b": {"value": encode(&geotiff_ops::synthetic::encode_u16(&nir)), "encoding": "base64", "mediaType": tiff}}});
    let r = post(
        &s,
        "/processes/normalized-difference/execution",
        &body,
        None,
    );
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text());
}

#[test]
fn hrefs_to_private_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // No loopback allowance here: the default rules.
    let s = Server::start_env(&dir, &[("WADES_FETCH_ALLOW", "")]);
    let target = serve_bytes(b"secret".to_vec(), "text/plain");
    for href in [
        format!("{target}/x"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "file:///etc/passwd".into(),
    ] {
        let body = json!({"inputs": {"a": {"href": href}, "b": {"href": href}}});
        let r = post(
            &s,
            "/processes/normalized-difference/execution",
            &body,
            None,
        );
        let status = r.status();
        let body: Value = r.json().unwrap();
        assert_exception(status, &body, 400, "invalid-parameter");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("may not be fetched")
                || body["detail"].as_str().unwrap().contains("http and https"),
            "{body}"
        );
    }
}

/// Base64 without another dependency: the tests only need to encode.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = (chunk[0] as u32) << 16
                | (*chunk.get(1).unwrap_or(&0) as u32) << 8
                | *chunk.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
