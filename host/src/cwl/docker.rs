//! The Docker step backend: runs a CommandLineTool that has a
//! `DockerRequirement` in a container of the local Docker engine (through
//! its API, with `bollard`), hardened:
//!
//! - no network unless the tool declares `NetworkAccess`;
//! - a read-only root filesystem; the job's output directory is mounted
//!   writable at `dockerOutputDirectory` (default [`DockerConfig::output_dir`]),
//!   its scratch directory at `/tmp`, and every staged input read-only under
//!   `/var/lib/cwl/stage` (see [`super::docker_paths`]);
//! - every capability dropped, `no-new-privileges`, never root;
//! - memory, CPU and process-count limits;
//! - the container is removed afterwards, killed on `ToolTimeLimit`, and
//!   killed and removed when the job's future is dropped (a dismissed job).

use super::backend::{StepBackend, StepJob, StepOutcome};
use super::docker_paths::{PathMap, Retargeted};
use super::{fail, CwlError, Result};
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// When a missing image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicy {
    /// Never pull: the image must already be on the engine.
    Never,
    /// Pull only images the engine does not have.
    #[default]
    IfMissing,
    /// Pull before every step (to get the newest of a moving tag).
    Always,
}

/// Settings of the Docker backend (`[cwl.docker]` in the server's
/// configuration, `--docker-config` of `wades cwl-runner`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// The engine's unix socket; default `DOCKER_HOST` or
    /// `/var/run/docker.sock`.
    pub socket: Option<String>,
    /// When images are pulled.
    pub pull: PullPolicy,
    /// `uid:gid` the tools run as when wades runs as root (the work
    /// folders are then handed to that user). When wades is not root,
    /// tools run as wades' own uid:gid, so its outputs stay its own. Never
    /// uid 0.
    pub user: String,
    /// Most processes (and threads) in one container.
    pub pids_limit: i64,
    /// Ceiling of a step's memory, in MiB: `ResourceRequirement.ramMin`
    /// (default 1024) is granted up to this.
    pub max_memory_mib: u64,
    /// Ceiling of a step's CPUs: `coresMin` (default 1) up to this.
    pub max_cores: u64,
    /// Where the output directory is mounted when the tool does not say
    /// (`dockerOutputDirectory`).
    pub output_dir: String,
    /// Allow `dockerFile`, `dockerLoad` and `dockerImport`, which make the
    /// engine build or load images a document supplies. Off: refused.
    pub allow_image_build: bool,
    /// Labels put on every container (besides `wades.job` and
    /// `wades.step`), e.g. to find a deployment's containers.
    pub labels: BTreeMap<String, String>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            socket: None,
            pull: PullPolicy::IfMissing,
            user: "65534:65534".into(),
            pids_limit: 256,
            max_memory_mib: 8192,
            max_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            output_dir: "/var/spool/cwl".into(),
            allow_image_build: false,
            labels: BTreeMap::new(),
        }
    }
}

/// Runs container steps on the local Docker engine.
pub struct DockerBackend {
    docker: Docker,
    config: DockerConfig,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("config", &self.config)
            .finish()
    }
}

impl DockerBackend {
    /// Connects to the engine and checks that it answers, so that a
    /// missing engine is reported once, up front, not per step.
    pub async fn connect(config: DockerConfig) -> Result<DockerBackend> {
        parse_user(&config.user)?;
        let unreachable = |e: DockerError| fail!("the Docker engine is unreachable: {e}");
        let docker = match &config.socket {
            Some(s) => Docker::connect_with_unix(s, 120, bollard::API_DEFAULT_VERSION),
            None => Docker::connect_with_local_defaults(),
        }
        .map_err(unreachable)?;
        // The engine may be older than the API version bollard speaks.
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(DockerBackend { docker, config })
    }

    /// The settings in force.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    async fn run_job(&self, job: StepJob) -> Result<StepOutcome> {
        let spec = job
            .container
            .as_ref()
            .map(|c| c.spec.clone())
            .unwrap_or_default();
        let image = self.image(&job.tool_id, &spec).await?;
        let out_dir = spec
            .get("dockerOutputDirectory")
            .and_then(|v| v.as_str())
            .unwrap_or(&self.config.output_dir)
            .to_string();
        if !out_dir.starts_with('/') {
            return Err(CwlError::InvalidValue(format!(
                "dockerOutputDirectory '{out_dir}' is not an absolute path"
            )));
        }
        let paths = PathMap::new(&job, &out_dir);
        let (mounts, retarget) = paths.mounts(&job)?;
        let user = self.user_for(&job)?;
        // Symlinks the runner placed in the output directory point at host
        // paths; inside they must point at the mounted ones. Put back when
        // this guard goes, so outputs are collected on the host as usual.
        let _restore = Retargeted::apply(retarget)?;

        let name = format!("wades-{}", uuid::Uuid::new_v4().simple());
        let mut labels: HashMap<String, String> = self.config.labels.clone().into_iter().collect();
        labels.insert("wades.job".into(), name.clone());
        labels.insert("wades.step".into(), job.tool_id.clone());
        let memory = (job.ram_mib.clamp(4, self.config.max_memory_mib.max(4)) * 1024 * 1024) as i64;
        let cores = job.cores.clamp(1, self.config.max_cores.max(1));
        let host = HostConfig {
            mounts: Some(mounts),
            network_mode: Some(if job.network { "bridge" } else { "none" }.into()),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(self.config.pids_limit),
            memory: Some(memory),
            // No swap beyond the memory limit.
            memory_swap: Some(memory),
            nano_cpus: Some(cores as i64 * 1_000_000_000),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image),
            cmd: Some(job.argv.iter().map(|a| paths.rewrite(a)).collect()),
            env: Some(
                job.env
                    .iter()
                    .map(|(k, v)| format!("{k}={}", paths.env_value(k, v)))
                    .collect(),
            ),
            working_dir: Some(out_dir.clone()),
            user: Some(user),
            labels: Some(labels),
            attach_stdin: Some(job.stdin.is_some()),
            open_stdin: Some(job.stdin.is_some()),
            // Closing our end of stdin ends the program's input.
            stdin_once: Some(job.stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            host_config: Some(host),
            ..Default::default()
        };

        // Armed before the container exists: if this future is dropped at
        // any await below, the container (by its name) is killed and removed.
        let mut guard = Cleanup {
            docker: self.docker.clone(),
            name: Some(name.clone()),
        };
        let engine = |what: &str, e: DockerError| fail!("docker {what} for '{}': {e}", job.tool_id);
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| engine("create", e))?;
        let run = self.attach_and_wait(&name, &job);
        let outcome = match job.time_limit {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(r) => r,
                Err(_) => Err(fail!(
                    "tool '{}' exceeded its time limit of {limit:?}",
                    job.tool_id
                )),
            },
            None => run.await,
        };
        // Kills the container if it still runs (time limit, errors).
        remove(&self.docker, &name).await;
        guard.name = None;
        outcome
    }

    async fn attach_and_wait(&self, name: &str, job: &StepJob) -> Result<StepOutcome> {
        let engine = |what: &str, e: DockerError| fail!("docker {what} for '{}': {e}", job.tool_id);
        // Attach before starting, so no output is lost.
        let attached = self
            .docker
            .attach_container(
                name,
                Some(
                    AttachContainerOptionsBuilder::default()
                        .stdin(job.stdin.is_some())
                        .stdout(true)
                        .stderr(true)
                        .stream(true)
                        .build(),
                ),
            )
            .await
            .map_err(|e| engine("attach", e))?;
        let mut stdout = sink(job.stdout.as_deref()).await?;
        let mut stderr = sink(job.stderr.as_deref()).await?;
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| engine("start", e))?;

        let mut input = attached.input;
        let feed = async {
            if let Some(p) = &job.stdin {
                let mut f = tokio::fs::File::open(p)
                    .await
                    .map_err(|e| fail!("stdin {}: {e}", p.display()))?;
                // A program may exit without reading all its input: that
                // is its business, not an error.
                if let Err(e) = tokio::io::copy(&mut f, &mut input).await {
                    tracing::debug!("stdin of {name}: {e}");
                }
                let _ = input.shutdown().await;
            }
            Ok::<_, CwlError>(())
        };
        let mut output = attached.output;
        let drain = async {
            while let Some(item) = output.next().await {
                match item.map_err(|e| engine("output", e))? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        stdout.write_all(&message).await?
                    }
                    LogOutput::StdErr { message } => stderr.write_all(&message).await?,
                    LogOutput::StdIn { .. } => {}
                }
            }
            stdout.flush().await?;
            stderr.flush().await?;
            Ok::<_, CwlError>(())
        };
        let (fed, drained) = tokio::join!(feed, drain);
        fed?;
        drained?;
        // The output ends when the container does; its exit code is next.
        let mut wait = self.docker.wait_container(name, None);
        let exit_code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            // bollard reports non-zero exit codes as this error.
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(engine("wait", e)),
            None => return Err(fail!("docker wait for '{}' gave no status", job.tool_id)),
        };
        Ok(StepOutcome {
            exit_code: exit_code as i32,
            values: None,
        })
    }

    /// The image to run, pulled according to the policy, or built from
    /// `dockerFile`; that one (and `dockerLoad`, `dockerImport`) only with
    /// `allow_image_build`.
    async fn image(&self, tool: &str, spec: &serde_json::Value) -> Result<String> {
        let field = |k: &str| spec.get(k).and_then(|v| v.as_str());
        for build in ["dockerFile", "dockerLoad", "dockerImport"] {
            if spec.get(build).is_some() && !self.config.allow_image_build {
                return Err(CwlError::Unsupported(format!(
                    "{build} (tool '{tool}'): building or loading images is disabled (allow_image_build)"
                )));
            }
        }
        if let Some(dockerfile) = field("dockerFile") {
            return super::docker_build::build(&self.docker, tool, dockerfile, &self.config.labels)
                .await;
        }
        // Loading an image from a URL would be a fetch of a user-given URL
        // straight into the engine.
        for load in ["dockerLoad", "dockerImport"] {
            if spec.get(load).is_some() {
                return Err(CwlError::Unsupported(format!(
                    "{load} (tool '{tool}'): loading images from URLs is not supported; use dockerFile"
                )));
            }
        }
        // dockerImageId names the image locally; dockerPull is what to pull.
        let name = field("dockerImageId")
            .or_else(|| field("dockerPull"))
            .ok_or_else(|| {
                CwlError::InvalidDocument(format!(
                    "DockerRequirement of '{tool}' names no image (dockerPull or dockerImageId)"
                ))
            })?
            .to_string();
        let pull_from = field("dockerPull").unwrap_or(&name).to_string();
        let present = match self.docker.inspect_image(&name).await {
            Ok(_) => true,
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => false,
            Err(e) => return Err(fail!("docker: inspecting image '{name}': {e}")),
        };
        match (self.config.pull, present) {
            (PullPolicy::Never, false) => Err(fail!(
                "image '{name}' is not on the Docker engine and the pull policy is 'never'"
            )),
            (PullPolicy::Never | PullPolicy::IfMissing, true) => Ok(name),
            _ => {
                // Run what was pulled: a dockerImageId that is not on the
                // engine is only a local name for the dockerPull image.
                self.pull(&pull_from).await?;
                Ok(pull_from)
            }
        }
    }

    async fn pull(&self, reference: &str) -> Result<()> {
        let (image, tag) = split_tag(reference);
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .tag(tag)
            .build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            if let Err(e) = step {
                return Err(fail!("pulling image '{reference}' failed: {e}"));
            }
        }
        Ok(())
    }

    /// The `uid:gid` of the container; as root, hands the work folders to
    /// the configured user so the tool can write its outputs.
    fn user_for(&self, job: &StepJob) -> Result<String> {
        // SAFETY: geteuid/getegid cannot fail and touch no memory.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            return Ok(format!("{euid}:{egid}"));
        }
        let (uid, gid) = parse_user(&self.config.user)?;
        for dir in [&job.outdir, &job.tmpdir] {
            chown_tree(dir, uid, gid)?;
        }
        Ok(format!("{uid}:{gid}"))
    }
}

impl DockerBackend {
    /// Kills and removes every container labelled `key=value`, e.g. those a
    /// crashed run of this server left behind; returns how many there were.
    pub async fn remove_labelled(&self, key: &str, value: &str) -> Result<usize> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{key}={value}")])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| fail!("docker: listing containers: {e}"))?;
        for c in &found {
            if let Some(id) = &c.id {
                remove(&self.docker, id).await;
            }
        }
        Ok(found.len())
    }
}

impl StepBackend for DockerBackend {
    fn name(&self) -> &str {
        "docker"
    }

    fn supports(&self, job: &StepJob) -> bool {
        // Hints count too: with containers at hand, use them.
        job.container.is_some()
    }

    fn run<'a>(&'a self, job: StepJob) -> BoxFuture<'a, Result<StepOutcome>> {
        Box::pin(self.run_job(job))
    }
}

/// Kills and removes the container when dropped while armed.
struct Cleanup {
    docker: Docker,
    name: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let docker = self.docker.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    remove(&docker, &name).await;
                    // A create still under way on the engine when we gave up
                    // on it would leave the container: remove once more.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    remove(&docker, &name).await;
                });
            }
            Err(_) => tracing::warn!("container {name} left behind: no runtime to remove it"),
        }
    }
}

/// Force-removes a container (killing it), ignoring one that is gone.
async fn remove(docker: &Docker, name: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(name, Some(options)).await {
        Ok(())
        | Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => tracing::warn!("removing container {name}: {e}"),
    }
}

/// Where a stream of the tool goes: its file, else our stderr (our stdout
/// carries the result object).
async fn sink(path: Option<&Path>) -> Result<Box<dyn AsyncWrite + Send + Unpin>> {
    Ok(match path {
        Some(p) => {
            if let Some(parent) = p.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            Box::new(
                tokio::fs::File::create(p)
                    .await
                    .map_err(|e| fail!("{}: {e}", p.display()))?,
            )
        }
        None => Box::new(tokio::io::stderr()),
    })
}

/// `uid:gid`, refusing root.
fn parse_user(user: &str) -> Result<(u32, u32)> {
    let bad = || fail!("docker user must be 'uid:gid' with uid other than 0, not '{user}'");
    let (u, g) = user.split_once(':').ok_or_else(bad)?;
    let (u, g): (u32, u32) = (u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?);
    if u == 0 {
        return Err(bad());
    }
    Ok((u, g))
}

/// Changes the owner of a tree, not following symlinks.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| fail!("chown {}: {e}", path.display()))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// `name[:tag]` or `name@digest` into what the pull API wants; no tag
/// means `latest` (an empty tag would pull every tag).
fn split_tag(reference: &str) -> (&str, &str) {
    if reference.contains('@') {
        return (reference, "");
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.rsplit_once(':') {
        Some((_, tag)) => (&reference[..reference.len() - tag.len() - 1], tag),
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("debian:12"), ("debian", "12"));
        assert_eq!(
            split_tag("localhost:5000/a/b"),
            ("localhost:5000/a/b", "latest")
        );
        assert_eq!(split_tag("localhost:5000/a:x"), ("localhost:5000/a", "x"));
    }

    #[test]
    fn root_is_refused_as_the_container_user() {
        assert!(parse_user("0:0").is_err());
        assert!(parse_user("65534").is_err());
        assert_eq!(parse_user("65534:65534").unwrap(), (65534, 65534));
    }
}
