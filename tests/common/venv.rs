//! Python tools from PyPI for the tests, each in a virtualenv under
//! `target/` made once with `python3 -m venv` and reused: `pip install -r`
//! runs again only when the requirements change (a stamp file holds the
//! ones installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cmd` to completion, panicking with its output when it fails.
pub fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The python of virtualenv `target/<name>`, with `requirements` (a pip
/// requirements file, versions pinned) installed.
pub fn python(name: &str, requirements: &Path) -> PathBuf {
    let venv = root().join("target").join(name);
    let python = venv.join("bin/python");
    // The stamp is a copy of the requirements the venv was made from.
    let wanted = std::fs::read_to_string(requirements)
        .unwrap_or_else(|e| panic!("{}: {e}", requirements.display()));
    let stamp = venv.join("requirements.stamp");

    // A venv whose interpreter is gone (python upgraded) is made anew.
    let works = python.exists()
        && Command::new(&python)
            .args(["-c", "pass"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !works {
        if venv.exists() {
            std::fs::remove_dir_all(&venv).expect("remove the broken venv");
        }
        println!("creating {} with python3 -m venv", venv.display());
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv (python3 with its venv module is needed)",
        );
    }
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    let _ = std::fs::remove_file(&stamp);
    println!("pip install -r {}", requirements.display());
    let start = Instant::now();
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(requirements),
        &format!("pip install -r {}", requirements.display()),
    );
    println!("installed in {:.1?}", start.elapsed());
    std::fs::write(&stamp, wanted).expect("write the requirements stamp");
    python
}
