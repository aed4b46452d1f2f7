//! The audit behind `wades store verify`: rehashes every module blob,
//! checks every compiled artifact's signature, and matches both against
//! the deployed processes, reporting (or, asked to, repairing) what is off.
//!
//! Repairs only ever remove what the server would refuse anyway, or what
//! it can make again: a damaged module is moved aside to
//! `modules/quarantine/` (its bytes cannot be recovered from anywhere, and
//! an operator may want them), a damaged or orphaned artifact is deleted
//! (the next load compiles the module again), and temporary files that a
//! writer left behind when it died are deleted. A process whose module is
//! gone cannot be repaired here: it is reported, to be deployed again.

use crate::model::{Deployment, Digest};
use crate::runtime::{artifact_key, audit_artifact, ArtifactFinding};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A temporary file younger than this may belong to a live writer (a
/// deploy, a compile) and is left alone.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(600);

/// Something the audit found wrong, and whether it was repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, in one line.
    pub what: String,
    /// What the repair did, or `None` if nothing was (or could be) done.
    pub repaired: Option<String>,
}

/// The outcome of one audit.
#[derive(Debug, Default)]
pub struct Report {
    /// Module blobs whose bytes still hash to their name.
    pub sound_modules: usize,
    /// Artifacts whose signature holds and whose module is stored.
    pub sound_artifacts: usize,
    /// Everything else.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Problems that are still there after the audit.
    pub fn unresolved(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.repaired.is_none())
            .count()
    }
}

/// Audits the module store and artifact cache of `data_dir` against the
/// `deployments` of its database; with `repair`, fixes what can be fixed.
pub fn verify(data_dir: &Path, deployments: &[Deployment], repair: bool) -> io::Result<Report> {
    let modules_dir = data_dir.join("modules");
    let artifacts_dir = data_dir.join("artifacts");
    let mut used_by: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for d in deployments {
        used_by.entry(d.digest).or_default().push(d.id.clone());
    }
    let mut report = Report::default();
    let mut sound = BTreeSet::new();
    let mut damaged = BTreeSet::new();

    for (name, path) in files(&modules_dir)? {
        if let Some(digest) = name.strip_suffix(".wasm").and_then(Digest::parse) {
            if Digest::of(&std::fs::read(&path)?) == digest {
                sound.insert(digest);
                report.sound_modules += 1;
                continue;
            }
            damaged.insert(digest);
            let repaired = if repair {
                let aside = modules_dir.join("quarantine");
                std::fs::create_dir_all(&aside)?;
                std::fs::rename(&path, aside.join(&name))?;
                Some(format!("moved to {}", aside.join(&name).display()))
            } else {
                None
            };
            report.problems.push(Problem {
                what: format!("module {digest} is damaged: its bytes no longer match its digest"),
                repaired,
            });
        } else if name.contains(".tmp") {
            leftover(&path, repair, &mut report)?;
        }
    }
    for (digest, ids) in &used_by {
        if !sound.contains(digest) {
            let state = if damaged.contains(digest) {
                "damaged"
            } else {
                "missing"
            };
            report.problems.push(Problem {
                what: format!(
                    "process {} cannot be loaded: its module {digest} is {state}; deploy it again",
                    ids.join(", ")
                ),
                repaired: None,
            });
        }
    }

    let key = artifact_key(&artifacts_dir);
    for (name, path) in files(&artifacts_dir)? {
        let finding = audit_artifact(key.as_ref(), &name, &std::fs::read(&path)?);
        let what = match finding {
            ArtifactFinding::Sound { digest } if sound.contains(&digest) => {
                report.sound_artifacts += 1;
                continue;
            }
            ArtifactFinding::Sound { digest } => {
                format!("artifact {name} belongs to no stored module ({digest})")
            }
            ArtifactFinding::Damaged { reason, .. } => {
                format!("artifact {name} would be refused: {reason}")
            }
            ArtifactFinding::Leftover => {
                leftover(&path, repair, &mut report)?;
                continue;
            }
            ArtifactFinding::Key | ArtifactFinding::Foreign => continue,
        };
        let repaired = if repair {
            remove(&path)?;
            Some("deleted; the next load compiles the module again".into())
        } else {
            None
        };
        report.problems.push(Problem { what, repaired });
    }
    Ok(report)
}

/// The regular files of `dir` by name, in name order; none if it is missing.
fn files(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Reports (and with `repair` deletes) the temporary file `path`, unless it
/// is young enough to belong to a writer still at work.
fn leftover(path: &Path, repair: bool, report: &mut Report) -> io::Result<()> {
    let age = std::fs::metadata(path)?
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    if age < LEFTOVER_AGE {
        return Ok(());
    }
    let repaired = if repair {
        remove(path)?;
        Some("deleted".into())
    } else {
        None
    };
    report.problems.push(Problem {
        what: format!(
            "{} is a temporary file a writer left behind",
            path.display()
        ),
        repaired,
    });
    Ok(())
}

fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
