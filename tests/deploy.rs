//! OGC API – Processes Part 2 over HTTP: deploying, replacing and
//! undeploying components and application packages, against the real
//! `wades` binary.

mod common;

use base64::Engine as _;
use common::{guests, serve_bytes, wait_final_with, Server};
use reqwest::blocking::Response;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn component(name: &str) -> Vec<u8> {
    std::fs::read(guests().join(format!("{name}.wasm"))).unwrap()
}

fn deploy_wasm(s: &Server, bytes: Vec<u8>, id: Option<&str>) -> Response {
    let url = match id {
        Some(id) => s.url(&format!("/processes?id={id}")),
        None => s.url("/processes"),
    };
    s.client()
        .post(url)
        .header("Content-Type", "application/wasm")
        .body(bytes)
        .send()
        .unwrap()
}

fn deploy_package(s: &Server, package: &Value, media_type: &str) -> Response {
    s.client()
        .post(s.url("/processes"))
        .header("Content-Type", media_type)
        .body(package.to_string())
        .send()
        .unwrap()
}

fn inline(bytes: &[u8]) -> Value {
    json!({"value": base64::engine::general_purpose::STANDARD.encode(bytes),
           "encoding": "base64", "mediaType": "application/wasm"})
}

fn execute(s: &Server, id: &str, inputs: Value) -> (StatusCode, Value) {
    let r = s
        .client()
        .post(s.url(&format!("/processes/{id}/execution")))
        .json(&json!({"inputs": inputs, "response": "document"}))
        .send()
        .unwrap();
    (r.status(), r.json().unwrap_or(Value::Null))
}

fn describe(s: &Server, id: &str) -> (StatusCode, Value) {
    let r = s
        .client()
        .get(s.url(&format!("/processes/{id}")))
        .send()
        .unwrap();
    (r.status(), r.json().unwrap_or(Value::Null))
}

/// Asserts an OGC exception of `status` whose type ends with `kind`, and
/// returns its detail.
fn exception(r: Response, status: u16, kind: &str) -> String {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = r.json().unwrap();
    assert!(body["type"].as_str().unwrap().ends_with(kind), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["title"].is_string(), "{body}");
    body["detail"].as_str().unwrap().to_string()
}

/// Asserts `doc` is an application package as Part 2 (2.0 draft) defines
/// it. Its process description is checked against the 1.0 `process.yaml`:
/// the 2.0 draft's `schema.yaml` admits only object schemas with
/// `properties` (a coverage-range schema), which no input of type number
/// or array can meet.
fn ogcapppkg(doc: &Value) {
    let mut unit = doc.clone();
    let process = unit
        .as_object_mut()
        .unwrap()
        .remove("processDescription")
        .map(|d| d["process"].clone());
    ogc_schemas::validate_in(
        ogc_schemas::OGC_2_0,
        "schemas/processes-dru/ogcapppkg.yaml",
        &unit,
        ogc_schemas::Mode::Strict,
    );
    if let Some(process) = process {
        ogc_schemas::validate("process.yaml", &process);
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(suffix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn deploy_execute_replace_execute_undeploy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);

    let r = deploy_wasm(&s, component("hello-world"), Some("greeter"));
    assert_eq!(r.status(), StatusCode::CREATED);
    let locations: Vec<_> = r.headers().get_all("location").iter().collect();
    assert_eq!(locations.len(), 1, "exactly one Location");
    assert_eq!(locations[0].to_str().unwrap(), s.url("/processes/greeter"));
    let summary: Value = r.json().unwrap();
    ogc_schemas::validate("processSummary.yaml", &summary);
    assert_eq!(summary["id"], "greeter");
    assert_eq!(summary["mutable"], true);

    let (_, list) = {
        let r = s.client().get(s.url("/processes")).send().unwrap();
        (r.status(), r.json::<Value>().unwrap())
    };
    let mutable = |id: &str| {
        list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["mutable"].clone())
    };
    assert_eq!(mutable("greeter"), Some(json!(true)));
    assert_eq!(mutable("echo"), Some(json!(false)));

    let (status, out) = execute(&s, "greeter", json!({"name": "Part 2"}));
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["echo"], "Hello Part 2!", "{out}");

    // The same id now runs echo: new inputs, new behaviour.
    let r = s
        .client()
        .put(s.url("/processes/greeter"))
        .header("Content-Type", "application/wasm")
        .body(component("echo"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, described) = describe(&s, "greeter");
    assert!(
        described["inputs"]["stringInput"].is_object(),
        "{described}"
    );
    let (status, out) = execute(&s, "greeter", json!({"stringInput": "replaced"}));
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["stringInput"], "replaced", "{out}");

    let r = s
        .client()
        .delete(s.url("/processes/greeter"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, body) = describe(&s, "greeter");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with("no-such-process"));
    let r = s
        .client()
        .post(s.url("/processes/greeter/execution"))
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    exception(r, 404, "no-such-process");
    let r = s
        .client()
        .delete(s.url("/processes/greeter"))
        .send()
        .unwrap();
    exception(r, 404, "no-such-process");
}

#[test]
fn status_codes_and_exception_types_of_part_2() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let package = json!({
        "processDescription": {"id": "twice", "title": "Deployed twice"},
        "executionUnit": inline(&component("hello-world")),
    });
    let r = deploy_package(&s, &package, "application/ogcapppkg+json");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = deploy_package(&s, &package, "application/ogcapppkg+json");
    let detail = exception(r, 409, "ogcapi-processes-2/1.0/duplicated-process");
    assert!(detail.contains("twice"), "{detail}");

    for (method, path) in [("DELETE", "/processes/echo"), ("PUT", "/processes/echo")] {
        let r = s
            .client()
            .request(method.parse().unwrap(), s.url(path))
            .header("Content-Type", "application/wasm")
            .body(component("hello-world"))
            .send()
            .unwrap();
        exception(r, 403, "ogcapi-processes-2/1.0/immutable-process");
    }
    let (status, _) = describe(&s, "echo");
    assert_eq!(
        status,
        StatusCode::OK,
        "a refused undeploy leaves the process"
    );

    let r = s
        .client()
        .post(s.url("/processes"))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .unwrap();
    exception(r, 415, "ogcapi-processes-2/1.0/unsupported-media-type");
    let jar = json!({"executionUnit": {"type": "jar", "href": "https://example.org/p.jar"}});
    let detail = exception(
        deploy_package(&s, &jar, "application/json"),
        415,
        "unsupported-media-type",
    );
    assert!(detail.contains("jar"), "{detail}");
    // A container image says nothing of its inputs and outputs.
    let docker = json!({"executionUnit": {"type": "docker", "image": "busybox"}});
    let detail = exception(
        deploy_package(&s, &docker, "application/json"),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("processDescription"), "{detail}");

    let r = s
        .client()
        .put(s.url("/processes/nothing-here"))
        .header("Content-Type", "application/wasm")
        .body(component("hello-world"))
        .send()
        .unwrap();
    exception(r, 404, "no-such-process");

    let detail = exception(
        deploy_wasm(&s, component("hello-world"), Some("not/an id")),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("not a valid process id"), "{detail}");
    let r = deploy_package(&s, &json!({"processDescription": {}}), "application/json");
    let detail = exception(r, 400, "invalid-parameter");
    assert!(detail.contains("executionUnit"), "{detail}");
    let r = deploy_package(&s, &json!(null), "application/ogcapppkg+json");
    exception(r, 400, "invalid-parameter");
    let r = s
        .client()
        .post(s.url("/processes"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    exception(r, 400, "invalid-parameter");
}

#[test]
fn bad_uploads_are_refused_with_a_readable_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[("WADES_MAX_MODULE_BYTES", "240000")]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty", Vec::new(), 400, "empty"),
        (
            "random bytes",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            400,
            "not a valid WebAssembly component",
        ),
        (
            "core module",
            b"\0asm\x01\0\0\0".to_vec(),
            400,
            "core WebAssembly module",
        ),
        (
            "wrong world",
            component("wrong-world"),
            400,
            "does not target the wades:process world",
        ),
        ("oversize", component("echo"), 413, "up to 240000 bytes"),
    ];
    for (what, bytes, status, words) in cases {
        let r = deploy_wasm(&s, bytes, Some("bad"));
        assert_eq!(r.status().as_u16(), status, "{what}");
        let body: Value = r.json().unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(words), "{what}: {detail}");
    }
    let r = s.client().get(s.url("/processes")).send().unwrap();
    let list: Value = r.json().unwrap();
    assert!(
        !list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "bad"),
        "nothing was deployed"
    );
    assert!(
        files(&s.data.join("modules"), ".wasm").iter().all(|f| {
            let bytes = std::fs::read(s.data.join("modules").join(f)).unwrap();
            bytes.starts_with(b"\0asm\x0d\0\x01\0")
        }),
        "only real components are stored"
    );
}

#[test]
fn identical_uploads_are_stored_once_and_collected_when_unused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let modules = s.data.join("modules");
    let before = files(&modules, ".wasm").len();
    let bytes = component("hostile");
    for id in ["first", "second"] {
        assert_eq!(
            deploy_wasm(&s, bytes.clone(), Some(id)).status(),
            StatusCode::CREATED
        );
    }
    assert_eq!(
        files(&modules, ".wasm").len(),
        before + 1,
        "one blob for both"
    );
    let artifacts = || files(&s.data.join("artifacts"), ".cwasm").len();
    let compiled = artifacts();

    assert_eq!(
        s.client()
            .delete(s.url("/processes/first"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        files(&modules, ".wasm").len(),
        before + 1,
        "still used by 'second'"
    );
    let (status, out) = execute(&s, "second", json!({"attack": "panic"}));
    assert_eq!(status.as_u16(), 500, "{out}");

    assert_eq!(
        s.client()
            .delete(s.url("/processes/second"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(files(&modules, ".wasm").len(), before, "collected");
    assert_eq!(artifacts(), compiled - 1, "its compiled artifact too");
}

#[test]
fn packages_by_value_by_href_and_by_digest_and_the_package_served_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let hello = component("hello-world");

    // Inline, with a description that completes the component's.
    let package = json!({
        "processDescription": {"process": {"id": "greet-inline", "title": "Greetings", "keywords": ["deployed"],
                               "inputs": {"name": {"description": "Who to greet"}}}},
        "executionUnit": inline(&hello),
    });
    let r = deploy_package(&s, &package, "application/ogcapppkg+json");
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, d) = describe(&s, "greet-inline");
    assert_eq!(d["title"], "Greetings");
    assert_eq!(d["keywords"], json!(["deployed"]));
    assert_eq!(d["inputs"]["name"]["description"], "Who to greet");
    assert!(
        d["inputs"]["name"]["schema"].is_object(),
        "schemas stay the component's"
    );
    let bad = json!({"processDescription": {"id": "x", "inputs": {"nope": {}}}, "executionUnit": inline(&hello)});
    let detail = exception(
        deploy_package(&s, &bad, "application/json"),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("'nope'"), "{detail}");

    // The package comes back with the component named by digest, and the
    // component itself on request.
    let r = s
        .client()
        .get(s.url("/processes/greet-inline/package"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let served: Value = r.json().unwrap();
    assert_eq!(served["processDescription"], package["processDescription"]);
    let digest = served["executionUnit"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{served}");
    let r = s
        .client()
        .get(s.url("/processes/greet-inline/package"))
        .header("Accept", "application/wasm")
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(r.bytes().unwrap().to_vec(), hello);

    // By href, fetched by the server (loopback is allowed for tests).
    let origin = serve_bytes(hello.clone(), "application/wasm");
    let by_href = json!({"processDescription": {"id": "greet-href"},
                         "executionUnit": [{"href": format!("{origin}/hello.wasm"), "type": "application/wasm"}]});
    assert_eq!(
        deploy_package(&s, &by_href, "application/json").status(),
        StatusCode::CREATED
    );
    let (status, out) = execute(&s, "greet-href", json!({"name": "href"}));
    assert_eq!(
        (status, out["echo"].as_str()),
        (StatusCode::OK, Some("Hello href!"))
    );

    // By digest of a module already stored.
    let by_digest =
        json!({"processDescription": {"id": "greet-digest"}, "executionUnit": {"digest": digest}});
    assert_eq!(
        deploy_package(&s, &by_digest, "application/json").status(),
        StatusCode::CREATED
    );
    let (status, out) = execute(&s, "greet-digest", json!({"name": "digest"}));
    assert_eq!(
        (status, out["echo"].as_str()),
        (StatusCode::OK, Some("Hello digest!"))
    );
    let unknown = json!({"executionUnit": format!("sha256:{}", "0".repeat(64))});
    let detail = exception(
        deploy_package(&s, &unknown, "application/json"),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("no module"), "{detail}");

    // Built-in processes serve their package and component too.
    let r = s
        .client()
        .get(s.url("/processes/echo/package"))
        .send()
        .unwrap();
    let served: Value = r.json().unwrap();
    ogcapppkg(&served);
    assert_eq!(served["processDescription"]["process"]["id"], "echo");
    let r = s
        .client()
        .get(s.url("/processes/echo/package?f=wasm"))
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap().to_vec(), component("echo"));
    // Only the two forms there are (schemathesis found any `f` accepted).
    let r = s
        .client()
        .get(s.url("/processes/echo/package?f=xml"))
        .send()
        .unwrap();
    exception(r, 400, "invalid-parameter");
}

#[test]
fn deployments_survive_a_restart_and_a_corrupt_artifact_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::start_developer(&dir, &[]);
    assert_eq!(
        deploy_wasm(&s, component("hostile"), Some("kept")).status(),
        StatusCode::CREATED
    );
    s.kill9();
    drop(s);

    // Damage every compiled artifact of the deployed component.
    let digest = wades::model::Digest::of(&component("hostile")).hex();
    let artifacts = data.join("artifacts");
    let damaged: Vec<String> = files(&artifacts, ".cwasm")
        .into_iter()
        .filter(|f| f.starts_with(&digest))
        .collect();
    assert_eq!(damaged.len(), 1, "the deployment was compiled and cached");
    let path = artifacts.join(&damaged[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let s = Server::start_with(&data, &[]);
    let (status, d) = describe(&s, "kept");
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["mutable"], true);
    let (status, out) = execute(&s, "kept", json!({"attack": "escape"}));
    assert!(
        status.is_success() || status.is_server_error(),
        "{status} {out}"
    );
    assert_ne!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the damaged artifact was replaced"
    );
    let log = std::fs::read_to_string(data.join("server.log")).unwrap();
    assert!(
        log.contains("failed its integrity check"),
        "the damage was noticed:\n{log}"
    );
}

#[test]
fn a_job_running_during_a_replace_finishes_on_the_old_component() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    assert_eq!(
        deploy_wasm(&s, component("echo"), Some("moving")).status(),
        StatusCode::CREATED
    );
    let r = s
        .client()
        .post(s.url("/processes/moving/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"stringInput": "old", "pause": 1.0}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let job = r.headers()["location"].to_str().unwrap().to_string();
    // Running, so bound to its component, before the replace (a job binds
    // its process when it starts, and a queued one would get the new one).
    let started = std::time::Instant::now();
    while s
        .client()
        .get(&job)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["status"]
        == "accepted"
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the job never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = s
        .client()
        .put(s.url("/processes/moving"))
        .header("Content-Type", "application/wasm")
        .body(component("hello-world"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let status = wait_final_with(&s.client(), &job, Duration::from_secs(30));
    assert_eq!(status["status"], "successful", "{status}");
    let results: Value = s
        .client()
        .get(format!("{job}/results"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(results["stringInput"], "old", "{results}");
    let (status, out) = execute(&s, "moving", json!({"name": "new"}));
    assert_eq!(
        (status, out["echo"].as_str()),
        (StatusCode::OK, Some("Hello new!"))
    );
}
