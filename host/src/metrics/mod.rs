//! What the service counts, for Prometheus: jobs finished by process and
//! status, their durations and fuel, instantiation and compile times, the
//! queue, and HTTP requests by route.
//!
//! The domain updates plain handles (atomic counters and
//! [`Histogram`]s); `http::metrics` renders them. Updates on the path of
//! every job or request are atomic increments: a process's handles are
//! resolved once and kept ([`Metrics::process`]), and label values are
//! `&'static str` or integers, so counting allocates nothing.
//!
//! Counters start at zero with each server; what stays true across
//! restarts (the jobs queued and running) is read from the store when
//! scraped.

mod histogram;

pub use histogram::Histogram;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, RwLock};

/// Every metric of one server. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    finished: Family<ProcessStatus, Counter>,
    durations: Family<ProcessLabel, Histogram, fn() -> Histogram>,
    fuel: Family<ProcessLabel, Counter>,
    processes: RwLock<HashMap<String, Arc<ProcessMetrics>>>,
    in_flight: Gauge,
    queued: Gauge,
    running: Gauge,
    runtime: RuntimeMetrics,
    http: Family<HttpLabels, Counter>,
}

/// The handles of one process's jobs.
#[derive(Debug)]
pub struct ProcessMetrics {
    successful: Counter,
    failed: Counter,
    dismissed: Counter,
    duration: Histogram,
    fuel: Counter,
}

/// How a job ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    /// It returned its outputs.
    Successful,
    /// It failed.
    Failed,
    /// It was dismissed while it ran.
    Dismissed,
}

impl ProcessMetrics {
    /// Counts a job that ran for `elapsed` and burnt `fuel`.
    pub fn finished(&self, end: JobEnd, elapsed: std::time::Duration, fuel: u64) {
        match end {
            JobEnd::Successful => &self.successful,
            JobEnd::Failed => &self.failed,
            JobEnd::Dismissed => &self.dismissed,
        }
        .inc();
        self.duration.observe_duration(elapsed);
        self.fuel.inc_by(fuel);
    }
}

/// A job counted in `wades_jobs_in_flight` while this lives.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What the sandbox times: instantiating guests and loading their code.
#[derive(Debug, Clone)]
pub struct RuntimeMetrics {
    /// Creating an instance of a job's or step's component.
    pub instantiation: Histogram,
    /// Loading compiled code, by compiler tier and whether it was compiled
    /// now or read from the artifact cache.
    pub load: LoadMetrics,
}

/// Module load times by compiler tier and cache outcome.
#[derive(Debug, Clone)]
pub struct LoadMetrics {
    /// Cranelift, compiled now.
    pub optimized_compiled: Histogram,
    /// Cranelift, from the cache.
    pub optimized_cached: Histogram,
    /// Winch, compiled now.
    pub quick_compiled: Histogram,
    /// Winch, from the cache.
    pub quick_cached: Histogram,
}

impl Default for RuntimeMetrics {
    /// Handles registered nowhere: for runtimes outside a server.
    fn default() -> Self {
        RuntimeMetrics {
            instantiation: Histogram::seconds(),
            load: LoadMetrics {
                optimized_compiled: Histogram::seconds(),
                optimized_cached: Histogram::seconds(),
                quick_compiled: Histogram::seconds(),
                quick_cached: Histogram::seconds(),
            },
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProcessLabel {
    process: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProcessStatus {
    process: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadLabels {
    tier: &'static str,
    cache: &'static str,
}

/// One HTTP request, as counted: the method, the route template (never
/// the path, which holds ids) and the response status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`, … or `other`.
    pub method: &'static str,
    /// The route template, e.g. `/jobs/{jobId}`; `unmatched` for none.
    pub route: &'static str,
    /// The response status.
    pub status: Status,
}

/// An HTTP status code as a label value.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct Status(pub u16);

impl EncodeLabelValue for Status {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{}", self.0)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// All metrics at zero, registered under `wades_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wades");
        let finished = Family::<ProcessStatus, Counter>::default();
        registry.register(
            "jobs_finished",
            "Jobs that ended since the server started, by process and status",
            finished.clone(),
        );
        let durations: Family<ProcessLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(Histogram::seconds);
        registry.register(
            "job_duration_seconds",
            "Time from a job's start to its end (staging, running, storing results), by process",
            durations.clone(),
        );
        let fuel = Family::<ProcessLabel, Counter>::default();
        registry.register(
            "job_fuel_consumed",
            "Fuel burnt by jobs since the server started, by process",
            fuel.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "jobs_in_flight",
            "Jobs this server is running now, sync ones included",
            in_flight.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "jobs_queued",
            "Jobs waiting in the queue (accepted), as stored",
            queued.clone(),
        );
        let running = Gauge::default();
        registry.register(
            "jobs_running",
            "Jobs stored as running, by every server of the store",
            running.clone(),
        );
        let load = Family::<LoadLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            Histogram::seconds,
        );
        // Made here, so the family renders the very handles the runtime updates.
        let handle = |tier, cache| load.get_or_create(&LoadLabels { tier, cache }).clone();
        let runtime = RuntimeMetrics {
            instantiation: Histogram::seconds(),
            load: LoadMetrics {
                optimized_compiled: handle("optimized", "miss"),
                optimized_cached: handle("optimized", "hit"),
                quick_compiled: handle("quick", "miss"),
                quick_cached: handle("quick", "hit"),
            },
        };
        registry.register(
            "instantiation_seconds",
            "Time to instantiate a guest component for a job or CWL step",
            runtime.instantiation.clone(),
        );
        registry.register(
            "module_load_seconds",
            "Time to load a component's compiled code: compiled now (cache=miss) or read from the artifact cache (hit), by compiler tier",
            load,
        );
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                finished,
                durations,
                fuel,
                processes: RwLock::new(HashMap::new()),
                in_flight,
                queued,
                running,
                runtime,
                http,
            }),
        }
    }

    /// The handles of jobs of `process`, made on first use.
    pub fn process(&self, process: &str) -> Arc<ProcessMetrics> {
        if let Some(m) = self.inner.processes.read().expect("processes").get(process) {
            return m.clone();
        }
        let i = &self.inner;
        let counter = |status| {
            i.finished
                .get_or_create(&ProcessStatus {
                    process: process.to_string(),
                    status,
                })
                .clone()
        };
        let label = ProcessLabel {
            process: process.to_string(),
        };
        let made = Arc::new(ProcessMetrics {
            successful: counter("successful"),
            failed: counter("failed"),
            dismissed: counter("dismissed"),
            duration: i.durations.get_or_create(&label).clone(),
            fuel: i.fuel.get_or_create(&label).clone(),
        });
        i.processes
            .write()
            .expect("processes")
            .entry(process.to_string())
            .or_insert(made)
            .clone()
    }

    /// The handles the sandbox updates.
    pub fn runtime(&self) -> RuntimeMetrics {
        self.inner.runtime.clone()
    }

    /// Counts a job as running here until the guard is dropped.
    pub fn job_started(&self) -> InFlight {
        self.inner.in_flight.inc();
        InFlight(self.inner.in_flight.clone())
    }

    /// Sets the gauges read from the store.
    pub fn set_stored(&self, queued: u64, running: u64) {
        self.inner.queued.set(queued as i64);
        self.inner.running.set(running as i64);
    }

    /// Counts one HTTP request.
    pub fn http_request(&self, labels: &HttpLabels) {
        self.inner.http.get_or_create(labels).inc();
    }

    /// Everything, in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }
}
