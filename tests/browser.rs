//! A user in a real browser (headless Chromium): opens the processes page,
//! picks `echo`, fills its execute form (text, number, boolean, a file),
//! submits it, watches the job's progress bar move to `successful` on the
//! jobs page, and downloads a result. The jobs page is saved as
//! `target/artifacts/jobs.png` (CI keeps it; `docs/jobs.png` is a copy).

mod common;

use common::webdriver::Browser;
use common::{client, Server};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn a_user_runs_a_process_from_the_browser_and_downloads_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    // Some history for the jobs page.
    for (name, pause) in [("earlier", 0.0), ("yesterday's", 0.0)] {
        let r = client()
            .post(s.url("/processes/echo/execution"))
            .header("Prefer", "respond-async")
            .json(&json!({"inputs": {"stringInput": name, "pause": pause}}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, [0u8, 1, 2, 3, 254, 255]).unwrap();

    let b = Browser::start(&downloads);
    b.goto(&s.url("/"));
    b.find("a[href$='/processes?f=html']").click();
    b.find("a[href$='/processes/echo?f=html']").click();
    b.find("#in-stringInput").send_keys("hello from chromium");
    b.find("#in-numberInput").send_keys("4.5");
    b.find("#in-booleanInput option[value='true']").click();
    b.find("#in-binaryInput")
        .send_keys(upload.to_str().unwrap());
    b.find("#in-pause").send_keys("3");
    b.find("#run").click();

    // The form's script submitted the job and opened its page.
    b.wait_for(
        "return document.querySelector('#job') !== null",
        Duration::from_secs(10),
    );
    let job_url = b.current_url();
    assert!(job_url.contains("/jobs/"), "{job_url}");
    let job_id = job_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();

    // The jobs page: the new job running, its bar moving by itself.
    b.goto(&s.url("/jobs"));
    let row = format!("tr[data-job='{job_id}']");
    b.find(&row);
    b.wait_for(
        &format!(
            "const bar = document.querySelector(\"{row} .bar\"); \
             const p = Number(bar.getAttribute('aria-valuenow')); return p > 0 && p < 100"
        ),
        Duration::from_secs(10),
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("jobs-running.png"), b.screenshot()).unwrap();
    b.wait_for(
        &format!("return document.querySelector(\"{row} .status\").textContent === 'successful'"),
        Duration::from_secs(30),
    );
    assert_eq!(b.find(&format!("{row} .pct")).text(), "100%");
    let png = b.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(artifacts.join("jobs.png"), &png).unwrap();

    // The job's page shows the results; the user downloads one.
    b.find(&format!("{row} a")).click();
    b.find("#results");
    let page = b.find("#results").text();
    assert!(page.contains("hello from chromium"), "{page}");
    assert!(page.contains("4.5"), "{page}");
    let link = b.find("#results a.download[href$='/results/binaryInput']");
    assert!(link.attribute("href").unwrap().contains(&job_id));
    link.click();
    let file = downloads.join("binaryInput");
    let start = Instant::now();
    while std::fs::read(&file).ok().as_deref() != Some(&[0u8, 1, 2, 3, 254, 255][..]) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no download in {}: {:?}",
            downloads.display(),
            std::fs::read_dir(&downloads).unwrap().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
