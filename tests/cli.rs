//! The `wades` command line as its users drive it: a process author's path
//! (`new` → `build` → `deploy` → `execute`) against the real server, and
//! the client commands (`execute`, `jobs`, `processes`) against wades and
//! against another OGC API – Processes server, pygeoapi 0.21 from PyPI
//! (the `pygeoapi-harness` crate, shared with the benchmarks).

mod common;

use common::Server;
use pygeoapi_harness::{Manager, Pygeoapi};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `wades ARGS` in `cwd` as a client of `url` with `key`.
fn wades(cwd: &Path, url: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(common::binary());
    cmd.current_dir(cwd).args(args).env("WADES_URL", url);
    match key {
        Some(key) => cmd.env("WADES_API_KEY", key),
        None => cmd.env_remove("WADES_API_KEY"),
    };
    cmd.env_remove("RUST_BACKTRACE");
    cmd.output().expect("wades runs")
}

/// Like [`wades`], and it must succeed; returns its standard output.
fn ok(cwd: &Path, url: &str, key: Option<&str>, args: &[&str]) -> String {
    let out = wades(cwd, url, key, args);
    assert!(
        out.status.success(),
        "wades {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The job id `wades execute` reports on standard error (`job <id>`).
fn job_of(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("job "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no job id in: {stderr}"))
        .to_string()
}

/// The files `wades` said it saved: `output\tpath\tN bytes` lines.
fn saved(stdout: &str, cwd: &Path) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let output = parts.next()?.to_string();
            let path = parts.next()?;
            let text = std::fs::read_to_string(cwd.join(path)).ok()?;
            Some((output, text))
        })
        .collect()
}

#[test]
fn an_author_scaffolds_builds_deploys_and_executes_a_process() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_developer(&dir, &[]);
    let key = server.key.clone();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let base = server.base.as_str();

    let files = ok(&work, base, None, &["new", "shout"]);
    assert!(files.contains("shout/Cargo.toml") && files.contains("shout/src/lib.rs"));
    assert!(
        !wades(&work, base, None, &["new", "shout"]).status.success(),
        "new over an existing folder"
    );
    assert!(!wades(&work, base, None, &["new", "9lives"])
        .status
        .success());

    // The guest target folder xtask builds the examples in: the SDK and, on the
    // build-std path, the standard library are built once, not twice.
    let target = root().join("target/guest");
    let built = ok(
        &work,
        base,
        None,
        &["build", "shout", "--target-dir", target.to_str().unwrap()],
    );
    let wasm = PathBuf::from(built.trim());
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(&bytes[4..8], &[0x0d, 0x00, 0x01, 0x00], "a component");

    // Deploying needs the developer's key.
    let wasm_arg = wasm.to_str().unwrap();
    let refused = wades(&work, base, None, &["deploy", wasm_arg]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    let deployed = ok(&work, base, key.as_deref(), &["deploy", wasm_arg]);
    assert!(deployed.contains("/processes/shout"), "{deployed}");

    let described: Value = serde_json::from_str(&ok(
        &work,
        base,
        key.as_deref(),
        &["processes", "describe", "shout"],
    ))
    .unwrap();
    assert_eq!(described["id"], "shout");
    assert!(described["inputs"]["text"].is_object() && described["inputs"]["times"].is_object());

    // Executed as a job, followed until it ends, the result saved to a file.
    let out = wades(
        &work,
        base,
        key.as_deref(),
        &[
            "execute", "shout", "-i", "text=hey", "-i", "times=3", "--out", "res",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = job_of(&out);
    let files = saved(&String::from_utf8_lossy(&out.stdout), &work);
    assert_eq!(files, vec![("result".to_string(), "HEYHEYHEY".to_string())]);

    // The same job, seen through the jobs commands.
    let list = ok(&work, base, key.as_deref(), &["jobs", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&job) && l.contains("successful")),
        "{list}"
    );
    let status: Value =
        serde_json::from_str(&ok(&work, base, key.as_deref(), &["jobs", "status", &job])).unwrap();
    assert_eq!(status["status"], "successful");
    let again = ok(
        &work,
        base,
        key.as_deref(),
        &["jobs", "results", &job, "--out", "again"],
    );
    assert_eq!(saved(&again, &work), files);

    // A job the process refuses fails the command with the process's reason.
    let out = wades(
        &work,
        base,
        key.as_deref(),
        &["execute", "shout", "-i", "text=x", "-i", "times=5000"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed") && stderr.contains("at most 1000"),
        "{stderr}"
    );
}

#[test]
fn the_client_runs_follows_and_dismisses_jobs_on_wades() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let work = dir.path();
    let base = server.base.as_str();

    let list = ok(work, base, None, &["processes", "list"]);
    assert!(list.lines().any(|l| l.starts_with("echo ")), "{list}");

    // Every kind of value, and a file sent by value.
    std::fs::write(work.join("in.bin"), "from a file").unwrap();
    let out = ok(
        work,
        base,
        None,
        &[
            "execute",
            "echo",
            "--sync",
            "--out",
            "sync",
            "-i",
            "stringInput=plain text",
            "-i",
            "arrayInput=1",
            "-i",
            "arrayInput=2",
            "-i",
            "objectInput={\"property1\":\"v\"}",
            "-i",
            "binaryInput=@in.bin",
        ],
    );
    let files = saved(&out, work);
    let get = |id: &str| files.iter().find(|(o, _)| o == id).map(|(_, t)| t.clone());
    assert_eq!(get("stringInput").as_deref(), Some("plain text"));
    let array: Value = serde_json::from_str(&get("arrayInput").unwrap()).unwrap();
    assert_eq!(array, serde_json::json!([1.0, 2.0]));
    let object: Value = serde_json::from_str(&get("objectInput").unwrap()).unwrap();
    assert_eq!(object, serde_json::json!({"property1": "v"}));
    assert_eq!(get("binaryInput").as_deref(), Some("from a file"));

    // A job that pauses, dismissed by a second command while the first follows it.
    let mut follower = Command::new(common::binary())
        .current_dir(work)
        .args([
            "execute",
            "echo",
            "-i",
            "stringInput=slow",
            "-i",
            "pause=30",
        ])
        .env("WADES_URL", base)
        .env_remove("WADES_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = wait_for_job(base);
    let dismissed = ok(work, base, None, &["jobs", "dismiss", &job]);
    assert_eq!(dismissed.trim(), format!("{job} dismissed"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while follower.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "execute still follows a dismissed job"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = follower.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dismissed"));

    // What the server refuses comes back as its OGC exception.
    let out = wades(work, base, None, &["execute", "no-such"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-process"));
    let out = wades(
        work,
        base,
        None,
        &["jobs", "status", "00000000-0000-0000-0000-000000000000"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-job"));
}

/// The id of the one running job on the server at `base`.
fn wait_for_job(base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list: Value = common::client()
            .get(format!("{base}/jobs?status=running"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if let Some(id) = list["jobs"][0]["jobID"].as_str() {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "the job never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_client_commands_work_against_pygeoapi() {
    let py = Pygeoapi::start(&root(), Manager::TinyDb).expect("pygeoapi starts");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let base = py.base.as_str();

    let list = ok(work, base, None, &["processes", "list"]);
    assert!(
        list.lines().any(|l| l.starts_with("hello-world ")),
        "{list}"
    );
    let described: Value = serde_json::from_str(&ok(
        work,
        base,
        None,
        &["processes", "describe", "hello-world"],
    ))
    .unwrap();
    assert_eq!(described["id"], "hello-world");

    let out = ok(
        work,
        base,
        None,
        &[
            "execute",
            "hello-world",
            "--sync",
            "-i",
            "name=Sync",
            "--out",
            "s",
        ],
    );
    assert!(
        saved(&out, work)
            .iter()
            .any(|(_, t)| t.contains("Hello Sync!")),
        "{out}"
    );

    let run = wades(
        work,
        base,
        None,
        &["execute", "hello-world", "-i", "name=Async", "--out", "a"],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let job = job_of(&run);
    assert!(
        saved(&String::from_utf8_lossy(&run.stdout), work)
            .iter()
            .any(|(_, t)| t.contains("Hello Async!")),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );

    let jobs = ok(work, base, None, &["jobs", "list"]);
    assert!(
        jobs.lines()
            .any(|l| l.starts_with(&job) && l.contains("successful")),
        "{jobs}"
    );
    let status: Value =
        serde_json::from_str(&ok(work, base, None, &["jobs", "status", &job])).unwrap();
    assert_eq!(status["status"], "successful");
    let results = ok(work, base, None, &["jobs", "results", &job, "--out", "r"]);
    assert!(saved(&results, work)
        .iter()
        .any(|(_, t)| t.contains("Hello Async!")));
    assert_eq!(py.errors_logged(), 0, "{}", py.log_tail());
    // (pygeoapi logs a traceback for the unknown job asked for below.)
    ok(work, base, None, &["jobs", "dismiss", &job]);
    let gone = wades(work, base, None, &["jobs", "status", &job]);
    assert!(
        !gone.status.success(),
        "a dismissed pygeoapi job is deleted"
    );
}
