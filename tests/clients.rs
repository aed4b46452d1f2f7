//! Real OGC API - Processes clients from PyPI, run as a new user would run
//! them, against the real `wades` binary: OWSLib and ogc-api-processes-client
//! (pinned in `tests/clients/requirements.txt`) list the processes, describe
//! `echo`, execute it synchronously and asynchronously and read the results
//! (`tests/clients/*.py`); unity-sps-ogc-processes-api-python-client
//! deploys, replaces and undeploys a component (Part 2,
//! `tests/clients/unity_deploy.py`); and the `cuiman` shell client
//! (`cuiman==0.1.1` with `gavicore==0.1.1`) runs its whole command set.
//!
//! The clients are installed into a virtualenv at `target/client-venv`
//! (the Part 2 client into `target/client-venv-unity`, from
//! `requirements-unity.txt`) by `common::venv`.

mod common;

use common::{venv, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one script may take, server work included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The virtualenv's python, with the requirements installed.
fn venv_python() -> PathBuf {
    venv::python("client-venv", &clients_dir().join("requirements.txt"))
}

/// The Part 2 client's virtualenv (`target/client-venv-unity`, from
/// `tests/clients/requirements-unity.txt`): its urllib3 bound conflicts
/// with what ogc-api-processes-client needs.
fn unity_python() -> PathBuf {
    venv::python(
        "client-venv-unity",
        &clients_dir().join("requirements-unity.txt"),
    )
}

/// The cuiman virtualenv (`target/client-venv-cuiman`, from
/// `tests/clients/requirements-cuiman.txt`).
fn cuiman_venv() -> PathBuf {
    let python = venv::python(
        "client-venv-cuiman",
        &clients_dir().join("requirements-cuiman.txt"),
    );
    python.with_file_name("cuiman")
}

/// Runs one client script against `base`; `Err` holds why and everything
/// the script printed.
fn run_script(python: &Path, script: &str, base: &str, logs: &Path) -> Result<String, String> {
    run_script_args(python, script, &[base.as_ref()], logs)
}

/// Runs one client script with `args`; `Err` holds why and everything the
/// script printed.
fn run_script_args(
    python: &Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    logs: &Path,
) -> Result<String, String> {
    let stdout_path = logs.join(format!("{script}.stdout"));
    let stderr_path = logs.join(format!("{script}.stderr"));
    let mut child = Command::new(python)
        .arg(clients_dir().join(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!(
        "--- {script} stdout\n{}--- {script} stderr\n{}",
        std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("{script} failed ({s})\n{output}")),
        None => Err(format!(
            "{script} timed out after {SCRIPT_TIMEOUT:?}\n{output}"
        )),
    }
}

#[test]
fn python_clients_execute_echo_sync_and_async() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let mut failures = Vec::new();
    for script in ["owslib_client.py", "processes_client.py"] {
        match run_script(&python, script, &server.base, dir.path()) {
            Ok(output) => println!("{output}"),
            Err(report) => {
                println!("{report}");
                failures.push(report);
            }
        }
    }
    if !failures.is_empty() {
        let log = std::fs::read_to_string(server.data.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "{} of 2 client scripts failed:\n\n{}\n--- server.log (last lines)\n{}",
            failures.len(),
            failures.join("\n\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

/// Part 2 with a real client: unity-sps-ogc-processes-api-python-client,
/// with a developer's API key as its bearer token (and refused without),
/// deploys hello-world inline (base64 in an application package sent as
/// `application/json`), lists and executes it, replaces it with echo by
/// `href` under the same id, executes that, undeploys it and gets 404s.
#[test]
fn python_client_deploys_replaces_and_undeploys() {
    let python = unity_python();
    let dir = tempfile::tempdir().unwrap();
    // Deploying needs credentials: the script sends the developer's key.
    let server = Server::start_developer(&dir, &[]);
    let key = server.key.clone().expect("the developer's key");
    let wasm = common::guests();
    let hello = wasm.join("hello-world.wasm");
    let echo = wasm.join("echo.wasm");
    let args = [
        server.base.as_ref(),
        hello.as_os_str(),
        echo.as_os_str(),
        key.as_ref(),
    ];
    match run_script_args(&python, "unity_deploy.py", &args, dir.path()) {
        Ok(output) => println!("{output}"),
        Err(report) => {
            let log = std::fs::read_to_string(server.data.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "{report}\n--- server.log (last lines)\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// `cuiman ARGS -c CONFIG -f json` (configure takes no format); its JSON
/// output, or a panic with what it printed.
fn cuiman(bin: &Path, config: &Path, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .arg("-c")
        .arg(config)
        .env("COLUMNS", "200")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    if args[0] != "configure" {
        cmd.args(["-f", "json"]);
    }
    let out = cmd.output().expect("cuiman runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cuiman {args:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if args[0] == "configure" {
        return serde_json::Value::Null;
    }
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("cuiman {args:?}: {e}:\n{stdout}"))
}

/// cuiman 0.1.1, the EOzilla shell client, through every command it has:
/// configure (with the developer's key as bearer token), list-processes,
/// get-process, execute-process, get-job until it is final,
/// get-job-results, list-jobs and dismiss-job. cuiman sends no `Prefer`
/// header and expects a job, so it runs a process whose package narrows
/// its job control to async-execute (with no `Prefer`, a process that
/// also allows sync-execute runs synchronously).
#[test]
fn cuiman_runs_its_whole_flow() {
    let bin = cuiman_venv();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_developer(&dir, &[]);
    let key = server.key.clone().expect("the developer's key");
    let echo = std::fs::read(common::guests().join("echo.wasm")).unwrap();
    let package = serde_json::json!({
        "processDescription": {"id": "echo-jobs", "jobControlOptions": ["async-execute", "dismiss"]},
        "executionUnit": {
            "value": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, echo),
            "encoding": "base64",
            "mediaType": "application/wasm"
        }
    });
    let deployed = server
        .client()
        .post(server.url("/processes"))
        .header("Content-Type", "application/ogcapppkg+json")
        .json(&package)
        .send()
        .unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().unwrap());

    let config = dir.path().join("cuiman.yaml");
    cuiman(
        &bin,
        &config,
        &[
            "configure",
            "--api-url",
            &server.base,
            "-a",
            "token",
            "-t",
            &key,
            "--use-bearer",
        ],
    );
    let list = cuiman(&bin, &config, &["list-processes"]);
    let ids: Vec<&str> = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"echo-jobs") && ids.contains(&"echo"),
        "{ids:?}"
    );
    let process = cuiman(&bin, &config, &["get-process", "echo-jobs"]);
    assert_eq!(
        process["jobControlOptions"],
        serde_json::json!(["async-execute", "dismiss"])
    );

    let job = cuiman(
        &bin,
        &config,
        &[
            "execute-process",
            "echo-jobs",
            "-i",
            "stringInput=from cuiman",
            "-i",
            "pause=0.2",
        ],
    );
    let id = job["jobID"].as_str().expect("a job").to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = cuiman(&bin, &config, &["get-job", &id]);
        match status["status"].as_str() {
            Some("successful") => break,
            Some("accepted" | "running") if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("job {id} is {other:?}: {status}"),
        }
    }
    let results = cuiman(&bin, &config, &["get-job-results", &id]);
    assert_eq!(results["stringInput"], "from cuiman", "{results}");
    let jobs = cuiman(&bin, &config, &["list-jobs"]);
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["jobID"] == id),
        "{jobs}"
    );

    let long = cuiman(
        &bin,
        &config,
        &[
            "execute-process",
            "echo-jobs",
            "-i",
            "stringInput=long",
            "-i",
            "pause=60",
        ],
    );
    let long = long["jobID"].as_str().unwrap().to_string();
    let dismissed = cuiman(&bin, &config, &["dismiss-job", &long]);
    assert_eq!(dismissed["status"], "dismissed", "{dismissed}");
    let status: serde_json::Value = server
        .client()
        .get(server.url(&format!("/jobs/{long}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["status"], "dismissed");
}
