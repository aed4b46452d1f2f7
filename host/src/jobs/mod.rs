//! Jobs: queued in the database, run by a bounded pool of workers, observed
//! and dismissed by clients. Guests never run on the HTTP threads: a sync
//! execution is a job like any other that the handler waits for.

mod events;
mod staging;

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::model::{JobFilter, JobRecord, JobStatus, LogLine, NamedValue};
use crate::ogc::results::{stored_from_value, StoredOutput};
use crate::ogc::OutputRequest;
use crate::registry::Registry;
use crate::runtime::{Job as RuntimeJob, JobDirs, RunError, Runtime};
use crate::store::JobStore;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;

/// What a client asked a job to do, as stored with the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// Validated inputs; hrefs are fetched when the job starts.
    pub inputs: Vec<NamedValue>,
    /// Outputs the client wants, and how; empty means all, by value.
    pub outputs: Vec<OutputRequest>,
}

/// The job service. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: JobStore,
    registry: Arc<Registry>,
    runtime: Runtime,
    fetcher: Fetcher,
    dir: PathBuf,
    running: Mutex<HashMap<String, CancellationToken>>,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    wake: Notify,
}

impl Jobs {
    /// A service over `store`, keeping job files under `data_dir/jobs`.
    pub fn new(
        store: JobStore,
        registry: Arc<Registry>,
        runtime: Runtime,
        fetcher: Fetcher,
        data_dir: &std::path::Path,
    ) -> Self {
        Jobs {
            inner: Arc::new(Inner {
                store,
                registry,
                runtime,
                fetcher,
                dir: data_dir.join("jobs"),
                running: Mutex::new(HashMap::new()),
                waiters: Mutex::new(HashMap::new()),
                wake: Notify::new(),
            }),
        }
    }

    /// Puts jobs a crash left running back in the queue (or fails them after
    /// `max_attempts`), then starts `workers` workers.
    pub async fn start(&self, workers: usize, max_attempts: u32) -> Result<()> {
        let (resumed, failed) = self.inner.store.recover_interrupted(max_attempts).await?;
        if resumed + failed > 0 {
            tracing::warn!(resumed, failed, "recovered jobs interrupted by a restart");
        }
        for _ in 0..workers.max(1) {
            let inner = self.inner.clone();
            tokio::spawn(async move { worker(inner).await });
        }
        Ok(())
    }

    /// Queues a job of `process_id`.
    pub async fn submit(&self, process_id: &str, request: JobRequest) -> Result<JobRecord> {
        let now = Utc::now();
        let job = JobRecord {
            id: uuid::Uuid::new_v4().to_string(),
            process_id: process_id.to_string(),
            status: JobStatus::Accepted,
            message: Some("accepted".into()),
            progress: Some(0),
            created: now,
            started: None,
            finished: None,
            updated: now,
            attempts: 0,
            request: serde_json::to_value(&request).map_err(|e| Error::Internal(e.to_string()))?,
            results: None,
            error: None,
        };
        self.inner.store.insert(&job).await?;
        self.inner.wake.notify_one();
        Ok(job)
    }

    /// The job `id`.
    pub async fn get(&self, id: &str) -> Result<JobRecord> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NoSuchJob(id.into()))
    }

    /// Waits until the job is final, or `timeout` passes, and returns it.
    pub async fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<JobRecord> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiters
            .lock()
            .expect("waiters")
            .entry(id.to_string())
            .or_default()
            .push(tx);
        // Checked after registering, so a job finishing in between is not missed.
        let job = self.get(id).await?;
        if job.status.is_final() {
            return Ok(job);
        }
        match timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, rx).await;
            }
            None => {
                let _ = rx.await;
            }
        }
        self.get(id).await
    }

    /// A page of jobs.
    pub async fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, bool)> {
        Ok(self.inner.store.list(filter).await?)
    }

    /// Dismisses a job: a queued one never starts, a running one is stopped,
    /// and results are deleted.
    pub async fn dismiss(&self, id: &str) -> Result<JobRecord> {
        let job = self
            .inner
            .store
            .dismiss(id)
            .await?
            .ok_or_else(|| Error::NoSuchJob(id.into()))?;
        if let Some(token) = self.inner.running.lock().expect("running").get(id) {
            token.cancel();
        }
        remove_dir(&self.inner.dir.join(id));
        self.inner.notify_final(id);
        Ok(job)
    }

    /// The log of a job.
    pub async fn logs(&self, id: &str) -> Result<Vec<LogLine>> {
        self.get(id).await?;
        Ok(self.inner.store.logs(id).await?)
    }

    /// The stored outputs of a successful job.
    pub fn outputs(&self, job: &JobRecord) -> Result<Vec<(String, StoredOutput)>> {
        match job.status {
            JobStatus::Successful => {
                serde_json::from_value(job.results.clone().unwrap_or_default())
                    .map_err(|e| Error::Internal(format!("stored results of {}: {e}", job.id)))
            }
            JobStatus::Dismissed => Err(Error::NoSuchJob(job.id.clone())),
            JobStatus::Failed => Err(Error::JobFailed(job_failure(job))),
            JobStatus::Accepted | JobStatus::Running => Err(Error::ResultNotReady(job.id.clone())),
        }
    }

    /// Where the files of output `file` of job `id` are.
    pub fn output_path(&self, id: &str, file: &str) -> PathBuf {
        self.inner.dir.join(id).join("outputs").join(file)
    }

    /// The request a job was created with.
    pub fn request(&self, job: &JobRecord) -> JobRequest {
        serde_json::from_value(job.request.clone()).unwrap_or_default()
    }
}

/// The run error recorded with a failed job.
fn job_failure(job: &JobRecord) -> RunError {
    job.error
        .as_ref()
        .and_then(|e| serde_json::from_value::<StoredFailure>(e.clone()).ok())
        .map(|f| f.error)
        .unwrap_or_else(|| {
            RunError::Host(
                job.message
                    .clone()
                    .unwrap_or_else(|| "the job failed".into()),
            )
        })
}

/// How a failure is stored, so that it is served the same after a restart.
#[derive(Serialize, Deserialize)]
struct StoredFailure {
    error: RunError,
}

impl Inner {
    fn notify_final(&self, id: &str) {
        if let Some(waiters) = self.waiters.lock().expect("waiters").remove(id) {
            for w in waiters {
                let _ = w.send(());
            }
        }
    }
}

fn remove_dir(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir_all(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove job files");
        }
    }
}

async fn worker(inner: Arc<Inner>) {
    loop {
        match inner.store.claim_next().await {
            Ok(Some(job)) => {
                let id = job.id.clone();
                run(&inner, job).await;
                inner.notify_final(&id);
            }
            Ok(None) => {
                // The timeout also picks up jobs queued by another node.
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), inner.wake.notified()).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn run(inner: &Inner, job: JobRecord) {
    let token = CancellationToken::new();
    inner
        .running
        .lock()
        .expect("running")
        .insert(job.id.clone(), token.clone());
    let outcome = match inner.store.get(&job.id).await {
        // Dismissed between claim and registration: never start.
        Ok(Some(j)) if j.status == JobStatus::Dismissed => Err(RunError::Cancelled),
        _ => execute(inner, &job, token).await,
    };
    inner.running.lock().expect("running").remove(&job.id);
    let job_dir = inner.dir.join(&job.id);
    remove_dir(&job_dir.join("inputs"));
    let finished = match outcome {
        Ok(outputs) => match serde_json::to_value(&outputs) {
            Ok(results) => {
                inner
                    .store
                    .finish(
                        &job.id,
                        JobStatus::Successful,
                        Some("completed"),
                        Some(&results),
                        None,
                    )
                    .await
            }
            Err(e) => fail(inner, &job.id, RunError::Host(e.to_string())).await,
        },
        Err(e) => fail(inner, &job.id, e).await,
    };
    match finished {
        Ok(true) => {}
        // No longer running: it was dismissed, and its files must go.
        Ok(false) => remove_dir(&job_dir),
        Err(e) => tracing::error!(job = %job.id, error = %e, "recording the end of a job failed"),
    }
}

async fn fail(
    inner: &Inner,
    id: &str,
    error: RunError,
) -> std::result::Result<bool, crate::store::StoreError> {
    let message = error.to_string();
    let stored = serde_json::to_value(StoredFailure { error }).unwrap_or_default();
    inner
        .store
        .finish(id, JobStatus::Failed, Some(&message), None, Some(&stored))
        .await
}

async fn execute(
    inner: &Inner,
    job: &JobRecord,
    cancel: CancellationToken,
) -> Result<Vec<(String, StoredOutput)>, RunError> {
    let request: JobRequest = serde_json::from_value(job.request.clone())
        .map_err(|e| RunError::Host(format!("stored request: {e}")))?;
    let entry = inner
        .registry
        .get(&job.process_id)
        .map_err(|e| RunError::Host(e.to_string()))?;
    let root = inner.dir.join(&job.id);
    let dirs = JobDirs {
        inputs: root.join("inputs"),
        outputs: root.join("outputs"),
    };
    for d in [&dirs.inputs, &dirs.outputs] {
        std::fs::create_dir_all(d).map_err(|e| RunError::Host(format!("job folders: {e}")))?;
    }
    let inputs = staging::stage(
        &inner.fetcher,
        entry.process.description(),
        request.inputs,
        &dirs.inputs,
    )
    .await
    .map_err(|e| RunError::Guest {
        code: "invalid-input".into(),
        message: e.to_string(),
    })?;
    let (sink, drain) = events::sink(inner.store.clone(), job.id.clone());
    let result = inner
        .runtime
        .execute(
            &entry.process,
            RuntimeJob::new(inputs)
                .with_dirs(dirs.clone())
                .with_cancel(cancel)
                .with_events(sink),
        )
        .await;
    let _ = drain.await;
    let output = result?;
    let mut stored = Vec::with_capacity(output.outputs.len());
    for (i, out) in output.outputs.into_iter().enumerate() {
        stored.push((
            out.id.clone(),
            store_output(&dirs, i, out).map_err(|e| RunError::Host(e.to_string()))?,
        ));
    }
    Ok(stored)
}

/// Files stay where the guest wrote them; inline bytes go to a file too, so
/// that the database holds only small documents.
fn store_output(dirs: &JobDirs, index: usize, out: NamedValue) -> std::io::Result<StoredOutput> {
    use crate::model::Value;
    Ok(match out.value {
        Value::File { path, media_type } => {
            let file = path.trim_start_matches("/outputs/").to_string();
            StoredOutput::File { file, media_type }
        }
        Value::Binary { data, media_type } => {
            let file = format!(".wades-output-{index}");
            std::fs::write(dirs.outputs.join(&file), data)?;
            StoredOutput::File { file, media_type }
        }
        other => stored_from_value(&other),
    })
}
