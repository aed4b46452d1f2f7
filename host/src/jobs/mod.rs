//! Jobs: queued in the database, run under a bound on how many are running,
//! observed and dismissed by clients.
//!
//! An async job is stored `accepted`; one dispatcher task claims queued jobs
//! in batches, as many as there are free running slots, and runs each in its
//! own task. A sync job skips the queue: the client is waiting, so it is
//! stored directly as `running` once it has a slot, and runs the same way.
//! Either way the job runs in a task of its own, so a client that hangs up
//! does not stop it half-way.
//!
//! Each owner's quota ([`crate::tenancy::quota`]) is checked when a job is
//! submitted, caps the limits it runs under, and bounds how many of its jobs
//! the dispatcher runs at once; the dispatcher serves owners in turn, so a
//! long queue of one tenant does not hold back another's jobs.
//!
//! Dismissal races with claiming: a job's cancel handle is published by the
//! store's claim before any later write, a dismissal included, is answered
//! (see [`JobStore::claim_batch`]), so a dismissal either stops the claim or
//! finds the handle.

mod cwl;
mod cwl_log;
mod dry_run;
mod events;
mod observe;
mod retention;
mod staging;
mod threads;
mod usage;

pub use dry_run::DryRun;
pub use observe::{JobObserver, RunMeter};

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::metrics::{JobEnd, Metrics};
use crate::model::{
    JobFilter, JobRecord, JobStatus, Limits, LogLine, NamedValue, Principal, Usage,
};
use crate::ogc::results::{stored_from_value, StoredOutput};
use crate::ogc::OutputRequest;
use crate::registry::{Implementation, Registry};
use crate::runtime::{Job as RuntimeJob, JobDirs, RunError, Runtime};
use crate::store::{JobStore, StoreError, StoreEvent};
use crate::tenancy::quota::Quotas;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, Mutex as AsyncMutex, Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What a client asked a job to do, as stored with the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// Validated inputs; hrefs are fetched when the job starts.
    pub inputs: Vec<NamedValue>,
    /// Outputs the client wants, and how; empty means all, by value.
    pub outputs: Vec<OutputRequest>,
    /// Limits below the owner's that the job runs under: a quotation's
    /// budget, so that it cannot cost more than quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The quotation this job executes; its bill is written against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotation: Option<String>,
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
    /// Cancel handles of the jobs this node is running.
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    /// Wakes the dispatcher when a job is queued.
    wake: Notify,
    /// One permit per job that may be running at once.
    slots: Arc<Semaphore>,
    max_attempts: u32,
    run_queue: bool,
    threads: threads::JobThreads,
    quotas: Quotas,
    /// Jobs running on this node per owner, for the sync quota check: a
    /// short sync job never has a `running` row to count.
    owners: usage::RunningOwners,
    /// Where the steps of CWL jobs run.
    cwl: cwl::CwlBackends,
    metrics: Metrics,
    /// Told how each job ended (billing), once set.
    observer: OnceLock<Arc<dyn JobObserver>>,
}

/// How many jobs run at once, and where.
#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    /// Threads that execute guests.
    pub workers: usize,
    /// Jobs in the `running` state at once.
    pub running_jobs: usize,
    /// Times a job is started before a crash loop fails it.
    pub max_attempts: u32,
    /// Whether this node takes jobs from the queue (`--role api`: no).
    pub run_queue: bool,
}

/// Where the container steps of CWL jobs run: the Docker engine with these
/// settings (`[cwl.docker]`), or nowhere.
pub type CwlDocker = Option<crate::cwl::docker::DockerConfig>;

/// Most queued jobs claimed in one statement.
const CLAIM_BATCH: usize = 64;

/// How long a sync job may run before its row is written.
pub const SYNC_WRITE_BEHIND: Duration = Duration::from_millis(50);

impl Jobs {
    /// A service over `store`, keeping job files under `data_dir/jobs`;
    /// CWL container steps run on `docker`; jobs are counted in `metrics`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: JobStore,
        registry: Arc<Registry>,
        runtime: Runtime,
        fetcher: Fetcher,
        data_dir: &std::path::Path,
        config: JobsConfig,
        quotas: Quotas,
        docker: CwlDocker,
        metrics: Metrics,
    ) -> Result<Self> {
        Ok(Jobs {
            inner: Arc::new(Inner {
                store,
                registry,
                runtime,
                fetcher,
                dir: data_dir.join("jobs"),
                running: Arc::new(Mutex::new(HashMap::new())),
                waiters: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                slots: Arc::new(Semaphore::new(config.running_jobs.max(1))),
                max_attempts: config.max_attempts,
                run_queue: config.run_queue,
                threads: threads::JobThreads::new(config.workers)?,
                quotas,
                owners: usage::RunningOwners::default(),
                cwl: cwl::CwlBackends::new(docker),
                metrics,
                observer: OnceLock::new(),
            }),
        })
    }

    /// Has `observer` told how every job ends from now on; only the first
    /// observer set is kept.
    pub fn observe(&self, observer: Arc<dyn JobObserver>) {
        if self.inner.observer.set(observer).is_err() {
            tracing::warn!("a job observer is set already; the new one is ignored");
        }
    }

    /// Puts jobs a crash left running back in the queue (or fails them after
    /// `max_attempts`), then starts taking jobs from the queue (unless this
    /// node only serves the API) and acting on what other nodes sharing the
    /// store do.
    pub async fn start(&self) -> Result<()> {
        let inner = &self.inner;
        let (resumed, failed) = inner.store.recover_interrupted(inner.max_attempts).await?;
        if resumed + failed > 0 {
            tracing::warn!(resumed, failed, "recovered jobs interrupted by a restart");
        }
        if let Some(events) = inner.store.events() {
            tokio::spawn(follow(inner.clone(), events));
        }
        if inner.run_queue {
            inner.threads.handle().spawn(dispatch(inner.clone()));
        }
        Ok(())
    }

    /// Queues a job of `process_id` for tenant `owner`, unless its quota
    /// is used up. The check is not a reservation: submissions racing each
    /// other may pass the queue quota by a few.
    pub async fn submit(
        &self,
        process_id: &str,
        request: JobRequest,
        owner: &str,
    ) -> Result<JobRecord> {
        self.inner.quotas.admit_queued(owner).await?;
        let job = new_record(process_id, &request, owner)?;
        self.inner.store.insert(&job).await?;
        self.inner.wake.notify_one();
        Ok(job)
    }

    /// Runs a job of `process_id` now, without queueing it behind async
    /// jobs, and returns it once final. It is stored, listed and
    /// dismissable like any other job.
    ///
    /// Its row is written behind: a job that ends within
    /// [`SYNC_WRITE_BEHIND`] is stored once, already final, which halves
    /// the writes of short jobs; a longer one is stored as `running` then,
    /// and finished like an async job. Until then no client knows its id
    /// (the response carries it), and if the server dies first the client
    /// sees the connection fail, so nothing it was told about is lost.
    pub async fn run_sync(
        &self,
        process_id: &str,
        request: JobRequest,
        owner: &str,
    ) -> Result<JobRecord> {
        let running = self.inner.owners.count(owner);
        self.inner.quotas.admit_sync(owner, running).await?;
        let slot = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut job = new_record(process_id, &request, owner)?;
        job.status = JobStatus::Running;
        job.message = Some("running".into());
        job.started = Some(job.created);
        job.attempts = 1;
        // Published before the job is stored, so no dismissal can miss it.
        self.inner
            .running
            .lock()
            .expect("running")
            .insert(job.id.clone(), CancellationToken::new());
        let row = Arc::new(AsyncMutex::new(Row::Deferred));
        let (reply, mut answer) = oneshot::channel();
        let task = run(
            self.inner.clone(),
            job.clone(),
            Some(row.clone()),
            slot,
            Some(reply),
        );
        self.inner
            .threads
            .handle()
            .spawn(task.instrument(span(&job)));
        let answer = tokio::select! {
            answer = &mut answer => answer,
            _ = tokio::time::sleep(SYNC_WRITE_BEHIND) => {
                let mut row = row.lock().await;
                if *row == Row::Deferred {
                    match self.inner.store.insert(&job).await {
                        Ok(()) => *row = Row::Written,
                        // Left deferred: the job will try again with its final row.
                        Err(e) => tracing::warn!(job = %job.id, error = %e, "storing a running sync job failed"),
                    }
                }
                drop(row);
                answer.await
            }
        };
        answer.map_err(|_| Error::Internal(format!("job {} ended without an answer", job.id)))?
    }

    /// The job `id`.
    pub async fn get(&self, id: &str) -> Result<JobRecord> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| Error::NoSuchJob(id.into()))
    }

    /// The job `id` if `who` may see it: its creator and admins. For anyone
    /// else it does not exist.
    pub async fn get_for(&self, id: &str, who: &Principal) -> Result<JobRecord> {
        let job = self.get(id).await?;
        if !who.owns(&job.owner) {
            return Err(Error::NoSuchJob(id.into()));
        }
        Ok(job)
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

    /// Dismisses a job `who` may see: a queued one never starts, a running
    /// one is stopped, and results are deleted.
    pub async fn dismiss(&self, id: &str, who: &Principal) -> Result<JobRecord> {
        self.get_for(id, who).await?;
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

    /// The log of a job `who` may see.
    pub async fn logs(&self, id: &str, who: &Principal) -> Result<Vec<LogLine>> {
        self.get_for(id, who).await?;
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
        JobRequest::deserialize(&job.request).unwrap_or_default()
    }

    /// How many stored jobs are in `status`, on every node of the store.
    pub async fn count(&self, status: JobStatus) -> Result<u64> {
        Ok(self.inner.store.count(status).await?)
    }
}

/// The span everything a job logs is in, wherever it runs. At the error
/// level, so that it is on whenever any line inside it is.
fn span(job: &JobRecord) -> tracing::Span {
    tracing::error_span!("job", job = %job.id, process = %job.process_id)
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

/// A new job of `process_id` for `owner`, `accepted`.
fn new_record(process_id: &str, request: &JobRequest, owner: &str) -> Result<JobRecord> {
    let now = Utc::now();
    Ok(JobRecord {
        // Time-ordered ids land at the end of the primary key's b-tree
        // instead of on a random page, so a batch of new jobs dirties (and
        // writes to the WAL) a few pages rather than one per job. 74 random
        // bits keep them unguessable.
        id: uuid::Uuid::now_v7().to_string(),
        process_id: process_id.to_string(),
        status: JobStatus::Accepted,
        message: Some("accepted".into()),
        progress: Some(0),
        created: now,
        started: None,
        finished: None,
        updated: now,
        attempts: 0,
        request: serde_json::to_value(request).map_err(|e| Error::Internal(e.to_string()))?,
        results: None,
        error: None,
        owner: owner.to_string(),
        usage: None,
    })
}

/// Acts on what other nodes did: wakes the dispatcher for jobs they
/// queued, and stops this node's run of a job they dismissed or took over.
async fn follow(inner: Arc<Inner>, mut events: tokio::sync::broadcast::Receiver<StoreEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(StoreEvent::Queued) => inner.wake.notify_one(),
            Ok(StoreEvent::Dismissed(id)) => {
                if let Some(token) = inner.running.lock().expect("running").get(&id) {
                    token.cancel();
                }
                inner.notify_final(&id);
            }
            Ok(StoreEvent::LeaseLost(id)) => {
                tracing::warn!(job = %id, "the job's lease was lost; stopping its run here");
                if let Some(token) = inner.running.lock().expect("running").get(&id) {
                    token.cancel();
                }
            }
            // Missed some: whatever they were, the queue may have work.
            Err(RecvError::Lagged(_)) => inner.wake.notify_one(),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Claims queued jobs whenever running slots are free, and runs them.
async fn dispatch(inner: Arc<Inner>) {
    loop {
        let Ok(first) = inner.slots.clone().acquire_owned().await else {
            return;
        };
        let mut slots = vec![first];
        while slots.len() < CLAIM_BATCH {
            match inner.slots.clone().try_acquire_owned() {
                Ok(slot) => slots.push(slot),
                Err(_) => break,
            }
        }
        let running = inner.running.clone();
        let claimed = inner
            .store
            .claim_batch(
                slots.len(),
                inner.quotas.defaults().max_running,
                move |jobs| {
                    let mut running = running.lock().expect("running");
                    for job in jobs {
                        running.insert(job.id.clone(), CancellationToken::new());
                    }
                },
            )
            .await;
        match claimed {
            Ok(jobs) if jobs.is_empty() => {
                drop(slots);
                // The timeout also picks up jobs queued by another node.
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), inner.wake.notified()).await;
            }
            Ok(jobs) => {
                for (job, slot) in jobs.into_iter().zip(slots) {
                    let span = span(&job);
                    tokio::spawn(run(inner.clone(), job, None, slot, None).instrument(span));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming jobs failed");
                drop(slots);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Where a sync job's row stands; see [`Jobs::run_sync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// Not written yet: the job writes its final row at the end.
    Deferred,
    /// Written as `running`: the job finishes it like any other.
    Written,
}

/// Where the end of a job is reported: to the client of a sync execution.
type Reply = Option<oneshot::Sender<Result<JobRecord>>>;

/// Runs a job that has its cancel handle published and whose row is
/// `running` (or deferred), records how it ended, then frees its running
/// `slot` and sends the job as it now stands to `reply`.
async fn run(
    inner: Arc<Inner>,
    job: JobRecord,
    row: Option<Arc<AsyncMutex<Row>>>,
    slot: OwnedSemaphorePermit,
    reply: Reply,
) {
    let _counted = inner.owners.enter(&job.owner);
    let _in_flight = inner.metrics.job_started();
    let started = std::time::Instant::now();
    let token = inner
        .running
        .lock()
        .expect("running")
        .get(&job.id)
        .cloned()
        .unwrap_or_default();
    let mut meter = RunMeter::default();
    let outcome = if token.is_cancelled() {
        // Dismissed between its claim and now: never start.
        Err(RunError::Cancelled)
    } else {
        execute(&inner, &job, token.clone(), &mut meter).await
    };
    let end = End::of(outcome, meter.usage);
    if let Some(observer) = inner.observer.get() {
        meter.usage = end.usage;
        observer.ended(&job, end.status, &meter).await;
    }
    let ended = match end.status {
        _ if token.is_cancelled() => JobEnd::Dismissed,
        JobStatus::Successful => JobEnd::Successful,
        _ => JobEnd::Failed,
    };
    let elapsed = started.elapsed();
    inner
        .metrics
        .process(&job.process_id)
        .finished(ended, elapsed, end.usage.fuel);
    tracing::debug!(
        status = end.status.as_str(),
        ?elapsed,
        fuel = end.usage.fuel,
        "job ended"
    );
    // Held until the end is recorded, so the row is written exactly once.
    let row = match row {
        Some(row) => Some(row.lock_owned().await),
        None => None,
    };
    if row.as_deref() != Some(&Row::Deferred) {
        let finished = finish(&inner, &job.id, &end).await;
        drop((row, slot));
        return inner.conclude(&job.id, finished, reply);
    }
    // A short sync job: its one row is written final, and the writer
    // answers the client itself, so this thread is not woken again.
    let done = end.apply(job);
    let handle = inner.threads.handle().clone();
    let (after, id) = (inner.clone(), done.id.clone());
    let record = done.clone();
    // The writer's thread runs this, outside the job's task.
    let span = tracing::Span::current();
    let queued = inner.store.insert_then(&done, move |stored| match stored {
        Ok(()) => {
            let _entered = span.enter();
            drop((row, slot));
            let id = record.id.clone();
            after.conclude(&id, Ok(record), reply);
        }
        // The running row was written after all, by a request that went
        // away before it learnt so.
        Err(StoreError::DuplicateJob(_)) => {
            let task = async move {
                let finished = finish(&after, &record.id, &end).await;
                drop((row, slot));
                after.conclude(&record.id, finished, reply);
            };
            handle.spawn(task.instrument(span));
        }
        Err(e) => {
            let _entered = span.enter();
            drop((row, slot));
            after.conclude(&record.id, Err(e.into()), reply);
        }
    });
    if let Err(e) = queued {
        inner.conclude(&id, Err(e.into()), None);
    }
}

/// Records the end of a job whose row is written, and returns it as it
/// now stands.
async fn finish(inner: &Inner, id: &str, end: &End) -> Result<JobRecord> {
    let (results, error) = (end.results.as_ref(), end.error.as_ref());
    match inner
        .store
        .finish(
            id,
            end.status,
            Some(&end.message),
            results,
            error,
            end.usage,
        )
        .await
    {
        Ok(Some(done)) => Ok(done),
        // No longer running: it was dismissed, and its files must go; the
        // fuel it burnt still counts.
        Ok(None) => {
            remove_dir(&inner.dir.join(id));
            let usage = Usage {
                result_bytes: 0,
                ..end.usage
            };
            if let Err(e) = inner.store.set_usage(id, usage).await {
                tracing::warn!(job = %id, error = %e, "recording what a dismissed job used failed");
            }
            inner
                .store
                .get(id)
                .await
                .map_err(Error::from)
                .and_then(|j| j.ok_or_else(|| Error::NoSuchJob(id.into())))
        }
        Err(e) => Err(e.into()),
    }
}

impl Inner {
    /// A job's end is durable: it is no longer running here, and whoever
    /// waits for it learns so.
    fn conclude(&self, id: &str, finished: Result<JobRecord>, reply: Reply) {
        self.running.lock().expect("running").remove(id);
        // An owner capped by its quota may have room now. Only queued jobs
        // wake the dispatcher: sync ones would cost it a claim each.
        if reply.is_none() {
            self.wake.notify_one();
        }
        if let Err(e) = &finished {
            tracing::error!(job = %id, error = %e, "recording the end of a job failed");
        }
        self.notify_final(id);
        if let Some(reply) = reply {
            let _ = reply.send(finished);
        }
    }
}

/// How a run ended, as stored.
struct End {
    status: JobStatus,
    message: String,
    results: Option<serde_json::Value>,
    error: Option<serde_json::Value>,
    usage: Usage,
}

impl End {
    fn of(outcome: Result<Vec<(String, StoredOutput)>, RunError>, usage: Usage) -> End {
        let failed = |error: RunError| End {
            status: JobStatus::Failed,
            message: error.to_string(),
            results: None,
            error: Some(serde_json::to_value(StoredFailure { error }).unwrap_or_default()),
            // Results that were refused are not kept.
            usage: Usage {
                result_bytes: 0,
                ..usage
            },
        };
        match outcome.map(|outputs| serde_json::to_value(&outputs)) {
            Ok(Ok(results)) => End {
                status: JobStatus::Successful,
                message: "completed".into(),
                results: Some(results),
                error: None,
                usage,
            },
            Ok(Err(e)) => failed(RunError::Host(e.to_string())),
            Err(e) => failed(e),
        }
    }

    /// `job` as the store's `finish` would leave it.
    fn apply(&self, mut job: JobRecord) -> JobRecord {
        let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
            .unwrap_or_else(Utc::now);
        if self.status == JobStatus::Successful {
            job.progress = Some(100);
        }
        job.status = self.status;
        job.message = Some(self.message.clone());
        job.results = self.results.clone();
        job.error = self.error.clone();
        job.finished = Some(now);
        job.updated = now;
        job.usage = Some(self.usage);
        job
    }
}

/// Runs `job`'s guest and stores its outputs; `meter` learns what the run
/// used, whether it succeeded or not.
async fn execute(
    inner: &Inner,
    job: &JobRecord,
    cancel: CancellationToken,
    meter: &mut RunMeter,
) -> Result<Vec<(String, StoredOutput)>, RunError> {
    // Read in place: cloning the stored request first would copy every
    // input once more per job.
    let request = JobRequest::deserialize(&job.request)
        .map_err(|e| RunError::Host(format!("stored request: {e}")))?;
    meter.input_bytes = input_bytes(&request.inputs);
    let budget = request.limits.unwrap_or_default();
    let used = &mut meter.usage;
    let entry = inner
        .registry
        .get(&job.process_id)
        .map_err(|e| RunError::Host(e.to_string()))?;
    let component = match &entry.process {
        Implementation::Component(p) => p,
        Implementation::Cwl(c) => return cwl::execute(inner, job, c, request, cancel, used).await,
    };
    let root = inner.dir.join(&job.id);
    let dirs = JobDirs {
        inputs: root.join("inputs"),
        outputs: root.join("outputs"),
    };
    let mounted = entry.description.stages_files();
    if mounted {
        for d in [&dirs.inputs, &dirs.outputs] {
            std::fs::create_dir_all(d).map_err(|e| RunError::Host(format!("job folders: {e}")))?;
        }
    }
    let inputs = staging::stage(
        &inner.fetcher,
        &entry.description,
        request.inputs,
        &dirs.inputs,
    )
    .await
    .map_err(|e| {
        if mounted {
            remove_dir(&dirs.inputs);
        }
        RunError::Guest {
            code: "invalid-input".into(),
            message: e.to_string(),
        }
    })?;
    let quota = inner
        .quotas
        .of(&job.owner)
        .await
        .map_err(|e| RunError::Host(e.to_string()))?;
    let (sink, drain) = events::sink(inner.store.clone(), job.id.clone());
    let measured = Arc::new(crate::runtime::JobMeter::default());
    let mut run = RuntimeJob::new(inputs)
        .with_cancel(cancel)
        .with_events(sink)
        .with_limits(quota.job_limits().lowered_by(budget))
        .with_meter(measured.clone());
    if mounted {
        run = run.with_dirs(dirs.clone());
    }
    let result = inner.runtime.execute(component, run).await;
    meter.memory_peak = measured.memory_peak();
    meter.wall = measured.elapsed();
    let used = &mut meter.usage;
    let _ = drain.await;
    if mounted {
        remove_dir(&dirs.inputs);
    }
    let output = match result {
        Ok(output) => output,
        Err(e) => {
            if let RunError::OutOfFuel { fuel } = &e {
                used.fuel = *fuel;
            }
            return Err(e);
        }
    };
    used.fuel = output.fuel_consumed.unwrap_or(0);
    let mut stored = Vec::with_capacity(output.outputs.len());
    for (i, out) in output.outputs.into_iter().enumerate() {
        stored.push((
            out.id.clone(),
            store_output(&dirs, i, out).map_err(|e| RunError::Host(e.to_string()))?,
        ));
    }
    // Binary outputs are written to files even without mounted folders.
    let has_files = mounted
        || stored
            .iter()
            .any(|(_, o)| matches!(o, StoredOutput::File { .. }));
    let bytes = usage::result_bytes(has_files.then_some(dirs.outputs.as_path()), &stored);
    if let Err(e) = usage::admit_results(inner, &job.owner, &quota, bytes).await {
        remove_dir(&dirs.outputs);
        return Err(e);
    }
    used.result_bytes = bytes;
    Ok(stored)
}

/// Bytes of `inputs` as given (see [`RunMeter::input_bytes`]): what
/// quotations regress fuel on.
pub fn input_bytes(inputs: &[NamedValue]) -> u64 {
    inputs.iter().map(|i| i.value.inline_size() as u64).sum()
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
            std::fs::create_dir_all(&dirs.outputs)?;
            std::fs::write(dirs.outputs.join(&file), data)?;
            StoredOutput::File { file, media_type }
        }
        other => stored_from_value(&other),
    })
}
