//! The HTML pages over HTTP, against the real binary: which requests get a
//! page (`f=html`, a browser's `Accept`) and which JSON, what each page
//! shows, that a page shows a tenant no more than the JSON would, that text
//! from users is escaped, and that operators can replace templates.
//! `tests/browser.rs` drives the same pages in headless Chromium.

mod common;

use common::{client, tenant, As, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// Chromium's Accept header for a navigation.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";

fn page(s: &Server, path: &str) -> String {
    page_with(&client(), s, path)
}

fn page_with(c: &reqwest::blocking::Client, s: &Server, path: &str) -> String {
    let r = c.get(s.url(path)).header("Accept", BROWSER).send().unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(
        r.headers()["content-type"],
        "text/html; charset=utf-8",
        "{path}"
    );
    assert_eq!(r.headers()["vary"], "Accept", "{path}");
    // Only the page's own scripts run: those with this response's nonce.
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|n| n.split('\'').next())
        .unwrap_or_else(|| panic!("{path}: no script nonce in {csp}"))
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = r.text().unwrap();
    let scripts = html.matches("<script").count();
    let with_nonce = html.matches(&format!("<script nonce=\"{nonce}\">")).count();
    assert_eq!(scripts, with_nonce, "{path}: a script without the nonce");
    html
}

fn run_echo(c: &reqwest::blocking::Client, s: &Server, text: &str) -> String {
    let r = c
        .post(s.url("/processes/echo/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"stringInput": text}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    let status =
        common::wait_final_with(c, &s.url(&format!("/jobs/{id}")), Duration::from_secs(30));
    assert_eq!(status["status"], "successful");
    id
}

#[test]
fn browsers_get_pages_clients_get_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let job = run_echo(&client(), &s, "negotiated");
    for path in [
        "/".to_string(),
        "/conformance".into(),
        "/processes".into(),
        "/processes/echo".into(),
        "/jobs".into(),
        format!("/jobs/{job}"),
        format!("/jobs/{job}/results"),
    ] {
        let html = page(&s, &path);
        assert!(html.starts_with("<!doctype html>"), "{path}");
        // f=html without Accept, too.
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = client()
            .get(s.url(&format!("{path}{sep}f=html")))
            .send()
            .unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        // Clients: no Accept, */*, JSON, or a browser's Accept overruled by f=json.
        for (accept, query) in [
            (None, ""),
            (Some("*/*"), ""),
            (Some("application/json"), ""),
            (Some(BROWSER), "f=json"),
        ] {
            let url = match query {
                "" => s.url(&path),
                q => s.url(&format!("{path}{sep}{q}")),
            };
            let mut req = client().get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            let r = req.send().unwrap();
            assert_eq!(r.status(), 200, "{path} {accept:?}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{path} {accept:?} {query}"
            );
            r.json::<Value>().unwrap();
        }
    }
}

#[test]
fn pages_show_what_the_documents_hold() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let landing = page(&s, "/");
    assert!(landing.contains("/processes") && landing.contains("/conformance"));
    let conformance = page(&s, "/conformance");
    assert!(conformance.contains("/conf/html"));

    let processes = page(&s, "/processes");
    for id in ["echo", "hello-world"] {
        assert!(
            processes.contains(&format!("/processes/{id}?f=html")),
            "{id}"
        );
    }

    // One field per input of echo, of a kind that fits its schema.
    let echo = page(&s, "/processes/echo");
    for (input, control) in [
        ("stringInput", r#"<input type="text" id="in-stringInput""#),
        ("numberInput", r#"<input type="number" id="in-numberInput""#),
        (
            "integerInput",
            r#"id="in-integerInput" name="integerInput" step="1""#,
        ),
        ("booleanInput", r#"<select id="in-booleanInput""#),
        ("arrayInput", r#"<textarea id="in-arrayInput""#),
        ("objectInput", r#"<textarea id="in-objectInput""#),
        ("bboxInput", r#"name="bboxInput-crs""#),
        ("binaryInput", r#"<input type="file" id="in-binaryInput""#),
        ("pause", r#"max="3600"#),
    ] {
        assert!(echo.contains(control), "{input}: {control} not in the page");
    }
    // echo runs async too: the form asks for a job.
    assert!(echo.contains(r#"data-async="true""#));
    assert!(echo.contains(r#"data-action=""#) && echo.contains("/processes/echo/execution"));

    let job = run_echo(&client(), &s, "shown on the page");
    let jobs = page(&s, "/jobs");
    assert!(jobs.contains(&format!("data-job=\"{job}\"")));
    assert!(jobs.contains("status-successful"));
    assert!(jobs.contains(r#"aria-valuenow="100""#));
    let job_page = page(&s, &format!("/jobs/{job}"));
    assert!(job_page.contains("shown on the page"));
    assert!(job_page.contains(&format!("/jobs/{job}/results/stringInput")));
    assert!(job_page.contains(&format!("/jobs/{job}/logs")));
}

#[test]
fn text_from_users_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let job = run_echo(&client(), &s, "<script>alert('x')</script>");
    let html = page(&s, &format!("/jobs/{job}"));
    assert!(!html.contains("<script>alert"), "unescaped user text");
    assert!(html.contains("&lt;script&gt;alert"));
}

#[test]
fn a_page_shows_a_tenant_what_the_json_would() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let alice = tenant(&data, "alice", "user");
    let bob = tenant(&data, "bob", "user");
    let s = Server::start_env(&dir, &[("WADES_ANONYMOUS", "none")]);
    let (alice, bob) = (As::key(&s, &alice), As::key(&s, &bob));
    let job = run_echo(&alice.client(), &s, "alice's secret");
    assert!(page_with(&alice.client(), &s, "/jobs").contains(&job));
    assert!(!page_with(&bob.client(), &s, "/jobs").contains(&job));
    let r = bob
        .client()
        .get(s.url(&format!("/jobs/{job}?f=html")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.text().unwrap().contains("secret"));
    // And no page for no one.
    let r = client().get(s.url("/jobs?f=html")).send().unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn operators_replace_templates() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("landing.html"),
        "{% extends \"base.html\" %}{% block content %}<h1>Our processing centre</h1>\
         {% for l in doc.links %}<a href=\"{{ l.href }}\">{{ l.rel }}</a>{% endfor %}{% endblock %}",
    )
    .unwrap();
    let s = Server::start_env(&dir, &[("WADES_TEMPLATES", templates.to_str().unwrap())]);
    let html = page(&s, "/");
    assert!(html.contains("<h1>Our processing centre</h1>"));
    assert!(html.contains("/conformance"));
    // The others are still the built-in ones.
    assert!(page(&s, "/processes").contains("<h1>Processes</h1>"));
}
