//! Quotation and billing over HTTP (Testbed-14): a quotation prices a job
//! from fuel metering (a dry run, or the process's history), executing it
//! runs the job under the quoted budget, and the bill charges exactly what
//! the run used. Quotations and bills belong to the tenant that asked.

mod common;

use common::{exception, tenant, wait_final_with, As, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::time::Duration;

impl As<'_> {
    /// Asks for a quotation of `process` on `inputs`; returns it.
    fn quote(&self, process: &str, inputs: Value, query: &str) -> Value {
        let r = self
            .req("POST", &format!("/processes/{process}/quotations{query}"))
            .json(&json!({"inputs": inputs}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let q: Value = r.json().unwrap();
        assert_eq!(
            location,
            self.server
                .url(&format!("/quotations/{}", q["id"].as_str().unwrap()))
        );
        q
    }

    /// Executes quotation `q` of `process` with `body` (none: as quoted).
    fn execute_quote(
        &self,
        process: &str,
        q: &Value,
        body: Option<Value>,
        prefer_async: bool,
    ) -> Response {
        let id = q["id"].as_str().unwrap();
        let mut r = self.req("POST", &format!("/processes/{process}/quotations/{id}"));
        if let Some(body) = body {
            r = r.json(&body);
        }
        if prefer_async {
            r = r.header("Prefer", "respond-async");
        }
        r.send().unwrap()
    }

    /// Executes `q` asynchronously and returns the job's final status.
    fn run_quote(&self, process: &str, q: &Value) -> Value {
        let r = self.execute_quote(process, q, None, true);
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
        let job = r.headers()["location"].to_str().unwrap().to_string();
        wait_final_with(&self.client(), &job, Duration::from_secs(60))
    }

    fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.json().unwrap()
    }
}

fn fuel(doc: &Value, member: &str) -> u64 {
    doc[member]["fuel"]
        .as_u64()
        .unwrap_or_else(|| panic!("{member}.fuel in {doc}"))
}

fn amount(doc: &Value, member: &str) -> f64 {
    doc[member]["amount"]
        .as_f64()
        .unwrap_or_else(|| panic!("{member}.amount in {doc}"))
}

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)?["href"].as_str()
}

const REL_BILL: &str = "https://wades.dev/rel/bill";

/// A server with tenants alice and bob (users) and carol (admin).
fn server(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> (Server, [String; 3]) {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let keys = [
        tenant(&data, "alice", "user"),
        tenant(&data, "bob", "user"),
        tenant(&data, "carol", "admin"),
    ];
    (Server::start_env(dir, env), keys)
}

/// An echo input whose parsing costs fuel in proportion to its size.
fn object(bytes: usize) -> Value {
    json!({"objectInput": {"text": "x".repeat(bytes)}})
}

#[test]
fn a_quotation_executes_into_a_bill_that_agrees_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, [alice, ..]) = server(&dir, &[]);
    let alice = As::key(&server, &alice);

    let q = alice.quote("echo", json!({"stringInput": "hello"}), "");
    assert_eq!(q["status"], "valid");
    assert_eq!(q["processID"], "echo");
    assert_eq!(q["basis"], "dry-run", "no history yet: {q}");
    let quoted = fuel(&q, "estimate");
    assert!(quoted > 0);
    let price = amount(&q, "price");
    assert!(price > 0.0 && q["price"]["currency"] == "EUR", "{q}");
    assert!(
        (amount(&q, "maxPrice") - price * 1.1).abs() <= price * 1e-9,
        "{q}"
    );
    assert!(q["fuelBudget"].as_u64().unwrap() >= quoted + quoted / 10);
    assert!(q["estimatedTime"].as_str().unwrap().starts_with("PT"));
    assert_eq!(
        alice.json(&format!("/quotations/{}", q["id"].as_str().unwrap()))["id"],
        q["id"]
    );

    let job = alice.run_quote("echo", &q);
    assert_eq!(job["status"], "successful", "{job}");
    let bill_url = link(&job, REL_BILL)
        .expect("the job links to its bill")
        .to_string();
    let bill: Value = alice
        .client()
        .get(&bill_url)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(bill["id"], q["id"], "the quotation becomes the bill");
    assert_eq!(bill["jobID"], job["jobID"]);
    assert_eq!(bill["jobStatus"], "successful");
    assert_eq!(
        fuel(&bill, "consumption"),
        quoted,
        "fuel is deterministic: billed as quoted"
    );
    assert!(bill["consumption"]["memoryPeakBytes"].as_u64().unwrap() > 0);
    let stored = bill["consumption"]["storedBytes"].as_u64().unwrap();
    assert!(stored > 0);
    assert_eq!(
        stored, q["estimate"]["storedBytes"],
        "the dry run stored what the job did"
    );
    let billed = amount(&bill, "price");
    assert!(billed > 0.0 && billed <= amount(&q, "maxPrice"), "{bill}");
    let charges = &bill["charges"];
    let sum: f64 = ["fuel", "memory", "storage", "containers"]
        .iter()
        .map(|c| charges[c].as_f64().unwrap())
        .sum();
    assert!(
        (sum - billed).abs() <= billed * 1e-9 || bill["capped"] == true,
        "{bill}"
    );

    // The results link to the bill too.
    let job_url = job["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    let results = alice
        .client()
        .get(format!("{job_url}/results"))
        .send()
        .unwrap();
    let links: Vec<_> = results
        .headers()
        .get_all("link")
        .iter()
        .map(|l| l.to_str().unwrap().to_string())
        .collect();
    assert!(
        links
            .iter()
            .any(|l| l.contains(&bill_url) && l.contains(REL_BILL)),
        "{links:?}"
    );

    // Executed once: the quotation says so, and a second execution is refused.
    let after = alice.json(&format!("/quotations/{}", q["id"].as_str().unwrap()));
    assert_eq!(after["status"], "executed");
    assert_eq!(after["jobID"], job["jobID"]);
    exception(
        alice.execute_quote("echo", &q, None, false),
        409,
        "quotation-executed",
    );

    // Listed, with the tenant's total.
    let bills = alice.json("/bills");
    assert_eq!(bills["bills"].as_array().unwrap().len(), 1);
    assert_eq!(
        bills["totals"],
        json!([{"tenant": "alice", "bills": 1, "fuel": quoted,
        "price": {"amount": billed, "currency": "EUR"}}])
    );
    let listed = alice.json("/processes/echo/quotations");
    assert_eq!(listed["quotations"][0]["id"], q["id"]);
    assert_eq!(
        alice.json("/quotations")["quotations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_same_job_bills_the_same_fuel_and_history_quotes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, [alice, ..]) = server(&dir, &[]);
    let alice = As::key(&server, &alice);
    let inputs = object(20_000);

    let first = alice.quote("echo", inputs.clone(), "");
    assert_eq!(first["basis"], "dry-run");
    let second = alice.quote("echo", inputs.clone(), "");
    assert_eq!(
        second["basis"], "history",
        "the dry run is history now: {second}"
    );
    assert_eq!(fuel(&second, "estimate"), fuel(&first, "estimate"));

    let mut billed = Vec::new();
    for q in [&first, &second] {
        let job = alice.run_quote("echo", q);
        assert_eq!(job["status"], "successful", "{job}");
        let bill = alice.json(&format!("/bills/{}", q["id"].as_str().unwrap()));
        billed.push(fuel(&bill, "consumption"));
    }
    assert_eq!(
        billed,
        vec![fuel(&first, "estimate"); 2],
        "same job, same fuel"
    );

    // A size between those seen is quoted from a line through them, and
    // the estimate holds when the job runs.
    for size in [1_000, 200_000] {
        let r = alice
            .req("POST", "/processes/echo/execution")
            .json(&json!({"inputs": object(size)}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let q = alice.quote("echo", object(100_000), "");
    assert_eq!(q["basis"], "history", "{q}");
    assert!(q["samples"].as_u64().unwrap() >= 3, "{q}");
    let small = fuel(&first, "estimate");
    assert!(fuel(&q, "estimate") > small, "more input, more fuel: {q}");
    let job = alice.run_quote("echo", &q);
    assert_eq!(job["status"], "successful", "the regression held: {job}");
    // Asked for, a dry run prices the exact inputs whatever the history.
    let exact = alice.quote("echo", object(100_000), "?dryRun=true");
    assert_eq!(exact["basis"], "dry-run");
    let bill = alice.json(&format!("/bills/{}", q["id"].as_str().unwrap()));
    assert_eq!(fuel(&exact, "estimate"), fuel(&bill, "consumption"));
}

#[test]
fn an_oversized_input_fails_out_of_fuel_within_the_quotation() {
    let dir = tempfile::tempdir().unwrap();
    let (server, [alice, ..]) = server(&dir, &[]);
    let alice = As::key(&server, &alice);
    let q = alice.quote("echo", object(1_000), "");
    let budget = q["fuelBudget"].as_u64().unwrap();

    // Sync: the job's failure is the answer.
    let r = alice.execute_quote(
        "echo",
        &q,
        Some(json!({"inputs": object(1_000_000)})),
        false,
    );
    let failure = exception(r, 500, "out-of-fuel");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains(&budget.to_string()),
        "{failure}"
    );

    let bill = alice.json(&format!("/bills/{}", q["id"].as_str().unwrap()));
    assert_eq!(bill["jobStatus"], "failed");
    assert_eq!(
        fuel(&bill, "consumption"),
        budget,
        "it burnt its budget, no more"
    );
    assert!(amount(&bill, "price") <= amount(&q, "maxPrice"), "{bill}");
}

#[test]
fn an_expired_quotation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, [alice, ..]) = server(&dir, &[("WADES_QUOTE_VALIDITY_SECONDS", "1")]);
    let alice = As::key(&server, &alice);
    let q = alice.quote("echo", json!({"stringInput": "late"}), "");
    std::thread::sleep(Duration::from_millis(1_500));
    let id = q["id"].as_str().unwrap();
    assert_eq!(
        alice.json(&format!("/quotations/{id}"))["status"],
        "expired"
    );
    let refused = exception(
        alice.execute_quote("echo", &q, None, true),
        410,
        "quotation-expired",
    );
    assert!(
        refused["detail"].as_str().unwrap().contains("expired"),
        "{refused}"
    );
    exception(
        alice
            .req("POST", &format!("/quotations/{id}"))
            .send()
            .unwrap(),
        410,
        "quotation-expired",
    );
    assert_eq!(alice.json("/jobs")["jobs"], json!([]), "no job ran");
    assert_eq!(alice.json("/bills")["bills"], json!([]));
}

#[test]
fn quotations_and_bills_are_their_tenants_own() {
    let dir = tempfile::tempdir().unwrap();
    let (server, [alice, bob, carol]) = server(&dir, &[]);
    let (alice, bob, carol) = (
        As::key(&server, &alice),
        As::key(&server, &bob),
        As::key(&server, &carol),
    );
    let q = alice.quote("echo", json!({"stringInput": "mine"}), "");
    let id = q["id"].as_str().unwrap();

    // Bob can neither see nor spend alice's quotation.
    exception(
        bob.get(&format!("/quotations/{id}")),
        404,
        "no-such-quotation",
    );
    exception(
        bob.execute_quote("echo", &q, None, false),
        404,
        "no-such-quotation",
    );
    assert_eq!(bob.json("/quotations")["quotations"], json!([]));

    let r = alice.execute_quote("echo", &q, None, false);
    assert_eq!(r.status().as_u16(), 200);
    alice.json(&format!("/bills/{id}"));
    exception(bob.get(&format!("/bills/{id}")), 404, "no-such-bill");
    exception(
        As::anonymous(&server).get(&format!("/bills/{id}")),
        404,
        "no-such-bill",
    );
    let theirs = bob.json("/bills");
    assert_eq!(
        (&theirs["bills"], &theirs["totals"]),
        (&json!([]), &json!([]))
    );

    // An admin sees every tenant's bills and totals.
    let all = carol.json("/bills");
    assert_eq!(all["bills"][0]["id"], q["id"]);
    assert_eq!(all["totals"][0]["tenant"], "alice");
    exception(alice.get("/bills/no-such-thing"), 404, "no-such-bill");
}

#[test]
fn clients_can_discover_quotation_and_billing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server(&dir, &[]);
    let anyone = As::anonymous(&server);
    let conformance = anyone.json("/conformance");
    let classes = conformance["conformsTo"].as_array().unwrap();
    for class in ["quotation", "billing"] {
        assert!(
            classes
                .iter()
                .any(|c| c.as_str().unwrap().ends_with(&format!("/conf/{class}"))),
            "{class}"
        );
    }
    let landing = anyone.json("/");
    for path in ["/quotations", "/bills"] {
        assert!(
            landing["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["href"] == server.url(path)),
            "{path}"
        );
    }
    let api = anyone.json("/api");
    for path in [
        "/processes/{id}/quotations",
        "/processes/{id}/quotations/{quotationId}",
        "/quotations",
        "/quotations/{quotationId}",
        "/bills",
        "/bills/{billId}",
    ] {
        assert!(api["paths"][path].is_object(), "{path}");
    }
    // Bad requests are OGC exceptions.
    let r = anyone
        .req("POST", "/processes/echo/quotations?dryRun=maybe")
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    exception(r, 400, "invalid-parameter");
    let r = anyone
        .req("POST", "/processes/nope/quotations")
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    exception(r, 404, "no-such-process");
    exception(anyone.get("/quotations/nope"), 404, "no-such-quotation");
}
