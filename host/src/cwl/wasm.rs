//! WebAssembly steps: CommandLineTools that run in the wasm sandbox,
//! in-process, under the same runtime and limits as any job.
//!
//! A tool opts in with a hint or requirement in the wades namespace:
//!
//! ```yaml
//! $namespaces: {wades: "https://wades.dev/cwl#"}
//! hints:
//!   wades:WasmRequirement:
//!     process: otsu              # or digest: "sha256:…", or command: …
//!     fuel: 1000000000           # optional, lowers the operator's budget
//! ```
//!
//! - **`process` / `digest`: a wades process** ([`crate::runtime::Process`]).
//!   The tool's command line is not used. Each CWL input whose id is an
//!   input id of the process becomes that input ([`super::wasm_values`]):
//!   strings, numbers and booleans as such, records and arrays the process
//!   takes whole as JSON, other arrays as one occurrence per item, and
//!   Files as files under `/inputs`. The process writes into the tool's
//!   output directory, mounted at `/outputs`. CWL outputs with an
//!   `outputBinding` are collected by their globs as usual; an output
//!   without one takes the process output of the same id (a File output
//!   from its file under `/outputs`). Standard output and error, when the
//!   tool names files for them, get what the process printed.
//! - **`command`: a WASI command** ([`crate::runtime::CommandProgram`], a
//!   component exporting `wasi:cli/run`), named by a path relative to the
//!   document, a `sha256:` digest or an id. It runs with the tool's command
//!   line as argv, its environment, and stdin/stdout/stderr as the tool
//!   redirects them. It sees the output directory at [`OUTDIR`] (also the
//!   directory relative paths resolve in), the scratch directory at `/tmp`
//!   and the staged inputs read-only at [`STAGE_DIR`], with the command
//!   line rewritten to those paths; nothing else of the host, and no
//!   network. Its exit code goes through `successCodes` like any tool's.
//!
//! A requirement is only ever run by the [`WasmBackend`]; a hint lets a
//! runner without one fall back to the tool's command line. The
//! components come from a [`WasmCatalog`] the runner's owner provides.
//! A guest that fails (a trap, running out of fuel, memory or time) fails
//! its step with the runtime's reason. Dropping the run (a dismissed job)
//! drops the guest's store, which stops it.

pub use super::wasm_catalog::{ComponentRef, DirCatalog, WasmCatalog};

use super::backend::{StepBackend, StepJob, StepOutcome};
use super::docker_paths::{PathMap, STAGE_DIR};
use super::model::{find_class, Effective, Process};
use super::{fail, invalid, CwlError, Result};
use crate::model::{Digest, Limits};
use crate::runtime::{CommandJob, Job, JobDirs, Preopen, Runtime};
use futures::future::BoxFuture;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The wades CWL namespace.
pub const WADES_NAMESPACE: &str = "https://wades.dev/cwl#";
/// Where a WASI command sees the tool's output directory.
pub const OUTDIR: &str = "/var/spool/cwl";
const CLASS: &str = "WasmRequirement";

/// What a tool's `wades:WasmRequirement` asks for.
#[derive(Debug, Clone)]
pub struct WasmRequest {
    /// What runs.
    pub target: WasmTarget,
    /// A requirement (true) or only a hint.
    pub required: bool,
    /// Fuel the step may burn, below the operator's budget.
    pub fuel: Option<u64>,
}

/// The component of a [`WasmRequest`].
#[derive(Debug, Clone)]
pub enum WasmTarget {
    /// A wades process, called with the tool's input values.
    Process(ComponentRef),
    /// A WASI command, run with the tool's command line.
    Command(ComponentRef),
}

/// The tool's `wades:WasmRequirement` (requirement first, else hint), if
/// it has one.
pub(crate) fn request(process: &Process, effective: &Effective) -> Result<Option<WasmRequest>> {
    let names = class_names(process);
    let found = names
        .iter()
        .find_map(|c| effective.requirement(c).map(|r| (r, true)))
        .or_else(|| {
            names
                .iter()
                .find_map(|c| find_class(&effective.hints, c).map(|r| (r, false)))
        });
    let Some((spec, required)) = found else {
        return Ok(None);
    };
    let request = parse(spec, required, &process.base_dir)?;
    // The command line would be `/bin/sh -c …`: there is no shell inside.
    if matches!(request.target, WasmTarget::Command(_))
        && effective.requirement("ShellCommandRequirement").is_some()
    {
        return Err(CwlError::Unsupported(format!(
            "{}: a WASI command cannot run under ShellCommandRequirement",
            process.label()
        )));
    }
    Ok(Some(request))
}

/// The spellings of the class: the full IRI, any prefix the document maps
/// to our namespace, and `wades:` unless the document maps it elsewhere.
fn class_names(process: &Process) -> Vec<String> {
    let mut names = vec![format!("{WADES_NAMESPACE}{CLASS}")];
    for (prefix, iri) in &process.namespaces {
        if iri == WADES_NAMESPACE {
            names.push(format!("{prefix}:{CLASS}"));
        }
    }
    if !process.namespaces.contains_key("wades") {
        names.push(format!("wades:{CLASS}"));
    }
    names
}

fn parse(spec: &Value, required: bool, base_dir: &Path) -> Result<WasmRequest> {
    let field = |k: &str| spec.get(k).and_then(Value::as_str);
    let digest = |d: &str| {
        Digest::parse(d)
            .map(ComponentRef::Digest)
            .ok_or_else(|| invalid!("wades:WasmRequirement: '{d}' is not a sha256 digest"))
    };
    let target = match (field("process"), field("digest"), field("command")) {
        (Some(id), None, None) => WasmTarget::Process(ComponentRef::Id(id.to_string())),
        (None, Some(d), None) => WasmTarget::Process(digest(d)?),
        (None, None, Some(c)) if c.starts_with("sha256:") => WasmTarget::Command(digest(c)?),
        (None, None, Some(c)) if c.contains('/') || c.ends_with(".wasm") => {
            WasmTarget::Command(ComponentRef::Path(base_dir.join(c)))
        }
        (None, None, Some(c)) => WasmTarget::Command(ComponentRef::Id(c.to_string())),
        _ => {
            return Err(invalid!(
                "wades:WasmRequirement needs exactly one of process, digest or command"
            ))
        }
    };
    let fuel =
        match spec.get("fuel") {
            None => None,
            Some(f) => Some(f.as_u64().ok_or_else(|| {
                invalid!("wades:WasmRequirement: fuel must be a positive integer")
            })?),
        };
    Ok(WasmRequest {
        target,
        required,
        fuel,
    })
}

/// Runs tools with a `wades:WasmRequirement` in the wasm sandbox.
pub struct WasmBackend {
    runtime: Runtime,
    catalog: Arc<dyn WasmCatalog>,
}

impl WasmBackend {
    /// A backend running components from `catalog` on `runtime`.
    pub fn new(runtime: Runtime, catalog: Arc<dyn WasmCatalog>) -> Self {
        WasmBackend { runtime, catalog }
    }

    async fn run_process(
        &self,
        job: &StepJob,
        req: &WasmRequest,
        wanted: &ComponentRef,
    ) -> Result<StepOutcome> {
        let process = self.catalog.process(&self.runtime, wanted).await?;
        let description = process.description();
        // A sibling of the staging folder: the guest must not see the
        // staging folder's symlinks, which lead anywhere on the host.
        let inputs_dir = job.stagedir.with_file_name("inputs");
        std::fs::create_dir_all(&inputs_dir)?;
        let values = super::wasm_values::to_process(&job.inputs, description, &inputs_dir)?;
        let run = Job::new(values)
            .with_dirs(JobDirs {
                inputs: inputs_dir,
                outputs: job.outdir.clone(),
            })
            .with_limits(limits(job, req));
        let out = self.runtime.execute(&process, run).await.map_err(|e| {
            fail!(
                "wasm step '{}' (process '{}'): {e}",
                job.tool_id,
                description.id
            )
        })?;
        for (path, text) in [(&job.stdout, &out.stdout), (&job.stderr, &out.stderr)] {
            if let Some(p) = path {
                write(p, text)?;
            }
        }
        Ok(StepOutcome {
            exit_code: 0,
            values: Some(super::wasm_values::to_cwl(out.outputs, &job.outdir)?),
        })
    }

    async fn run_command(
        &self,
        job: &StepJob,
        req: &WasmRequest,
        wanted: &ComponentRef,
    ) -> Result<StepOutcome> {
        let program = self.catalog.command(&self.runtime, wanted).await?;
        // Staging links inputs to where they are on the host; the sandbox
        // follows no link out of a mounted folder, so give it real files.
        materialize(&job.stagedir, false)?;
        materialize(&job.outdir, true)?;
        let map = PathMap::new(job, OUTDIR);
        let mount = |host: &PathBuf, guest: &str, writable: bool| Preopen {
            host: host.clone(),
            guest: guest.to_string(),
            writable,
        };
        let command = CommandJob {
            args: job.argv.iter().map(|a| map.rewrite(a)).collect(),
            env: job
                .env
                .iter()
                .map(|(k, v)| (k.clone(), map.env_value(k, v)))
                .collect(),
            stdin: job.stdin.clone(),
            stdout: job.stdout.clone(),
            stderr: job.stderr.clone(),
            dirs: vec![
                mount(&job.outdir, OUTDIR, true),
                mount(&job.outdir, ".", true),
                mount(&job.tmpdir, "/tmp", true),
                mount(&job.stagedir, STAGE_DIR, false),
            ],
            limits: limits(job, req),
            cancel: Default::default(),
        };
        let out = self
            .runtime
            .run_command(&program, command)
            .await
            .map_err(|e| fail!("WASI command step '{}': {e}", job.tool_id))?;
        // Like a host command's: our stdout carries the result object.
        eprint!("{}{}", out.stdout, out.stderr);
        Ok(StepOutcome {
            exit_code: out.exit_code,
            values: None,
        })
    }
}

impl StepBackend for WasmBackend {
    fn name(&self) -> &str {
        "wasm"
    }

    fn supports(&self, job: &StepJob) -> bool {
        job.wasm.is_some()
    }

    fn runs_wasm(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, job: StepJob) -> BoxFuture<'a, Result<StepOutcome>> {
        Box::pin(async move {
            let Some(req) = &job.wasm else {
                return Err(fail!("tool '{}' names no wasm component", job.tool_id));
            };
            match &req.target {
                WasmTarget::Process(r) => self.run_process(&job, req, r).await,
                WasmTarget::Command(r) => self.run_command(&job, req, r).await,
            }
        })
    }
}

/// The step's limits: `ToolTimeLimit`, `ResourceRequirement`'s RAM and
/// the requirement's fuel, each only lowering the operator's.
fn limits(job: &StepJob, req: &WasmRequest) -> Limits {
    Limits {
        fuel: req.fuel,
        memory_bytes: Some(job.ram_mib.saturating_mul(1 << 20)),
        timeout: job.time_limit,
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).map_err(|e| fail!("{}: {e}", path.display()))
}

/// Replaces every symlink under `dir` by what it points to: a hard link
/// where possible (read-only folders), else (or when `copy`) a copy.
fn materialize(dir: &Path, copy: bool) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::canonicalize(&path)
                .map_err(|e| fail!("staged input {}: {e}", path.display()))?;
            std::fs::remove_file(&path)?;
            if target.is_dir() {
                super::tool::copy_tree(&target, &path)?;
            } else if copy || std::fs::hard_link(&target, &path).is_err() {
                std::fs::copy(&target, &path)
                    .map_err(|e| fail!("copying {}: {e}", target.display()))?;
            }
        } else if kind.is_dir() {
            materialize(&path, copy)?;
        }
    }
    Ok(())
}
