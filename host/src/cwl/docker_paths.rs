//! Host paths of a [`StepJob`] and where a container sees them.
//!
//! The runner builds the command line with host paths: the output
//! directory, the scratch directory and the staging folder of the job
//! (`stage/N/basename`, where every input File and Directory is placed).
//! A container sees each of these three folders at a fixed place instead:
//!
//! | host                | container                                     |
//! |---------------------|-----------------------------------------------|
//! | `outdir`            | `dockerOutputDirectory`, else `/var/spool/cwl` (writable) |
//! | `tmpdir`            | `/tmp` (writable)                             |
//! | `stagedir/N/name`   | `/var/lib/cwl/stage/N/name` (read-only)       |
//!
//! and the command line and environment are rewritten by replacing those
//! prefixes. The job folders have unique random names, so a replacement
//! cannot hit anything else. Each staged entry is mounted from its real
//! location (staging uses symlinks to the host files, which would dangle
//! inside), read-only.

use super::backend::StepJob;
use super::{fail, Result};
use bollard::models::{Mount, MountType};
use std::path::{Path, PathBuf};

/// Where staged inputs appear inside a container.
pub const STAGE_DIR: &str = "/var/lib/cwl/stage";
/// Where other files an initial working directory links to appear.
pub const LINKED_DIR: &str = "/var/lib/cwl/linked";
/// `PATH` inside a container when the tool sets none of its own: the
/// host's `PATH` names host folders.
const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host-to-container prefixes of one job.
#[derive(Debug, Clone)]
pub struct PathMap {
    /// (host, container), longest host path first.
    pairs: Vec<(String, String)>,
    out_dir: String,
}

impl PathMap {
    /// The map of `job` with the output directory at `out_dir`.
    pub fn new(job: &StepJob, out_dir: &str) -> PathMap {
        let mut pairs = vec![
            (lossy(&job.outdir), out_dir.to_string()),
            (lossy(&job.tmpdir), "/tmp".to_string()),
            (lossy(&job.stagedir), STAGE_DIR.to_string()),
        ];
        pairs.retain(|(h, _)| !h.is_empty());
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()));
        PathMap {
            pairs,
            out_dir: out_dir.to_string(),
        }
    }

    /// `s` with every host prefix replaced by its container path.
    pub fn rewrite(&self, s: &str) -> String {
        self.pairs
            .iter()
            .fold(s.to_string(), |acc, (host, inside)| {
                acc.replace(host, inside)
            })
    }

    /// An environment value as the container should see it.
    pub fn env_value(&self, name: &str, value: &str) -> String {
        if name == "PATH" && std::env::var("PATH").is_ok_and(|p| p == value) {
            return CONTAINER_PATH.to_string();
        }
        self.rewrite(value)
    }

    /// The mounts of the job, and the symlinks of its output directory
    /// that must point elsewhere while the container runs.
    pub fn mounts(&self, job: &StepJob) -> Result<(Vec<Mount>, Vec<Retarget>)> {
        let mut mounts = vec![
            bind(&job.outdir, &self.out_dir, false),
            bind(&job.tmpdir, "/tmp", false),
        ];
        if job.stagedir.is_dir() {
            for slot in sorted_dir(&job.stagedir)? {
                let n = slot.file_name().map(lossy_os).unwrap_or_default();
                for entry in sorted_dir(&slot)? {
                    let name = entry.file_name().map(lossy_os).unwrap_or_default();
                    let real = canonical(&entry)?;
                    mounts.push(bind(&real, &format!("{STAGE_DIR}/{n}/{name}"), true));
                }
            }
        }
        let mut links = Vec::new();
        collect_links(&job.outdir, &mut links)?;
        let mut retargets = Vec::new();
        for (link, target) in links {
            let t = lossy(&target);
            let new = if self.pairs.iter().any(|(h, _)| t.starts_with(h.as_str())) {
                PathBuf::from(self.rewrite(&t))
            } else if target.is_absolute() {
                // A file the document names directly (InitialWorkDir):
                // mounted read-only by itself.
                let Ok(real) = target.canonicalize() else {
                    continue;
                };
                let name = real.file_name().map(lossy_os).unwrap_or_default();
                let inside = format!("{LINKED_DIR}/{}/{name}", retargets.len());
                mounts.push(bind(&real, &inside, true));
                PathBuf::from(inside)
            } else {
                continue;
            };
            retargets.push(Retarget {
                link,
                host: target,
                inside: new,
            });
        }
        Ok((mounts, retargets))
    }
}

/// A symlink in the output directory and its two targets.
#[derive(Debug, Clone)]
pub struct Retarget {
    link: PathBuf,
    host: PathBuf,
    inside: PathBuf,
}

/// Symlinks pointed at their container targets; put back when dropped.
#[derive(Debug)]
pub struct Retargeted(Vec<Retarget>);

impl Retargeted {
    /// Points every link at its container target.
    pub fn apply(list: Vec<Retarget>) -> Result<Retargeted> {
        let done = Retargeted(Vec::with_capacity(list.len()));
        let mut done = done;
        for r in list {
            relink(&r.link, &r.inside)?;
            done.0.push(r);
        }
        Ok(done)
    }
}

impl Drop for Retargeted {
    fn drop(&mut self) {
        for r in &self.0 {
            if let Err(e) = relink(&r.link, &r.host) {
                tracing::warn!("restoring {}: {e}", r.link.display());
            }
        }
    }
}

fn relink(link: &Path, target: &Path) -> Result<()> {
    match std::fs::remove_file(link) {
        Ok(()) => {}
        // The tool removed it: nothing to put back in its place.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail!("{}: {e}", link.display())),
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| fail!("{}: {e}", link.display()))
}

/// Symlinks under `dir`, not following any.
fn collect_links(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_symlink() {
            out.push((entry.path(), std::fs::read_link(entry.path())?));
        } else if ty.is_dir() {
            collect_links(&entry.path(), out)?;
        }
    }
    Ok(())
}

fn bind(source: &Path, target: &str, read_only: bool) -> Mount {
    Mount {
        source: Some(lossy(source)),
        target: Some(target.to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(read_only),
        ..Default::default()
    }
}

fn canonical(p: &Path) -> Result<PathBuf> {
    p.canonicalize()
        .map_err(|e| fail!("staged input {}: {e}", p.display()))
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    v.sort();
    Ok(v)
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn lossy_os(s: &std::ffi::OsStr) -> String {
    s.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_prefixes_become_container_paths() {
        let job = StepJob {
            outdir: "/s/job-1/out".into(),
            tmpdir: "/s/job-1/tmp".into(),
            stagedir: "/s/job-1/stage".into(),
            ..StepJob::default()
        };
        let map = PathMap::new(&job, "/var/spool/cwl");
        assert_eq!(
            map.rewrite("--in=/s/job-1/stage/1/a.txt --out /s/job-1/out/b"),
            "--in=/var/lib/cwl/stage/1/a.txt --out /var/spool/cwl/b"
        );
        assert_eq!(map.rewrite("/s/job-1/tmp"), "/tmp");
        // Another job's folder is not this job's.
        assert_eq!(map.rewrite("/s/job-12/out"), "/s/job-12/out");
    }
}
