//! The sandbox: runs untrusted process components, one fresh instance per job.
//!
//! One [`Runtime`] holds one wasmtime engine (pooling allocator, fuel, epoch
//! interruption driven by its own OS thread), the linker, and the compiled
//! components by content hash. [`Runtime::load`] compiles a component once
//! (or loads its verified artifact from disk), checks that it targets the
//! `wades:process` world and asks it to describe itself. [`Runtime::execute`]
//! then runs jobs on it, each in a new store under its own limits.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wades::model::{NamedValue, Value};
//! use wades::runtime::{Job, Runtime, RuntimeConfig};
//!
//! let runtime = Runtime::new(RuntimeConfig::new("/var/cache/wades"))?;
//! let process = runtime.load(std::fs::read("hello-world.wasm")?).await?;
//! let output = runtime
//!     .execute(&process, Job::new(vec![NamedValue::new("name", Value::string("World"))]))
//!     .await?;
//! assert_eq!(output.outputs[0].value, Value::string("Hello World!"));
//! # Ok(()) }
//! ```

mod bindings;
mod cache;
mod config;
mod engine;
mod error;
mod events;
mod job;
mod state;
mod world;

pub use cache::CacheOutcome;
pub use config::RuntimeConfig;
pub use error::{LoadError, RunError};
pub use events::{JobEvents, LogLevel, NoEvents};
pub use job::{Job, JobDirs, JobOutput};

use crate::model::{Digest, ProcessDescription};
use bindings::ProcessPre;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmtime::component::Linker;
use wasmtime::Engine;

/// The sandbox. Cheap to clone; clones share the engine and loaded components.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<state::JobState>,
    cache: cache::ArtifactCache,
    config: RuntimeConfig,
    loaded: Mutex<HashMap<Digest, Arc<Process>>>,
    slots: tokio::sync::Semaphore,
    _ticker: engine::EpochTicker,
}

/// A loaded, ready-to-run process component.
pub struct Process {
    digest: Digest,
    description: ProcessDescription,
    pre: ProcessPre<state::JobState>,
    cache_outcome: CacheOutcome,
}

impl Process {
    /// The sha256 of the component's bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// What the component's `describe` returned.
    pub fn description(&self) -> &ProcessDescription {
        &self.description
    }

    /// Whether the compiled code came from the disk cache.
    pub fn cache_outcome(&self) -> &CacheOutcome {
        &self.cache_outcome
    }
}

impl Runtime {
    /// Builds the engine and starts its epoch thread.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let host = |e: &dyn std::fmt::Display| LoadError::Host(e.to_string());
        let limits = config.job_limits;
        if limits.fuel.is_none() || limits.memory_bytes.is_none() || limits.timeout.is_none() {
            return Err(LoadError::Host(
                "every job limit (fuel, memory, timeout) needs an operator default".into(),
            ));
        }
        let engine = engine::build(&config).map_err(|e| host(&e))?;
        let linker = state::linker(&engine).map_err(|e| host(&e))?;
        let cache = cache::ArtifactCache::open(&config.cache_dir, engine::fingerprint(&engine))
            .map_err(|e| host(&e))?;
        let ticker =
            engine::EpochTicker::start(&engine, config.epoch_tick).map_err(|e| host(&e))?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                slots: tokio::sync::Semaphore::new(config.max_concurrent_jobs as usize),
                engine,
                linker,
                cache,
                config,
                loaded: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        })
    }

    /// The operator settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Where the compiled artifact of `digest` is cached.
    pub fn artifact_path(&self, digest: &Digest) -> std::path::PathBuf {
        self.inner.cache.path(digest)
    }

    /// Loads a component: compiled once per content hash, checked against
    /// the world, described. Loading the same bytes again is a map lookup.
    pub async fn load(&self, bytes: Vec<u8>) -> Result<Arc<Process>, LoadError> {
        let digest = Digest::of(&bytes);
        if let Some(p) = self.loaded(&digest) {
            return Ok(p);
        }
        let inner = self.inner.clone();
        // Compiling takes milliseconds to seconds of CPU: keep it off the async workers.
        let (pre, outcome) = tokio::task::spawn_blocking(move || -> Result<_, LoadError> {
            if is_core_module(&bytes) {
                return Err(LoadError::Invalid(
                    "this is a core WebAssembly module, not a component; build it as a component (e.g. with wades-guest and `cargo xtask guests`)".into(),
                ));
            }
            let (component, outcome) = inner.cache.load_or_compile(&inner.engine, &digest, &bytes)?;
            world::check(&inner.engine, &component).map_err(LoadError::WrongWorld)?;
            let instance_pre = inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
            let pre = ProcessPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
            Ok((pre, outcome))
        })
        .await
        .map_err(|e| LoadError::Host(e.to_string()))??;
        let description = job::describe(self, &pre).await?;
        let process = Arc::new(Process {
            digest,
            description,
            pre,
            cache_outcome: outcome,
        });
        let mut loaded = self.inner.loaded.lock().expect("loaded map");
        Ok(loaded.entry(digest).or_insert(process).clone())
    }

    /// The loaded process of `digest`, if any.
    pub fn loaded(&self, digest: &Digest) -> Option<Arc<Process>> {
        self.inner
            .loaded
            .lock()
            .expect("loaded map")
            .get(digest)
            .cloned()
    }

    /// Drops a process from memory (its artifact stays on disk). Jobs that
    /// hold it finish normally.
    pub fn unload(&self, digest: &Digest) {
        self.inner.loaded.lock().expect("loaded map").remove(digest);
    }

    /// Runs one job in a fresh instance of `process`.
    pub async fn execute(&self, process: &Process, job: Job) -> Result<JobOutput, RunError> {
        job::execute(self, process, job).await
    }
}

/// Core modules start with the same magic but a different version field.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.get(0..8) == Some(&[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
}
