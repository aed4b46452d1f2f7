//! The client commands: deploy, execute, jobs and processes, against any
//! OGC API – Processes server.

use super::inputs;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wades::client::{is_final, job_id, save, Client, Execution};

/// Which server, and as whom.
#[derive(clap::Args, Debug)]
pub struct Remote {
    /// The server's URL [env WADES_URL].
    #[arg(long, env = "WADES_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key or token, sent as `Authorization: Bearer` [env WADES_API_KEY].
    #[arg(long, env = "WADES_API_KEY", hide_env_values = true)]
    key: Option<String>,
}

impl Remote {
    fn client(&self) -> Result<Client> {
        Client::new(&self.url, self.key.clone())
    }
}

/// `wades deploy`: a component (`.wasm`), an application package (`.json`)
/// or a CWL document (`.cwl`, `.yaml`, `.yml`); `replace` replaces that
/// process instead (PUT).
pub async fn deploy(
    remote: &Remote,
    file: &Path,
    id: Option<&str>,
    replace: Option<&str>,
    workflow: Option<&str>,
) -> Result<()> {
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let media_type = match extension.to_ascii_lowercase().as_str() {
        "wasm" => "application/wasm",
        "json" => "application/ogcapppkg+json",
        "cwl" | "yaml" | "yml" => "application/cwl+yaml",
        _ => bail!(
            "{}: deploy takes a component (.wasm), an application package (.json) \
             or a CWL document (.cwl, .yaml)",
            file.display()
        ),
    };
    let mut query = Vec::new();
    if let Some(id) = id {
        query.push(("id", id));
    }
    if let Some(w) = workflow {
        query.push(("w", w));
    }
    let location = remote
        .client()?
        .deploy(body, media_type, &query, replace)
        .await?;
    match replace {
        Some(id) => println!("replaced {id}: {location}"),
        None => println!("deployed {location}"),
    }
    Ok(())
}

/// `wades execute`: runs process `id`, as a job followed with a progress
/// bar unless `sync`, and saves the results under `out` (default
/// `results/<job id>`).
pub async fn execute(
    remote: &Remote,
    id: &str,
    args: &[String],
    sync: bool,
    out: Option<PathBuf>,
) -> Result<()> {
    let client = remote.client()?;
    let body = json!({"inputs": inputs::execute_inputs(args)?, "response": "document"});
    match client.execute(id, &body, !sync).await? {
        Execution::Results(results) => {
            let dir = out.unwrap_or_else(|| PathBuf::from("results").join(id));
            report_saved(&save(&client, &results, &dir).await?);
        }
        Execution::Job {
            id: job,
            status_url,
        } => {
            eprintln!("job {job}");
            let status = follow(&client, status_url).await?;
            finish(&client, &job, &status, out).await?;
        }
    }
    Ok(())
}

/// Polls a job's status until it is final, with a progress bar on a
/// terminal; returns the final status document.
async fn follow(client: &Client, status_url: reqwest::Url) -> Result<Json> {
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos:>3}% {wide_msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut wait = Duration::from_millis(100);
    loop {
        let status = client.get_json(status_url.clone()).await?;
        let state = status["status"].as_str().unwrap_or("unknown").to_string();
        if let Some(p) = status["progress"].as_u64() {
            bar.set_position(p.min(100));
        }
        let message = status["message"].as_str().unwrap_or_default();
        bar.set_message(format!("{state} {message}"));
        if is_final(&state) {
            bar.finish_and_clear();
            return Ok(status);
        }
        bar.tick();
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(1));
    }
}

/// Saves a successful job's results, or fails with what the job said.
async fn finish(client: &Client, job: &str, status: &Json, out: Option<PathBuf>) -> Result<()> {
    let state = status["status"].as_str().unwrap_or_default();
    let message = status["message"].as_str().unwrap_or_default();
    if state != "successful" {
        if !message.is_empty() {
            bail!("job {job} {state}: {message}");
        }
        // No message: a failed job's results are its exception, when the
        // server has one.
        match client.results(job).await {
            Err(e) => bail!("job {job} {state}: {e}"),
            Ok(_) => bail!("job {job} {state}"),
        }
    }
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join(job));
    let results = client.results(job).await?;
    report_saved(&save(client, &results, &dir).await?);
    Ok(())
}

fn report_saved(saved: &[wades::client::Saved]) {
    for s in saved {
        println!("{}\t{}\t{} bytes", s.output, s.path.display(), s.bytes);
    }
}

/// What `wades jobs` does.
#[derive(clap::Subcommand, Debug)]
pub enum JobsAction {
    /// List jobs, newest first.
    List {
        /// Only jobs in these states (accepted, running, successful, failed, dismissed).
        #[arg(long)]
        status: Vec<String>,
        /// Only jobs of these processes.
        #[arg(long)]
        process: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print the server's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a job's status document.
    Status {
        /// The job id.
        id: String,
    },
    /// Save a finished job's results to files.
    Results {
        /// The job id.
        id: String,
        /// Folder for the files [default: results/<job id>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Dismiss a job: stop it if it runs, and drop its results.
    Dismiss {
        /// The job id.
        id: String,
    },
    /// Follow a job with a progress bar until it ends, then save its results.
    Watch {
        /// The job id.
        id: String,
        /// Folder for the files [default: results/<job id>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `wades jobs ...`.
pub async fn jobs(remote: &Remote, action: JobsAction) -> Result<()> {
    let client = remote.client()?;
    match action {
        JobsAction::List {
            status,
            process,
            limit,
            json,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(status.into_iter().map(|s| ("status", s)));
            query.extend(process.into_iter().map(|p| ("processID", p)));
            let list = client.jobs(&query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!(
                "{:<38} {:<24} {:<10} {:>4}  created",
                "job", "process", "status", "%"
            );
            for job in list["jobs"].as_array().into_iter().flatten() {
                println!(
                    "{:<38} {:<24} {:<10} {:>4}  {}",
                    job_id(job).unwrap_or("?"),
                    job["processID"].as_str().unwrap_or("-"),
                    job["status"].as_str().unwrap_or("?"),
                    job["progress"]
                        .as_u64()
                        .map_or("-".into(), |p| p.to_string()),
                    job["created"].as_str().unwrap_or("-"),
                );
            }
        }
        JobsAction::Status { id } => {
            println!("{}", serde_json::to_string_pretty(&client.job(&id).await?)?);
        }
        JobsAction::Results { id, out } => {
            let dir = out.unwrap_or_else(|| PathBuf::from("results").join(&id));
            report_saved(&save(&client, &client.results(&id).await?, &dir).await?);
        }
        JobsAction::Dismiss { id } => {
            let status = client.dismiss(&id).await?;
            println!("{id} {}", status["status"].as_str().unwrap_or("dismissed"));
        }
        JobsAction::Watch { id, out } => {
            let status = follow(&client, client.job_url(&id)?).await?;
            finish(&client, &id, &status, out).await?;
        }
    }
    Ok(())
}

/// What `wades processes` does.
#[derive(clap::Subcommand, Debug)]
pub enum ProcessesAction {
    /// List the processes the server offers.
    List,
    /// Print a process's description.
    Describe {
        /// The process id.
        id: String,
    },
}

/// `wades processes ...`.
pub async fn processes(remote: &Remote, action: ProcessesAction) -> Result<()> {
    let client = remote.client()?;
    match action {
        ProcessesAction::List => {
            for p in client.processes().await? {
                println!(
                    "{:<32} {:<10} {}",
                    p["id"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("-"),
                    p["title"].as_str().unwrap_or_default()
                );
            }
        }
        ProcessesAction::Describe { id } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&client.process(&id).await?)?
            );
        }
    }
    Ok(())
}
