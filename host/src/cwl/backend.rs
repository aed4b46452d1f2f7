//! Step backends: what actually runs one CommandLineTool invocation.
//!
//! The runner prepares a [`StepJob`] (command line, environment, staged
//! working directory, redirections) and hands it to the first backend that
//! [`supports`](StepBackend::supports) it: [`LocalProcessBackend`], a plain
//! host process, which only the command line's local mode enables, and
//! [`DockerBackend`](super::docker::DockerBackend) for tools with a
//! `DockerRequirement`, and [`WasmBackend`](super::wasm::WasmBackend) for
//! tools with a `wades:WasmRequirement`.

use super::{fail, Result};
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The container a tool asks for (`DockerRequirement`).
#[derive(Debug, Clone)]
pub struct ContainerRequest {
    /// The requirement object (`dockerPull`, `dockerImageId`, ...).
    pub spec: Value,
    /// True when it is a requirement, false when only a hint (a backend
    /// without containers may then ignore it).
    pub required: bool,
}

/// One invocation of a CommandLineTool, ready to run.
#[derive(Debug, Clone, Default)]
pub struct StepJob {
    /// The tool's id, for messages.
    pub tool_id: String,
    /// Program and arguments (already wrapped in `/bin/sh -c` under
    /// `ShellCommandRequirement`).
    pub argv: Vec<String>,
    /// The complete environment of the program.
    pub env: BTreeMap<String, String>,
    /// Working and output directory (`runtime.outdir`).
    pub outdir: PathBuf,
    /// Scratch directory (`runtime.tmpdir`).
    pub tmpdir: PathBuf,
    /// Where the inputs are staged (`N/basename`); the command line names
    /// them there. A container backend mounts them.
    pub stagedir: PathBuf,
    /// `runtime.cores` (`ResourceRequirement`, default 1).
    pub cores: u64,
    /// `runtime.ram` in MiB (`ResourceRequirement`, default 1024).
    pub ram_mib: u64,
    /// File to feed to standard input.
    pub stdin: Option<PathBuf>,
    /// File to write standard output to (else it goes to our stderr, as
    /// our stdout carries the result).
    pub stdout: Option<PathBuf>,
    /// File to write standard error to.
    pub stderr: Option<PathBuf>,
    /// The container asked for, if any.
    pub container: Option<ContainerRequest>,
    /// `ToolTimeLimit`.
    pub time_limit: Option<Duration>,
    /// `NetworkAccess` (backends that can isolate use it).
    pub network: bool,
    /// The input object, staged: a backend that calls a program with
    /// values rather than a command line reads them here.
    pub inputs: Value,
    /// The wasm component asked for (`wades:WasmRequirement`), if any.
    pub wasm: Option<super::wasm::WasmRequest>,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepOutcome {
    /// The exit code (128 + signal number when killed by a signal).
    pub exit_code: i32,
    /// Output values the program returned itself (a wasm process's
    /// outputs, by CWL output id); they fill the outputs that no
    /// `outputBinding` collected.
    pub values: Option<serde_json::Map<String, Value>>,
}

/// Something that can run [`StepJob`]s.
pub trait StepBackend: Send + Sync {
    /// A short name, for messages.
    fn name(&self) -> &str;
    /// Whether this backend can run the job (e.g. containers, commands).
    fn supports(&self, job: &StepJob) -> bool;
    /// Runs the job to completion.
    fn run<'a>(&'a self, job: StepJob) -> BoxFuture<'a, Result<StepOutcome>>;
    /// Whether this backend runs wasm components: only such a backend may
    /// take a tool whose `wades:WasmRequirement` is a requirement.
    fn runs_wasm(&self) -> bool {
        false
    }
}

/// Runs the command as a plain process on this host, in the job's fresh
/// working directory, with only the job's environment. Nothing isolates it
/// from the host: the runner only installs this backend when its caller
/// allows host commands (the `wades cwl-runner` CLI does, the server does
/// not).
#[derive(Debug, Default)]
pub struct LocalProcessBackend;

impl StepBackend for LocalProcessBackend {
    fn name(&self) -> &str {
        "local process"
    }

    fn supports(&self, job: &StepJob) -> bool {
        // A container that is only hinted at can be done without.
        job.container.as_ref().is_none_or(|c| !c.required)
    }

    fn run<'a>(&'a self, job: StepJob) -> BoxFuture<'a, Result<StepOutcome>> {
        Box::pin(async move {
            let Some((program, args)) = job.argv.split_first() else {
                return Err(fail!("tool '{}' has an empty command line", job.tool_id));
            };
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args)
                .current_dir(&job.outdir)
                .env_clear()
                .envs(&job.env)
                .kill_on_drop(true);
            cmd.stdin(match &job.stdin {
                Some(p) => Stdio::from(
                    std::fs::File::open(p).map_err(|e| fail!("stdin {}: {e}", p.display()))?,
                ),
                None => Stdio::null(),
            });
            cmd.stdout(match &job.stdout {
                Some(p) => Stdio::from(create(p)?),
                None => our_stderr()?,
            });
            if let Some(p) = &job.stderr {
                cmd.stderr(Stdio::from(create(p)?));
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| fail!("cannot start '{program}': {e}"))?;
            let status = match job.time_limit {
                Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                    Ok(s) => s?,
                    Err(_) => {
                        let _ = child.kill().await;
                        return Err(fail!(
                            "tool '{}' exceeded its time limit of {limit:?}",
                            job.tool_id
                        ));
                    }
                },
                None => child.wait().await?,
            };
            use std::os::unix::process::ExitStatusExt;
            let exit_code = status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(-1);
            Ok(StepOutcome {
                exit_code,
                values: None,
            })
        })
    }
}

fn create(p: &std::path::Path) -> Result<std::fs::File> {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(p).map_err(|e| fail!("{}: {e}", p.display()))
}

/// Our standard error, for a tool's stdout when it is not captured.
fn our_stderr() -> Result<Stdio> {
    use std::os::fd::AsFd;
    let fd = std::io::stderr().as_fd().try_clone_to_owned()?;
    Ok(Stdio::from(fd))
}
