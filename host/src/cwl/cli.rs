//! `wades cwl-runner`: run a CWL document on this machine, the way
//! `cwltest` drives a runner: `--outdir DIR --quiet tool.cwl [job.yml]`,
//! the output object as JSON on stdout, exit code 0 on success, 33 for an
//! unsupported feature, 1 for any other failure.
//!
//! This is the local mode: tools run as plain host processes, which the
//! runner only does because this command asks for it.

use super::load::{load_document, load_job, split_reference};
use super::runner::{Runner, RunnerOptions};
use super::CwlError;
use std::path::PathBuf;

/// Arguments of `wades cwl-runner`.
#[derive(Debug, Clone, clap::Args)]
pub struct CwlRunnerArgs {
    /// Folder the output files go to (created if missing).
    #[arg(long, default_value = ".")]
    pub outdir: PathBuf,
    /// Only print errors (the output object still goes to stdout).
    #[arg(long)]
    pub quiet: bool,
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
    let runner = Runner::new(RunnerOptions {
        allow_host_commands: true,
        ..RunnerOptions::default()
    })?;
    let outputs = runner
        .run_to_outdir(&process, job, &job_dir, &args.outdir)
        .await?;
    // Not serde_json: its floats use exponents (`1e42`), which Python reads
    // back as a float that differs from the integer the reference gives.
    Ok(super::expr::python_json(&serde_json::Value::Object(
        outputs,
    )))
}
