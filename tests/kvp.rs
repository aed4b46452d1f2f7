//! KVP execute: `GET /processes/{id}/execution?…` with every value form of
//! the 2.0 draft's examples, adapted to `echo` (whose outputs mirror its
//! inputs), against the real binary.

mod common;

use common::{client, exception, serve_bytes, wait_final, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn kvp(s: &Server, query: &str) -> reqwest::blocking::Response {
    client()
        .get(s.url(&format!("/processes/echo/execution?{query}")))
        .send()
        .unwrap()
}

fn document(s: &Server, query: &str) -> Value {
    let r = kvp(s, query);
    assert_eq!(r.status(), 200, "{query}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    r.json().unwrap()
}

#[test]
fn simple_complex_and_array_values_run_as_a_post_would() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let doc = document(
        &s,
        "stringInput=hello%20world&numberInput=3.5&integerInput=7&booleanInput=true\
         &arrayInput=%5B1%2C2%2C3%5D&objectInput=%7B%22a%22%3A%5B1%2C%7B%22b%22%3Anull%7D%5D%7D&f=json",
    );
    assert_eq!(doc["stringInput"], "hello world");
    assert_eq!(doc["numberInput"], 3.5);
    assert_eq!(doc["integerInput"], 7);
    assert_eq!(doc["booleanInput"], true);
    assert_eq!(doc["arrayInput"], json!([1.0, 2.0, 3.0]));
    // An object output comes qualified, with its media type.
    assert_eq!(doc["objectInput"]["value"], json!({"a": [1, {"b": null}]}));
    // A string input keeps text that reads as JSON.
    let doc = document(&s, "stringInput=42&f=json");
    assert_eq!(doc["stringInput"], "42");
}

#[test]
fn bbox_with_crs_reference_binary_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let doc = document(
        &s,
        "bboxInput=-10.5,40,5,50.25&bboxInput-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84&f=json",
    );
    assert_eq!(doc["bboxInput"]["bbox"], json!([-10.5, 40.0, 5.0, 50.25]));
    assert_eq!(
        doc["bboxInput"]["crs"],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    let doc = document(&s, "bboxInput=1,2,3,4&bboxInput%5Bcrs%5D=EPSG:4326&f=json");
    assert_eq!(doc["bboxInput"]["crs"], "EPSG:4326");

    let href = format!(
        "{}/data.csv",
        serve_bytes(b"a,b\n1,2\n".to_vec(), "text/csv")
    );
    let doc = document(
        &s,
        &format!("referenceInput%5Bhref%5D={href}&referenceInput%5Btype%5D=text/csv&f=json"),
    );
    assert_eq!(doc["referenceInput"]["href"], href.as_str(), "{doc}");

    // Binary, base64 in the query: the raw output is the bytes themselves.
    let r = kvp(
        &s,
        "binaryInput%5Bvalue%5D=AAEC%2F%2F4%3D&binaryInput%5BmediaType%5D=application/octet-stream\
         &binaryInput%5Binclude%5D=true",
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.bytes().unwrap().as_ref(), &[0u8, 1, 2, 255, 254]);

    // [include] picks outputs: two asked for, two in the document.
    let doc = document(
        &s,
        "stringInput=a&numberInput=1&booleanInput=false&stringInput%5Binclude%5D=true\
         &numberInput%5Binclude%5D=true&f=json",
    );
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{doc}");
    assert_eq!(doc["numberInput"], 1.0);
    // Without f, one output asked for comes raw.
    let r = kvp(&s, "stringInput=raw%20text&stringInput%5Binclude%5D=true");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), "raw text");
}

#[test]
fn prefer_respond_async_makes_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let r = kvp(&s, "stringInput=later&prefer=respond-async");
    assert_eq!(r.status(), 201);
    assert!(r.headers()["preference-applied"]
        .to_str()
        .unwrap()
        .contains("respond-async"));
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let status = wait_final(&location, Duration::from_secs(30));
    assert_eq!(status["status"], "successful");
    let results: Value = client()
        .get(format!("{location}/results"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(results["stringInput"], "later");
}

#[test]
fn bad_queries_get_ogc_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let invalid = "invalid-parameter";
    for query in [
        "nosuchinput=1",
        "numberInput=abc",
        "bboxInput=1,2,x,4",
        "arrayInput=%5B%5D",
        "stringInput=a&f=xml",
        "stringInput%5Bbogus%5D=1",
        "referenceInput%5Bhref%5D=file:///etc/passwd",
    ] {
        exception(kvp(&s, query), 400, invalid);
    }
    let r = client()
        .get(s.url("/processes/nope/execution?x=1"))
        .send()
        .unwrap();
    exception(r, 404, "no-such-process");
}
