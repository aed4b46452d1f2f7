//! A private PostgreSQL server for the tests: Debian's packages, a fresh
//! cluster in a temporary folder, on a free loopback port, stopped when
//! dropped.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the cluster
//! belongs to the `postgres` user the Debian package creates, and its
//! commands run through `runuser`. The folder is under the system's temp
//! folder rather than `target/`, which that user may not be able to reach
//! (a clone under /root, say).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    as_user: Option<&'static str>,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`: the admin URL the
    /// tests create their databases with.
    pub url: String,
}

impl Postgres {
    /// Creates and starts a cluster; `settings` are extra `-c` options.
    pub fn start(settings: &[&str]) -> Result<Postgres> {
        let bin = bin_dir()?;
        let root = is_root();
        let as_user = root.then_some("postgres");
        let dir = std::env::temp_dir().join(format!("wades-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if let Some(user) = as_user {
            run(Command::new("chown").args([user, path(&dir)?]))?;
        }
        let data = dir.join("data");
        let port = free_port()?;
        let pg = Postgres {
            bin,
            dir,
            as_user,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        pg.command(
            "initdb",
            &[
                "-D",
                path(&data)?,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=500",
            path(&pg.dir)?
        );
        for s in settings {
            options.push_str(" -c ");
            options.push_str(s);
        }
        let log = pg.dir.join("server.log");
        pg.command(
            "pg_ctl",
            &[
                "-D",
                path(&data)?,
                "-o",
                &options,
                "-l",
                path(&log)?,
                "-w",
                "start",
            ],
        )
        .with_context(|| format!("starting PostgreSQL; see {}", log.display()))?;
        eprintln!("xtask: PostgreSQL at {}", pg.url);
        Ok(pg)
    }

    /// Runs one of PostgreSQL's programs as the cluster's user.
    fn command(&self, program: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(program);
        let mut cmd = match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        run(cmd.args(args).current_dir(&self.dir))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if let Some(data) = data.to_str() {
            let _ = self.command("pg_ctl", &["-D", data, "-m", "immediate", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed major version's programs.
fn bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (apt-get install postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL server programs under /usr/lib/postgresql"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn path(p: &Path) -> Result<&str> {
    p.to_str().context("a UTF-8 path")
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
