//! Real OGC API - Processes clients from PyPI, run as a new user would run
//! them, against the real `wades` binary: OWSLib and ogc-api-processes-client
//! (pinned in `tests/clients/requirements.txt`) list the processes, describe
//! `echo`, execute it synchronously and asynchronously and read the results
//! (`tests/clients/*.py`); unity-sps-ogc-processes-api-python-client
//! deploys, replaces and undeploys a component (Part 2,
//! `tests/clients/unity_deploy.py`).
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
