//! One job: a fresh store and instance, run under limits, outputs checked.

use super::bindings::{self, ProcessPre};
use super::events::{JobEvents, NoEvents};
use super::state::{JobState, MemoryLimitHit};
use super::{LoadError, Process, RunError, Runtime};
use crate::model::{Limits, NamedValue, ProcessDescription, Value};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What to run.
pub struct Job {
    /// Input values; an input with several occurrences appears several times.
    pub inputs: Vec<NamedValue>,
    /// The folders mounted at `/inputs` and `/outputs`; none mounts nothing.
    pub dirs: Option<JobDirs>,
    /// Limits the request asks for; they can only lower the others.
    pub limits: Limits,
    /// Cancels the job: a spinning guest stops within an epoch tick.
    pub cancel: CancellationToken,
    /// Receives log lines and progress.
    pub events: Arc<dyn JobEvents>,
    /// Learns what the run used, whether it succeeds or not.
    pub meter: Option<Arc<JobMeter>>,
}

/// What one run used, written when it ends however it ends: a failed run
/// returns no [`JobOutput`], yet a bill must still say what it held.
#[derive(Debug, Default)]
pub struct JobMeter {
    memory_peak: AtomicU64,
    elapsed_micros: AtomicU64,
}

impl JobMeter {
    /// Most linear memory the instance held, in bytes.
    pub fn memory_peak(&self) -> u64 {
        self.memory_peak.load(Ordering::Relaxed)
    }

    /// Wall-clock time from instantiation to the end of the run.
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.elapsed_micros.load(Ordering::Relaxed))
    }

    fn record(&self, memory_peak: u64, elapsed: Duration) {
        self.memory_peak.store(memory_peak, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.elapsed_micros.store(micros, Ordering::Relaxed);
    }
}

impl Job {
    /// A job with these inputs, no folders, default limits and no observer.
    pub fn new(inputs: Vec<NamedValue>) -> Self {
        Job {
            inputs,
            dirs: None,
            limits: Limits::default(),
            cancel: CancellationToken::new(),
            events: Arc::new(NoEvents),
            meter: None,
        }
    }

    /// Has `meter` learn what the run used.
    pub fn with_meter(mut self, meter: Arc<JobMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Mounts `dirs`.
    pub fn with_dirs(mut self, dirs: JobDirs) -> Self {
        self.dirs = Some(dirs);
        self
    }

    /// Asks for lower limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Uses `cancel` to stop the job.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sends events to `events`.
    pub fn with_events(mut self, events: Arc<dyn JobEvents>) -> Self {
        self.events = events;
        self
    }
}

/// The host folders of one job.
#[derive(Debug, Clone)]
pub struct JobDirs {
    /// Staged inputs, read-only to the guest at `/inputs`.
    pub inputs: PathBuf,
    /// Where the guest writes, at `/outputs`.
    pub outputs: PathBuf,
}

impl JobDirs {
    /// The host path of a guest path under `/inputs` or `/outputs`, or
    /// `None` if it is anywhere else or climbs out with `..`.
    pub fn host_path(&self, guest: &str) -> Option<PathBuf> {
        let path = Path::new(guest);
        let (base, rest) = if let Ok(rest) = path.strip_prefix("/outputs") {
            (&self.outputs, rest)
        } else if let Ok(rest) = path.strip_prefix("/inputs") {
            (&self.inputs, rest)
        } else {
            return None;
        };
        if rest.as_os_str().is_empty()
            || !rest.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return None;
        }
        Some(base.join(rest))
    }
}

/// What a successful job produced, and what it cost.
#[derive(Debug, Clone)]
pub struct JobOutput {
    /// Output values; files are guest paths under `/outputs`.
    pub outputs: Vec<NamedValue>,
    /// Fuel burnt, if fuel is metered.
    pub fuel_consumed: Option<u64>,
    /// Most linear memory the instance held, in bytes.
    pub memory_peak: u64,
    /// Wall-clock time from instantiation to return.
    pub elapsed: Duration,
    /// What the guest printed (bounded).
    pub stdout: String,
    /// What the guest printed to stderr (bounded).
    pub stderr: String,
}

/// Why the epoch callback stopped the guest.
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    #[error("cancelled")]
    Cancelled,
    #[error("timed out")]
    Timeout,
}

/// Limits resolved to numbers.
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    pub(super) fuel: u64,
    pub(super) memory: u64,
    pub(super) timeout: Duration,
}

pub(super) fn bounds(operator: Limits, process: Limits, request: Limits) -> Bounds {
    let l = operator.lowered_by(process).lowered_by(request);
    Bounds {
        fuel: l.fuel.expect("operator default checked at start"),
        memory: l.memory_bytes.expect("operator default checked at start"),
        timeout: l.timeout.expect("operator default checked at start"),
    }
}

fn new_store(
    rt: &Runtime,
    engine: &wasmtime::Engine,
    b: Bounds,
    dirs: Option<&JobDirs>,
    events: Arc<dyn JobEvents>,
    cancel: CancellationToken,
) -> Result<(Store<JobState>, Instant), RunError> {
    let cfg = &rt.inner.config;
    let stdout = MemoryOutputPipe::new(cfg.max_stdio_bytes);
    let stderr = MemoryOutputPipe::new(cfg.max_stdio_bytes);
    // No env, no args, no inherited stdio, no network: only what is added here.
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    // File I/O of a job is on local disk: doing it on this thread beats a
    // round trip through tokio's blocking pool for every read and write.
    wasi.allow_blocking_current_thread(true);
    if let Some(d) = dirs {
        let host = |e: wasmtime::Error| RunError::Host(format!("mounting job folders: {e}"));
        wasi.preopened_dir(&d.inputs, "/inputs", FsPerms::ReadOnly)
            .map_err(host)?;
        wasi.preopened_dir(&d.outputs, "/outputs", FsPerms::ReadWrite)
            .map_err(host)?;
    }
    let state = JobState::new(wasi.build(), b.memory, events, stdout, stderr);
    let mut store = Store::new(engine, state);
    let deadline = limit(&mut store, rt, b, cancel)?;
    Ok((store, deadline))
}

/// Puts a fresh store under the bounds `b` (memory, fuel, wall time) and
/// `cancel`; returns the deadline.
pub(super) fn limit(
    store: &mut Store<JobState>,
    rt: &Runtime,
    b: Bounds,
    cancel: CancellationToken,
) -> Result<Instant, RunError> {
    store.limiter(|s| &mut s.limiter);
    if rt.inner.config.fuel_metering {
        store
            .set_fuel(b.fuel)
            .map_err(|e| RunError::Host(e.to_string()))?;
    }
    let deadline = Instant::now() + b.timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if cancel.is_cancelled() {
            return Err(Interrupted::Cancelled.into());
        }
        if Instant::now() >= deadline {
            return Err(Interrupted::Timeout.into());
        }
        // Yield every tick so the executor can also notice cancellation and
        // run other jobs on this worker.
        Ok(UpdateDeadline::Yield(1))
    });
    Ok(deadline)
}

/// Runs `fut` until it ends, the deadline passes or `cancel` fires. The
/// epoch callback catches spinning guests; this catches guests blocked in a
/// host call such as a sleep.
pub(super) async fn guarded<T>(
    fut: impl std::future::Future<Output = wasmtime::Result<T>>,
    cancel: &CancellationToken,
    deadline: Instant,
) -> wasmtime::Result<T> {
    tokio::select! {
        r = fut => r,
        _ = cancel.cancelled() => Err(Interrupted::Cancelled.into()),
        _ = tokio::time::sleep_until(deadline.into()) => Err(Interrupted::Timeout.into()),
    }
}

pub(super) fn classify(err: wasmtime::Error, store: &Store<JobState>, b: Bounds) -> RunError {
    if let Some(i) = err.downcast_ref::<Interrupted>() {
        return match i {
            Interrupted::Cancelled => RunError::Cancelled,
            Interrupted::Timeout => RunError::Timeout { limit: b.timeout },
        };
    }
    if err.downcast_ref::<MemoryLimitHit>().is_some() || store.data().limiter.memory_hit {
        return RunError::MemoryLimit { limit: b.memory };
    }
    let stderr = tail(&store.data().stderr.contents(), 2048);
    let message = match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => return RunError::OutOfFuel { fuel: b.fuel },
        Some(Trap::StackOverflow) => "stack overflow: the guest recursed too deep".to_string(),
        Some(trap) => trap.to_string(),
        None => format!("{err:#}"),
    };
    RunError::Trap {
        message: if stderr.is_empty() {
            message
        } else {
            format!("{message}; guest stderr: {stderr}")
        },
    }
}

fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

pub(super) async fn execute(
    rt: &Runtime,
    process: &Process,
    job: Job,
) -> Result<JobOutput, RunError> {
    let _slot = rt
        .inner
        .slots
        .acquire()
        .await
        .map_err(|e| RunError::Host(e.to_string()))?;
    let b = bounds(
        rt.inner.config.job_limits,
        process.description.limits,
        job.limits,
    );
    let pre = process.pre();
    let (mut store, deadline) = new_store(
        rt,
        pre.engine(),
        b,
        job.dirs.as_ref(),
        job.events.clone(),
        job.cancel.clone(),
    )?;
    let inputs: Vec<bindings::wades::process::types::NamedValue> =
        job.inputs.into_iter().map(Into::into).collect();
    let started = Instant::now();
    let instantiation = &rt.inner.config.metrics.instantiation;
    let result = guarded(
        async {
            let instance = pre.instantiate_async(&mut store).await?;
            instantiation.observe_duration(started.elapsed());
            instance.call_execute(&mut store, &inputs).await
        },
        &job.cancel,
        deadline,
    )
    .await;
    let elapsed = started.elapsed();
    if let Some(meter) = &job.meter {
        meter.record(store.data().limiter.memory_used, elapsed);
    }
    let values = match result {
        Ok(Ok(values)) => values,
        Ok(Err(e)) => {
            return Err(RunError::Guest {
                code: e.code,
                message: e.message,
            })
        }
        Err(e) => return Err(classify(e, &store, b)),
    };
    let outputs = check_outputs(
        values,
        &process.description,
        job.dirs.as_ref(),
        rt.inner.config.max_inline_output_bytes,
    )?;
    let fuel_consumed = rt
        .inner
        .config
        .fuel_metering
        .then(|| b.fuel - store.get_fuel().unwrap_or(0));
    let state = store.data();
    Ok(JobOutput {
        outputs,
        fuel_consumed,
        memory_peak: state.limiter.memory_used,
        elapsed,
        stdout: tail(&state.stdout.contents(), usize::MAX),
        stderr: tail(&state.stderr.contents(), usize::MAX),
    })
}

fn check_outputs(
    values: Vec<bindings::wades::process::types::NamedValue>,
    description: &ProcessDescription,
    dirs: Option<&JobDirs>,
    max_inline: usize,
) -> Result<Vec<NamedValue>, RunError> {
    let invalid = RunError::InvalidOutput;
    let mut inline = 0usize;
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        if !description.outputs.iter().any(|o| o.id == v.id) {
            return Err(invalid(format!(
                "'{}' is not an output of this process",
                v.id
            )));
        }
        let value = bindings::value_from_guest(v.value)
            .map_err(|e| invalid(format!("output '{}': {e}", v.id)))?;
        inline += value.inline_size();
        if inline > max_inline {
            return Err(invalid(format!("outputs exceed the limit of {max_inline} bytes returned inline; write large results to /outputs")));
        }
        if let Value::File { path, .. } = &value {
            check_output_file(&v.id, path, dirs)?;
        }
        out.push(NamedValue { id: v.id, value });
    }
    Ok(out)
}

fn check_output_file(id: &str, path: &str, dirs: Option<&JobDirs>) -> Result<(), RunError> {
    let bad = |why: &str| {
        RunError::InvalidOutput(format!("output '{id}' names file '{path}', which {why}"))
    };
    if !path.starts_with("/outputs/") {
        return Err(bad("is not under /outputs"));
    }
    let host = dirs
        .and_then(|d| d.host_path(path))
        .ok_or_else(|| bad("is not a plain path in the job's folders"))?;
    // symlink_metadata: a link the guest planted must not lead the host out of the sandbox.
    match std::fs::symlink_metadata(&host) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(bad("is not a regular file")),
        Err(_) => Err(bad("does not exist")),
    }
}

/// Calls `describe` under the describe limits.
pub(super) async fn describe(
    rt: &Runtime,
    pre: &ProcessPre<JobState>,
) -> Result<ProcessDescription, LoadError> {
    let _slot = rt
        .inner
        .slots
        .acquire()
        .await
        .map_err(|e| LoadError::Host(e.to_string()))?;
    let b = bounds(
        rt.inner.config.job_limits,
        rt.inner.config.describe_limits,
        Limits::default(),
    );
    let cancel = CancellationToken::new();
    let (mut store, deadline) = new_store(
        rt,
        pre.engine(),
        b,
        None,
        Arc::new(NoEvents),
        cancel.clone(),
    )
    .map_err(|e| LoadError::Host(e.to_string()))?;
    let result = guarded(
        async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_describe(&mut store).await
        },
        &cancel,
        deadline,
    )
    .await;
    match result {
        Ok(d) => bindings::description_from_guest(d).map_err(LoadError::BadDescription),
        Err(e) => Err(LoadError::BadDescription(format!(
            "`describe` failed: {}",
            classify(e, &store, b)
        ))),
    }
}
