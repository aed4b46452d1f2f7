//! Which database the servers of a test use.
//!
//! By default each server keeps SQLite in its data folder. When
//! `WADES_TEST_DATABASE` names a PostgreSQL server (an admin URL such as
//! `postgres://postgres@127.0.0.1:5433/postgres`; `cargo xtask test` starts
//! one), each data folder gets a fresh database of its own on it, created
//! on first use and remembered in the folder, so a restarted server finds
//! its jobs again and tests running side by side share nothing.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where a data folder remembers its PostgreSQL database.
const URL_FILE: &str = "test-database.url";

/// The admin URL of the PostgreSQL server the tests use, if any.
pub fn postgres() -> Option<String> {
    std::env::var("WADES_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The `--database` of the server (or CLI) on `data`: `None` for SQLite in
/// the folder.
pub fn url_for(data: &Path) -> Option<String> {
    let admin = postgres()?;
    let file = data.join(URL_FILE);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url);
    }
    let url = create(&admin);
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(&file, &url).unwrap();
    Some(url)
}

/// A new, empty database on the server of `admin`; returns its URL.
pub fn create(admin: &str) -> String {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "t{}_{}_{nanos}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    );
    psql(admin, &format!("CREATE DATABASE {name}"));
    let (server, _) = admin
        .rsplit_once('/')
        .expect("an admin URL with a database");
    format!("{server}/{name}")
}

/// Runs `sql` with psql on `url` and returns what it prints (unaligned,
/// tuples only); panics if it fails.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            url,
            "-v",
            "ON_ERROR_STOP=1",
            "-X",
            "-q",
            "-A",
            "-t",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs (apt-get install postgresql-client)");
    assert!(
        out.status.success(),
        "psql {sql:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every byte the server on `data` stored in its database: the SQLite
/// file, or a dump of its PostgreSQL database.
pub fn stored_bytes(data: &Path) -> Vec<u8> {
    match url_for(data) {
        None => std::fs::read(data.join("wades.db")).unwrap(),
        Some(url) => {
            let out = Command::new("pg_dump")
                .args(["--data-only", &url])
                .output()
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}
