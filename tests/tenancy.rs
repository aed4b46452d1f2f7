//! Tenants over HTTP: API keys made with the `wades` CLI, ownership and
//! visibility of deployed processes, and jobs visible to their creator only.
//! Whatever a tenant may not see answers 404, as if it did not exist.

mod common;

use common::{cli, client, exception, guests, tenant, As, Server};
use reqwest::blocking::Response;
use reqwest::StatusCode;
use serde_json::{json, Value};

impl As<'_> {
    fn deploy(&self, id: &str, extra: Value) -> Response {
        let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
        let mut package = json!({
            "processDescription": {"process": {"id": id}},
            "executionUnit": {"value": base64(&wasm), "encoding": "base64", "mediaType": "application/wasm"},
        });
        package
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.req("POST", "/processes")
            .header("Content-Type", "application/ogcapppkg+json")
            .body(package.to_string())
            .send()
            .unwrap()
    }

    fn execute(&self, id: &str, prefer_async: bool) -> Response {
        let mut r = self
            .req("POST", &format!("/processes/{id}/execution"))
            .json(&json!({"inputs": {"name": "tenant"}, "owner": "someone-else"}));
        if prefer_async {
            r = r.header("Prefer", "respond-async");
        }
        r.send().unwrap()
    }

    fn ids(&self, path: &str, member: &str, key: &str) -> Vec<String> {
        let doc: Value = self.get(path).json().unwrap();
        doc[member]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_str().unwrap().to_string())
            .collect()
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn status(r: Response) -> u16 {
    r.status().as_u16()
}

#[test]
fn private_processes_and_jobs_are_invisible_to_other_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let alice_key = tenant(&data, "alice", "developer");
    let bob_key = tenant(&data, "bob", "user");
    let ops_key = tenant(&data, "ops", "admin");
    let s = Server::start(&dir);
    let alice = As::key(&s, &alice_key);
    let bob = As::key(&s, &bob_key);
    let ops = As::key(&s, &ops_key);
    let anon = As::anonymous(&s);

    // Smuggled ownership and visibility members change nothing.
    let r = alice.deploy("alices", json!({"owner": "bob", "visibility": "public"}));
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(alice
        .ids("/processes", "processes", "id")
        .contains(&"alices".into()));
    assert!(ops
        .ids("/processes", "processes", "id")
        .contains(&"alices".into()));
    for who in [&bob, &anon] {
        assert!(!who
            .ids("/processes", "processes", "id")
            .contains(&"alices".into()));
        assert!(
            who.ids("/processes", "processes", "id")
                .contains(&"echo".into()),
            "built-ins are public"
        );
        for (method, path) in [
            ("GET", "/processes/alices"),
            ("GET", "/processes/alices/package"),
            ("GET", "/processes/alices/visibility"),
            ("DELETE", "/processes/alices"),
        ] {
            exception(
                who.req(method, path).send().unwrap(),
                404,
                "no-such-process",
            );
        }
        exception(who.execute("alices", false), 404, "no-such-process");
        let put = who
            .req("PUT", "/processes/alices/visibility")
            .json(&json!({"visibility": "public"}))
            .send()
            .unwrap();
        exception(put, 404, "no-such-process");
    }
    let visibility: Value = alice.get("/processes/alices/visibility").json().unwrap();
    assert_eq!(visibility, json!({"visibility": "private"}));

    // Shared with bob: he may describe and execute, not change it.
    let r = alice
        .req("PUT", "/processes/alices/visibility")
        .json(&json!({"visibility": "shared", "tenants": ["bob"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(bob.get("/processes/alices")), 200);
    assert_eq!(status(bob.execute("alices", false)), 200);
    exception(
        bob.req("DELETE", "/processes/alices").send().unwrap(),
        403,
        "forbidden",
    );
    assert_eq!(status(anon.get("/processes/alices")), 404);

    // Public: anyone.
    let r = alice
        .req("PUT", "/processes/alices/visibility")
        .json(&json!({"visibility": "public"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(anon.execute("alices", false)), 200);

    // Jobs: their creator's and the admin's only.
    let r = bob.execute("hello-world", true);
    assert_eq!(r.status(), StatusCode::CREATED);
    let job = r.headers()["location"].to_str().unwrap().to_string();
    let path = job.strip_prefix(&s.base).unwrap().to_string();
    assert_eq!(status(bob.get(&path)), 200);
    let owned: Value = bob.get(&path).json().unwrap();
    assert!(
        owned.get("owner").is_none(),
        "the owner is not part of the status document"
    );
    assert_eq!(status(ops.get(&path)), 200);
    for who in [&alice, &anon] {
        for suffix in ["", "/results", "/logs"] {
            exception(who.get(&format!("{path}{suffix}")), 404, "no-such-job");
        }
        exception(who.req("DELETE", &path).send().unwrap(), 404, "no-such-job");
    }
    let id = path.trim_start_matches("/jobs/").to_string();
    assert!(bob.ids("/jobs?limit=100", "jobs", "jobID").contains(&id));
    assert!(ops.ids("/jobs?limit=100", "jobs", "jobID").contains(&id));
    assert!(!alice.ids("/jobs?limit=100", "jobs", "jobID").contains(&id));
    assert!(!anon.ids("/jobs?limit=100", "jobs", "jobID").contains(&id));
    assert_eq!(status(bob.req("DELETE", &path).send().unwrap()), 200);

    // Only its owner (or an admin) undeploys.
    assert_eq!(
        status(ops.req("DELETE", "/processes/alices").send().unwrap()),
        204
    );
}

#[test]
fn roles_and_credentials_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let bob_key = tenant(&data, "bob", "user");
    let revoked = tenant(&data, "carol", "developer");
    let listed = cli(&data, &["key", "list"]);
    let carol_id = listed
        .lines()
        .find(|l| l.contains("\tcarol\t"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    cli(&data, &["key", "revoke", &carol_id]);
    assert!(cli(&data, &["key", "list"]).contains(&format!("{carol_id}\tcarol\trevoked")));
    assert!(
        !common::database::stored_bytes(&data)
            .windows(20)
            .any(|w| w == &bob_key.as_bytes()[..20]),
        "keys are stored hashed"
    );

    let s = Server::start(&dir);
    let bob = As::key(&s, &bob_key);
    let anon = As::anonymous(&s);
    let body = exception(bob.deploy("bobs", json!({})), 403, "forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("developer"),
        "{body}"
    );
    let r = anon.deploy("anons", json!({}));
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"wades\"");
    exception(r, 401, "unauthorized");

    for bad in [
        revoked.as_str(),
        "wades_not-a-key",
        "eyJhbGciOiJub25lIn0.e30.",
    ] {
        let who = As::key(&s, bad);
        exception(who.get("/processes"), 401, "unauthorized");
        exception(who.get("/jobs"), 401, "unauthorized");
    }
    let r = client()
        .get(s.url("/processes"))
        .header("Authorization", "Basic Ym9iOnB3")
        .send()
        .unwrap();
    exception(r, 401, "unauthorized");
    drop(s);

    let closed = tempfile::tempdir().unwrap();
    let s = Server::start_env(&closed, &[("WADES_ANONYMOUS", "none")]);
    let anon = As::anonymous(&s);
    exception(anon.get("/processes"), 401, "unauthorized");
    exception(anon.execute("echo", false), 401, "unauthorized");
    assert_eq!(status(anon.get("/")), 200, "the landing page stays open");
    assert_eq!(status(anon.get("/conformance")), 200);
}
