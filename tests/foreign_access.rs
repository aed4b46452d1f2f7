//! Every route and method of the API, as the server's own `/api` lists
//! them, tried by a foreign tenant (and anonymously) on another tenant's
//! private process, job, job output and quota. Nothing is reachable and
//! nothing is enumerable: each answer is the one a made-up object gets
//! (404 for processes and jobs), and the owner's objects are unchanged
//! afterwards. A route added to the API is in the matrix the day it is in
//! `/api`.

mod common;

use common::{exception, guests, tenant, wait_final_with, As, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Every method a client can send; those a route does not document must
/// answer a foreign object as they answer a made-up one, too.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// What a client sees of a response: status, and the exception type or
/// the body.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    body: String,
}

fn seen(r: Response) -> Seen {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    // Exceptions name the object in `detail`; their type is what tells.
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(doc) if status >= 400 => doc["type"].as_str().unwrap_or(&text).to_string(),
        _ => text,
    };
    Seen { status, body }
}

/// A valid body for each operation that takes one, so that a request is
/// refused for whose object it names, not for its body. A body smuggles
/// ownership wherever a member could be read as one.
fn body(operation: &str) -> Value {
    let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
    match operation {
        "replace" => json!({
            "executionUnit": {"value": base64(&wasm), "encoding": "base64", "mediaType": "application/wasm"},
            "owner": "bob", "visibility": "public"
        }),
        "setVisibility" => json!({"visibility": "public"}),
        "execute" | "requestQuotation" | "executeProcessQuotation" | "executeQuotation" => {
            json!({"inputs": {"name": "bob"}, "owner": "bob"})
        }
        "setTenantQuota" => json!({"max_queued": 1000}),
        other => panic!("operation '{other}' takes a body: add a valid one to this test"),
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One operation of `/api`.
struct Operation {
    path: String,
    method: String,
    id: Option<String>,
    has_body: bool,
}

fn operations(api: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in api["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push(Operation {
                path: path.clone(),
                method: method.to_ascii_uppercase(),
                id: op["operationId"].as_str().map(str::to_string),
                has_body: op.get("requestBody").is_some(),
            });
        }
    }
    ops
}

/// `template` with its parameters filled from `values`.
fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut path = template.to_string();
    for (name, value) in values {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !path.contains('{'),
        "no value for a parameter of {template}"
    );
    path
}

impl As<'_> {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let mut r = self.req(method, path);
        if let Some(body) = body {
            let media = if body.get("executionUnit").is_some() {
                "application/ogcapppkg+json"
            } else {
                "application/json"
            };
            r = r.header("Content-Type", media).body(body.to_string());
        }
        r.send().unwrap()
    }

    /// Every GET of `api` on the objects in `values`, as this identity
    /// sees it.
    fn view(&self, api: &Value, values: &BTreeMap<&str, String>) -> Vec<(String, Seen)> {
        operations(api)
            .into_iter()
            .filter(|op| op.method == "GET")
            .map(|op| {
                let path = fill(&op.path, values);
                (path.clone(), seen(self.get(&path)))
            })
            .collect()
    }
}

#[test]
fn a_foreign_tenant_reaches_nothing_on_any_route() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let alice_key = tenant(&data, "alice", "developer");
    let bob_key = tenant(&data, "bob", "developer");
    let ops_key = tenant(&data, "ops", "admin");
    let s = Server::start(&dir);
    let alice = As::key(&s, &alice_key);
    let bob = As::key(&s, &bob_key);
    let ops = As::key(&s, &ops_key);
    let anon = As::anonymous(&s);

    // Alice's private process, a finished job of it with an output and a
    // log, and her own quota.
    let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
    let r = alice
        .req("POST", "/processes?id=alices")
        .header("Content-Type", "application/wasm")
        .body(wasm)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = alice
        .req("POST", "/processes/alices/execution")
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"name": "alice"}}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let job_url = r.headers()["location"].to_str().unwrap().to_string();
    let status = wait_final_with(&alice.client(), &job_url, Duration::from_secs(30));
    assert_eq!(status["status"], "successful");
    let job = status["jobID"].as_str().unwrap().to_string();
    let results: Value = alice.get(&format!("/jobs/{job}/results")).json().unwrap();
    let output = results.as_object().unwrap().keys().next().unwrap().clone();
    // Her quotation, executed: its id is also her bill's.
    let r = alice
        .req("POST", "/processes/alices/quotations")
        .json(&json!({"inputs": {"name": "alice"}}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let quotation: Value = r.json().unwrap();
    let quotation = quotation["id"].as_str().unwrap().to_string();
    let r = alice
        .req("POST", &format!("/processes/alices/quotations/{quotation}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
    let r = ops
        .req("PUT", "/admin/tenants/alice/quota")
        .json(&json!({"max_queued": 7}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let alices: BTreeMap<&str, String> = [
        ("id", "alices".to_string()),
        ("jobId", job.clone()),
        ("outputId", output),
        ("tenant", "alice".to_string()),
        ("quotationId", quotation.clone()),
        ("billId", quotation.clone()),
    ]
    .into();
    let made_up: BTreeMap<&str, String> = [
        ("id", "no-such-process".to_string()),
        ("jobId", "019a0000-0000-7000-8000-000000000000".to_string()),
        ("outputId", "no-such-output".to_string()),
        ("tenant", "no-such-tenant".to_string()),
        (
            "quotationId",
            "019a0000-0000-7000-8000-000000000001".to_string(),
        ),
        ("billId", "019a0000-0000-7000-8000-000000000001".to_string()),
    ]
    .into();

    let api: Value = anon.get("/api").json().unwrap();
    let ops_list = operations(&api);
    assert!(
        ops_list.len() >= 15,
        "/api lists {} operations",
        ops_list.len()
    );
    let before = alice.view(&api, &alices);
    let quota_before = seen(ops.get("/admin/tenants/alice/quota"));
    for (path, seen) in before
        .iter()
        // KVP execute without the process's required inputs is a 400.
        .filter(|(path, _)| !path.starts_with("/admin/") && !path.ends_with("/execution"))
    {
        assert!(
            seen.status < 400,
            "alice cannot read her own {path}: {seen:?}"
        );
    }

    let paths: BTreeSet<&str> = ops_list
        .iter()
        .map(|op| op.path.as_str())
        .filter(|path| path.contains('{'))
        .collect();
    let mut tried = 0;
    for path in paths {
        for method in METHODS {
            let op = ops_list
                .iter()
                .find(|o| o.path == path && o.method == *method);
            let payload = op
                .filter(|o| o.has_body)
                .map(|o| body(o.id.as_deref().unwrap()));
            for (name, who) in [("bob", &bob), ("anonymous", &anon)] {
                let on_alices = seen(who.send(method, &fill(path, &alices), payload.as_ref()));
                let on_nothing = seen(who.send(method, &fill(path, &made_up), payload.as_ref()));
                let what = format!("{method} {path} as {name}");
                assert_eq!(
                    on_alices, on_nothing,
                    "{what}: alice's object is told apart"
                );
                if op.is_some() && *method != "HEAD" {
                    let expected = match (path.starts_with("/admin/"), name) {
                        (false, _) => 404,
                        (true, "bob") => 403,
                        (true, _) => 401,
                    };
                    assert_eq!(on_alices.status, expected, "{what}: {on_alices:?}");
                }
                tried += 1;
            }
        }
    }
    assert!(tried >= 100, "only {tried} requests tried");

    // The routes without an object: alice's are in no listing of bob's,
    // and her process id cannot be taken over.
    for path in [
        "/processes",
        "/processes?limit=1000",
        "/jobs",
        "/jobs?processID=alices",
        "/jobs?limit=1000&status=successful",
    ] {
        let text = bob.get(path).text().unwrap();
        assert!(
            !text.contains("alices") && !text.contains(&job),
            "{path} shows bob alice's objects: {text}"
        );
    }
    for r in [
        bob.req("POST", "/processes?id=alices")
            .header("Content-Type", "application/wasm")
            .body(std::fs::read(guests().join("hello-world.wasm")).unwrap())
            .send()
            .unwrap(),
        bob.send(
            "POST",
            "/processes",
            Some(&json!({
                "processDescription": {"process": {"id": "alices"}},
                "executionUnit": body("replace")["executionUnit"],
                "owner": "alice",
            })),
        ),
    ] {
        exception(r, 409, "duplicated-process");
    }

    // Alice's objects are as they were.
    assert_eq!(alice.view(&api, &alices), before);
    assert_eq!(seen(ops.get("/admin/tenants/alice/quota")), quota_before);
    assert_eq!(
        alice
            .get("/processes/alices/visibility")
            .json::<Value>()
            .unwrap(),
        json!({"visibility": "private"})
    );

    // The owner's own replace smuggling ownership and visibility changes
    // neither.
    let r = alice.send("PUT", "/processes/alices", Some(&body("replace")));
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        alice
            .get("/processes/alices/visibility")
            .json::<Value>()
            .unwrap(),
        json!({"visibility": "private"})
    );
    exception(bob.get("/processes/alices"), 404, "no-such-process");
    exception(
        bob.send("DELETE", "/processes/alices", None),
        404,
        "no-such-process",
    );
    assert_eq!(alice.get("/processes/alices").status().as_u16(), 200);
}
