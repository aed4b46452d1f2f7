//! `wades cwl-runner`: run a CWL document on this machine, the way
//! `cwltest` drives a runner: `--outdir DIR --quiet tool.cwl [job.yml]`,
//! the output object as JSON on stdout, exit code 0 on success, 33 for an
//! unsupported feature, 1 for any other failure.
//!
//! This is the local mode: tools run as plain host processes, which the
//! runner only does because this command asks for it. With `--docker`,
//! tools that have a `DockerRequirement` (or hint) run in hardened
//! containers of the local Docker engine instead ([`super::docker`]);
//! the others still run on the host. With `--wasm-dir DIR`, tools with a
//! `wades:WasmRequirement` run in the wasm sandbox ([`super::wasm`]), with
//! components named by id or digest found in `DIR`.

use super::docker::{DockerBackend, DockerConfig, PullPolicy};
use super::load::{load_document, load_job, split_reference};
use super::runner::{Runner, RunnerOptions};
use super::wasm::{DirCatalog, WasmBackend};
use super::CwlError;
use crate::runtime::{Runtime, RuntimeConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `wades cwl-runner`.
#[derive(Debug, Clone, clap::Args)]
pub struct CwlRunnerArgs {
    /// Folder the output files go to (created if missing).
    #[arg(long, default_value = ".")]
    pub outdir: PathBuf,
    /// Only print errors (the output object still goes to stdout).
    #[arg(long)]
    pub quiet: bool,
    /// Run tools with a DockerRequirement in containers of the local
    /// Docker engine (fails at once if the engine is unreachable).
    #[arg(long)]
    pub docker: bool,
    /// Settings of the Docker backend: a TOML file with the keys of
    /// `[cwl.docker]` (pull, user, pids_limit, max_memory_mib, ...).
    #[arg(long, requires = "docker")]
    pub docker_config: Option<PathBuf>,
    /// When to pull images (overrides the file): never, if-missing, always.
    #[arg(long, requires = "docker", value_enum)]
    pub pull: Option<PullPolicy>,
    /// Run tools with a `wades:WasmRequirement` in the wasm sandbox; ids
    /// and digests name the `.wasm` files of this folder (e.g. `target/wasm`).
    #[arg(long)]
    pub wasm_dir: Option<PathBuf>,
    /// Where compiled components are cached (default: `wades-cwl-cache` in
    /// the temp folder).
    #[arg(long, requires = "wasm_dir")]
    pub wasm_cache: Option<PathBuf>,
    /// The CWL document: a path, `path#id` for a `$graph` entry, or a
    /// `file://` URI.
    pub tool: String,
    /// The job: input values as YAML or JSON.
    pub job: Option<String>,
}

/// Runs the command and returns the process exit code.
pub async fn run(args: &CwlRunnerArgs) -> i32 {
    match execute(args).await {
        Ok(json) => {
            println!("{json}");
            0
        }
        Err(e) => {
            eprintln!("wades cwl-runner: {e}");
            e.exit_code()
        }
    }
}

async fn execute(args: &CwlRunnerArgs) -> Result<String, CwlError> {
    let process = load_document(&args.tool)?;
    let (job, job_dir) = match &args.job {
        Some(j) => {
            let (path, _) = split_reference(j)?;
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (load_job(Some(&path))?, dir)
        }
        None => (load_job(None)?, PathBuf::from(".")),
    };
    let job_dir = std::path::absolute(&job_dir)?;
    let mut runner = Runner::new(RunnerOptions {
        allow_host_commands: true,
        ..RunnerOptions::default()
    })?;
    if args.docker {
        runner = runner.with_backend(Arc::new(
            DockerBackend::connect(docker_config(args)?).await?,
        ));
    }
    if let Some(dir) = &args.wasm_dir {
        runner = runner.with_backend(Arc::new(wasm_backend(args, dir)?));
    }
    let outputs = runner
        .run_to_outdir(&process, job, &job_dir, &args.outdir)
        .await?;
    // Not serde_json: its floats use exponents (`1e42`), which Python reads
    // back as a float that differs from the integer the reference gives.
    Ok(super::expr::python_json(&serde_json::Value::Object(
        outputs,
    )))
}

fn docker_config(args: &CwlRunnerArgs) -> Result<DockerConfig, CwlError> {
    let mut config = match &args.docker_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CwlError::InvalidValue(format!("{}: {e}", path.display())))?;
            toml::from_str(&text)
                .map_err(|e| CwlError::InvalidValue(format!("{}: {e}", path.display())))?
        }
        None => DockerConfig::default(),
    };
    if let Some(p) = args.pull {
        config.pull = p;
    }
    Ok(config)
}

fn wasm_backend(args: &CwlRunnerArgs, dir: &std::path::Path) -> Result<WasmBackend, CwlError> {
    let cache = args
        .wasm_cache
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("wades-cwl-cache"));
    let mut config = RuntimeConfig::new(cache);
    // Steps run a few at a time here; a small pool reserves less memory.
    config.max_concurrent_jobs = 16;
    let runtime =
        Runtime::new(config).map_err(|e| CwlError::PermanentFail(format!("wasm runtime: {e}")))?;
    let catalog = DirCatalog::new(Some(dir.to_path_buf()), true);
    Ok(WasmBackend::new(runtime, Arc::new(catalog)))
}
