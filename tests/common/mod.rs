//! Starts the real `wades` binary on an ephemeral port, with its own data
//! folder, and stops it when dropped.

#![allow(dead_code)]

pub mod database;
pub mod venv;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where [`Server::start_developer`] keeps the developer's key.
const DEVELOPER_KEY: &str = "developer.key";

/// A running server.
pub struct Server {
    child: Child,
    /// e.g. `http://127.0.0.1:40123`
    pub base: String,
    /// Its data folder.
    pub data: PathBuf,
    /// The API key of tenant `developer`, if the folder has one (see
    /// [`Server::start_developer`]); [`Server::client`] sends it.
    pub key: Option<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary cargo built next to this test.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("wades");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --release -p wades`",
        bin.display()
    );
    bin
}

/// Runs `wades ARGS` (a CLI command, not the server) on the data folder
/// `data` and returns its standard output; panics if it fails.
pub fn cli(data: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(binary());
    cmd.arg("--data-dir").arg(data);
    if let Some(url) = database::url_for(data) {
        cmd.arg("--database").arg(url);
    }
    let out = cmd.args(args).output().expect("wades runs");
    assert!(
        out.status.success(),
        "wades {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The built-in components, built by `cargo xtask guests`.
pub fn guests() -> PathBuf {
    let dir = root().join("target/wasm");
    assert!(
        dir.join("echo.wasm").exists(),
        "build the example components first: `cargo xtask guests`"
    );
    dir
}

/// A data folder whose compiled-artifact cache is already warm, so that
/// servers start in well under a second.
fn warm_artifacts() -> &'static Path {
    static WARM: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_keep, path) = WARM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        drop(Server::start_with(&data, &[]));
        (dir, data.join("artifacts"))
    });
    path
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

impl Server {
    /// A server on a fresh data folder (kept in `dir`).
    pub fn start(dir: &tempfile::TempDir) -> Server {
        Server::start_env(dir, &[])
    }

    /// A fresh server with extra environment.
    pub fn start_env(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let data = dir.path().join("data");
        if !data.join("artifacts").exists() {
            copy_dir(warm_artifacts(), &data.join("artifacts"));
        }
        Server::start_with(&data, env)
    }

    /// A fresh server with a tenant `developer` (role developer) whose key
    /// [`Server::client`] sends: deploying needs credentials.
    pub fn start_developer(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        cli(
            &data,
            &["tenant", "add", "developer", "--role", "developer"],
        );
        let key = cli(&data, &["key", "create", "developer"]);
        std::fs::write(data.join(DEVELOPER_KEY), key.trim()).unwrap();
        Server::start_env(dir, env)
    }

    /// A client that sends this server's developer key, if it has one.
    pub fn client(&self) -> reqwest::blocking::Client {
        client_with(self.key.as_deref())
    }

    /// A server on `data` as it is (restarts use this).
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("server.log"))
            .unwrap();
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--builtin-dir")
            .arg(guests())
            // Tests serve href inputs from loopback.
            .env("WADES_FETCH_ALLOW", "127.0.0.0/8")
            .env("WADES_WORKERS", "2")
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(url) = database::url_for(data) {
            // A killed node's jobs run again once its lease expires: soon,
            // in tests.
            cmd.arg("--database")
                .arg(url)
                .env("WADES_LEASE_SECONDS", "2");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("wades starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                panic!(
                    "wades did not start; see {}",
                    data.join("server.log").display()
                )
            });
        let base = line
            .strip_prefix("wades listening on ")
            .expect("the ready line")
            .to_string();
        Server {
            child,
            base,
            key: std::fs::read_to_string(data.join(DEVELOPER_KEY)).ok(),
            data: data.to_path_buf(),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking client without redirects or proxies.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Polls the job at `url` until its status is final.
pub fn wait_final(url: &str, timeout: Duration) -> serde_json::Value {
    wait_final_with(&client(), url, timeout)
}

/// [`wait_final`] with the credentials `c` sends.
pub fn wait_final_with(
    c: &reqwest::blocking::Client,
    url: &str,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let status: serde_json::Value = c.get(url).send().unwrap().json().unwrap();
        if matches!(
            status["status"].as_str(),
            Some("successful" | "failed" | "dismissed")
        ) {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "job at {url} still {} after {timeout:?}",
            status["status"]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Serves `body` to every GET on a loopback port, for hrefs the server
/// fetches, and returns its base URL.
pub fn serve_bytes(body: Vec<u8>, media_type: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// A client of `server` acting as one tenant (by its API key) or
/// anonymously. Test files add the requests they need in their own
/// `impl As` blocks.
pub struct As<'a> {
    pub server: &'a Server,
    pub key: Option<String>,
}

impl<'a> As<'a> {
    /// A client of `server` sending `key`.
    pub fn key(server: &'a Server, key: &str) -> Self {
        As {
            server,
            key: Some(key.to_string()),
        }
    }

    /// A client of `server` sending no credentials.
    pub fn anonymous(server: &'a Server) -> Self {
        As { server, key: None }
    }

    /// A client that sends this identity's credentials with every request
    /// and keeps its connections, e.g. for polling full URLs.
    pub fn client(&self) -> reqwest::blocking::Client {
        client_with(self.key.as_deref())
    }

    /// A request to `path` with this identity's credentials.
    pub fn req(&self, method: &str, path: &str) -> reqwest::blocking::RequestBuilder {
        let r = client().request(method.parse().unwrap(), self.server.url(path));
        match &self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.req("GET", path).send().unwrap()
    }
}

/// Adds tenant `id` with `role` (with the CLI, on `data`) and returns a
/// fresh API key for it.
pub fn tenant(data: &Path, id: &str, role: &str) -> String {
    cli(data, &["tenant", "add", id, "--role", role]);
    cli(data, &["key", "create", id]).trim().to_string()
}

/// Asserts an OGC exception document of `code` whose `type` ends with
/// `kind` (JSON, with `status`, `title` and `detail`), and returns it.
pub fn exception(r: reqwest::blocking::Response, code: u16, kind: &str) -> serde_json::Value {
    assert_eq!(r.status().as_u16(), code, "expected {code} {kind}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = r.json().unwrap();
    assert!(body["type"].as_str().unwrap().ends_with(kind), "{body}");
    assert_eq!(body["status"], code, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// A client sending `key` as a bearer token with every request (none:
/// anonymous), never through a proxy.
pub fn client_with(key: Option<&str>) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
    }
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .default_headers(headers)
        .build()
        .unwrap()
}
