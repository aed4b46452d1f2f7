//! Operator settings of the sandbox.

use super::CompileBudget;
use crate::model::Limits;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the operator decides about running guests.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled artifacts are cached, keyed by module hash and engine.
    pub cache_dir: PathBuf,
    /// Limits of every job unless the process or the request lowers them.
    /// All three must be set: a job without a bound is not allowed.
    pub job_limits: Limits,
    /// Limits for calling `describe` when a component is loaded.
    pub describe_limits: Limits,
    /// Meter fuel. Costs some speed (see `bench/`), gives deterministic
    /// budgets and the numbers billing needs.
    pub fuel_metering: bool,
    /// Pre-reserve instance slots (fast instantiation). Off, instances are
    /// allocated on demand; only benchmarks compare the two.
    pub pooling_allocator: bool,
    /// Write `/tmp/perf-<pid>.map` so `perf` can name guest functions.
    pub perf_map: bool,
    /// How often the epoch advances: the granularity of timeouts and
    /// cancellation.
    pub epoch_tick: Duration,
    /// Jobs that may run at once; more wait for a slot.
    pub max_concurrent_jobs: u32,
    /// Largest memory any job can be granted (reserved per pool slot).
    pub max_memory_bytes: u64,
    /// Largest wasm stack.
    pub max_wasm_stack: usize,
    /// Cap on the total size of values returned inline (files excluded).
    pub max_inline_output_bytes: usize,
    /// Cap on what a guest may write to stdout and stderr each.
    pub max_stdio_bytes: usize,
    /// Time and memory allowed to compile one untrusted component
    /// ([`Runtime::load_untrusted`](super::Runtime::load_untrusted)).
    pub compile_budget: CompileBudget,
    /// The program run as the compile child, called as `EXE __compile`;
    /// `None` runs this executable again. Tests point it at the `wades` binary.
    pub compiler_exe: Option<PathBuf>,
    /// Where instantiation and load times are counted.
    pub metrics: crate::metrics::RuntimeMetrics,
}

impl RuntimeConfig {
    /// Defaults suited to a small server, caching under `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            cache_dir: cache_dir.into(),
            job_limits: Limits {
                fuel: Some(200_000_000_000),
                memory_bytes: Some(512 << 20),
                timeout: Some(Duration::from_secs(600)),
            },
            describe_limits: Limits {
                fuel: Some(100_000_000),
                memory_bytes: Some(64 << 20),
                timeout: Some(Duration::from_secs(2)),
            },
            fuel_metering: true,
            pooling_allocator: true,
            perf_map: false,
            epoch_tick: Duration::from_millis(1),
            max_concurrent_jobs: 64,
            max_memory_bytes: 4 << 30,
            max_wasm_stack: 1 << 20,
            max_inline_output_bytes: 16 << 20,
            max_stdio_bytes: 64 << 10,
            compile_budget: CompileBudget::default(),
            compiler_exe: None,
            metrics: Default::default(),
        }
    }
}
