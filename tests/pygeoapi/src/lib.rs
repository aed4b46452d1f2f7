//! pygeoapi, set up with no manual step: for M1's side-by-side run
//! (`bench/`) and for the tests of the `wades` client commands against
//! another server (`tests/cli.rs`).
//!
//! A virtualenv in `target/pygeoapi-venv` (reused while it holds the pinned
//! versions) gets `pygeoapi` and `gunicorn` from PyPI. Each server gets a
//! fresh folder with a minimal configuration (the `hello-world` process and
//! no collections), its OpenAPI document, and for the TinyDB manager the job
//! database and the results folder. gunicorn runs in its own process group,
//! which is killed when the [`Pygeoapi`] is dropped.

use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pygeoapi release compared against.
pub const VERSION: &str = "0.21.0";
/// The gunicorn release that serves it.
pub const GUNICORN: &str = "27.0.1";
/// gunicorn workers (`-w`): one per core of the 2-core benchmark machine.
pub const WORKERS: u32 = 2;

/// Which pygeoapi process manager (`server.manager`) records the jobs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// `TinyDB`: a JSON file (plus a lock file) holding every job, and a
    /// folder of results, as in pygeoapi's documentation and CITE config.
    TinyDb,
    /// No `server.manager`, as in the shipped `pygeoapi-config.yml`, where
    /// the TinyDB block is commented out: the `Dummy` manager, which records
    /// nothing.
    Dummy,
}

impl Manager {
    pub fn label(self) -> &'static str {
        match self {
            Manager::TinyDb => "TinyDB manager",
            Manager::Dummy => "no manager (Dummy)",
        }
    }
}

/// A running pygeoapi under gunicorn.
pub struct Pygeoapi {
    child: Child,
    stopped: bool,
    pub base: String,
    dir: tempfile::TempDir,
}

impl Drop for Pygeoapi {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kill -SIG -- -GROUP`, with bash's builtin (dash's cannot take a group).
fn signal_group(group: u32, sig: &str) -> Result<()> {
    Command::new("bash")
        .args(["-c", &format!("kill -{sig} -- -{group} 2>/dev/null")])
        .status()?;
    Ok(())
}

fn venv_dir(root: &Path) -> PathBuf {
    root.join("target/pygeoapi-venv")
}

/// The virtualenv with the pinned pygeoapi and gunicorn, made if needed.
pub fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = venv_dir(root);
    let want = format!("{VERSION} {GUNICORN}");
    let has = |venv: &Path| -> bool {
        Command::new(venv.join("bin/python"))
            .args([
                "-c",
                "import pygeoapi, gunicorn; print(pygeoapi.__version__, gunicorn.__version__)",
            ])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == want)
    };
    if has(&venv) {
        return Ok(venv);
    }
    eprintln!(
        "creating {} with pygeoapi {VERSION} and gunicorn {GUNICORN}",
        venv.display()
    );
    let make = || {
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .output()
    };
    let mut made = make().context("python3 is needed for the pygeoapi comparison")?;
    if !made.status.success() {
        // Debian's python3 has no ensurepip without python3-venv.
        apt_install("python3-venv")?;
        made = make()?;
    }
    if !made.status.success() {
        bail!(
            "python3 -m venv {} failed:\n{}",
            venv.display(),
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .arg(format!("pygeoapi=={VERSION}"))
        .arg(format!("gunicorn=={GUNICORN}"))
        .output()?;
    if !pip.status.success() || !has(&venv) {
        bail!(
            "pip install pygeoapi=={VERSION} gunicorn=={GUNICORN} failed:\n{}{}",
            String::from_utf8_lossy(&pip.stdout),
            String::from_utf8_lossy(&pip.stderr)
        );
    }
    Ok(venv)
}

/// Installs a Debian package (the tests and benches run as root).
fn apt_install(package: &str) -> Result<()> {
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", package]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
    }
    Ok(())
}

/// The configuration: pygeoapi's `hello-world` process and nothing else.
fn config(port: u16, manager: Manager, dir: &Path) -> String {
    let manager = match manager {
        Manager::TinyDb => format!(
            "    manager:\n        name: TinyDB\n        connection: {}\n        output_dir: {}/\n",
            dir.join("jobs.db").display(),
            dir.join("outputs").display()
        ),
        Manager::Dummy => String::new(),
    };
    format!(
        r#"server:
    bind:
        host: 127.0.0.1
        port: {port}
    url: http://127.0.0.1:{port}
    mimetype: application/json; charset=UTF-8
    encoding: utf-8
    gzip: false
    languages:
        - en-US
    pretty_print: false
    limits:
        default_items: 10
        max_items: 50
    map:
        url: https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png
        attribution: OpenStreetMap contributors
{manager}
logging:
    level: ERROR

metadata:
    identification:
        title: pygeoapi for the wades benchmark
        description: the hello-world process only
        keywords:
            - benchmark
        keywords_type: theme
        terms_of_service: https://creativecommons.org/licenses/by/4.0/
        url: http://127.0.0.1:{port}
    license:
        name: CC-BY 4.0 license
        url: https://creativecommons.org/licenses/by/4.0/
    provider:
        name: wades benchmark
        url: http://127.0.0.1:{port}
    contact:
        name: wades benchmark

resources:
    hello-world:
        type: process
        processor:
            name: HelloWorld
"#
    )
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Pygeoapi {
    /// Configures and starts pygeoapi under gunicorn, and waits until it
    /// executes `hello-world`. `root` is the workspace (the virtualenv goes
    /// to its `target/`). Blocks: from async code, call it on a blocking
    /// thread.
    pub fn start(root: &Path, manager: Manager) -> Result<Self> {
        let venv = ensure_venv(root)?;
        let dir = tempfile::Builder::new()
            .prefix("pygeoapi-bench")
            .tempdir()?;
        std::fs::create_dir_all(dir.path().join("outputs"))?;
        let port = free_port()?;
        let config_file = dir.path().join("config.yml");
        let openapi_file = dir.path().join("openapi.yml");
        std::fs::write(&config_file, config(port, manager, dir.path()))?;
        let out = Command::new(venv.join("bin/pygeoapi"))
            .args(["openapi", "generate"])
            .arg(&config_file)
            .arg("--output-file")
            .arg(&openapi_file)
            .env("PYGEOAPI_CONFIG", &config_file)
            .env("PYGEOAPI_OPENAPI", &openapi_file)
            .output()?;
        if !out.status.success() {
            bail!(
                "pygeoapi openapi generate failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let log = std::fs::File::create(dir.path().join("gunicorn.log"))?;
        let child = Command::new(venv.join("bin/gunicorn"))
            .args([
                "-w",
                &WORKERS.to_string(),
                "-b",
                &format!("127.0.0.1:{port}"),
            ])
            // gunicorn 27 otherwise opens a control socket in ~/.gunicorn.
            .arg("--no-control-socket")
            .arg("pygeoapi.flask_app:APP")
            .current_dir(dir.path())
            .env("PYGEOAPI_CONFIG", &config_file)
            .env("PYGEOAPI_OPENAPI", &openapi_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting gunicorn")?;
        let mut server = Pygeoapi {
            child,
            stopped: false,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::blocking::Client::builder().no_proxy().build()?;
        let url = format!("{}/processes/hello-world/execution", self.base);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("gunicorn exited ({status}):\n{}", self.log_tail());
            }
            let answer = client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(r#"{"inputs": {"name": "World"}}"#)
                .send();
            match answer {
                Ok(r) if r.status() == 200 => {
                    let body = r.text()?;
                    if !body.contains("Hello World!") {
                        bail!("pygeoapi's hello-world answered {body}");
                    }
                    return Ok(());
                }
                Ok(r) => bail!(
                    "pygeoapi's hello-world answered {}: {}\n{}",
                    r.status(),
                    r.text().unwrap_or_default(),
                    self.log_tail()
                ),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => bail!(
                    "pygeoapi did not answer within 60 s: {e}\n{}",
                    self.log_tail()
                ),
            }
        }
    }

    /// Stops gunicorn, master and workers: it leads its own process group.
    /// TERM lets the master finish the requests in progress and reap the
    /// workers; KILL if that takes more than 5 s. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = self.child.id();
        let _ = signal_group(group, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Any worker the master did not reap.
                let _ = signal_group(group, "KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = signal_group(group, "KILL");
        let _ = self.child.wait();
    }

    /// The end of gunicorn's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("gunicorn.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Lines of gunicorn's log that report a Python error.
    pub fn errors_logged(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("gunicorn.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("Traceback") || l.contains("[ERROR]"))
            .count()
    }

    /// With TinyDB: (jobs in the database, how many are successful, file
    /// size). Read it after [`Pygeoapi::stop`]: a running server rewrites
    /// the file in place, and a reader that does not take its lock can see
    /// it half written.
    pub fn tinydb(&self) -> Result<Option<(usize, usize, u64)>> {
        let path = self.dir.path().join("jobs.db");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)?;
        let db: serde_json::Value = serde_json::from_str(&text).context("TinyDB file")?;
        let jobs = db["_default"]
            .as_object()
            .context("TinyDB _default table")?;
        let successful = jobs
            .values()
            .filter(|j| j["status"] == "successful")
            .count();
        Ok(Some((jobs.len(), successful, text.len() as u64)))
    }
}
