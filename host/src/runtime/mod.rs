//! The sandbox: runs untrusted process components, one fresh instance per job.
//!
//! One [`Runtime`] holds one wasmtime engine (pooling allocator, fuel, epoch
//! interruption driven by its own OS thread), the linker, and the compiled
//! components by content hash. [`Runtime::load`] compiles a component once
//! (or loads its verified artifact from disk), checks that it targets the
//! `wades:process` world and asks it to describe itself;
//! [`Runtime::load_untrusted`] does the same for uploads, but has them
//! compiled by a child process under a [`CompileBudget`]. [`Runtime::execute`]
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
mod isolated;
mod job;
mod state;
mod world;

pub use cache::CacheOutcome;
pub use config::RuntimeConfig;
pub use error::{LoadError, RunError};
pub use events::{JobEvents, LogLevel, NoEvents};
pub use isolated::{compile_child_main, CompileBudget};
pub use job::{Job, JobDirs, JobOutput};

use crate::model::{Digest, ProcessDescription};
use bindings::ProcessPre;
use cache::Miss;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, Linker};
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
    compiles: tokio::sync::Semaphore,
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
                compiles: tokio::sync::Semaphore::new(isolated::MAX_CONCURRENT_COMPILES),
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
    /// The compile runs in this process without a budget: for trusted
    /// (built-in) components only; uploads go through [`Self::load_untrusted`].
    pub async fn load(&self, bytes: Vec<u8>) -> Result<Arc<Process>, LoadError> {
        let digest = Digest::of(&bytes);
        if let Some(p) = self.loaded(&digest) {
            return Ok(p);
        }
        let (pre, outcome) = self
            .blocking(move |inner| {
                reject_non_components(&bytes)?;
                let compiled = inner.cache.load_or_compile(&inner.engine, &digest, &bytes);
                let (component, outcome) = compiled?;
                Ok((inner.prepare(&component)?, outcome))
            })
            .await?;
        self.finish(digest, pre, outcome).await
    }

    /// Loads an uploaded component like [`Self::load`], except that this
    /// process never compiles it: unless it is loaded or has a verified
    /// artifact already, a child process compiles it under
    /// [`RuntimeConfig::compile_budget`] and this one loads the artifact.
    /// A successful load reports [`CacheOutcome::Hit`].
    pub async fn load_untrusted(&self, bytes: Vec<u8>) -> Result<Arc<Process>, LoadError> {
        reject_non_components(&bytes)?;
        let digest = Digest::of(&bytes);
        if let Some(p) = self.loaded(&digest) {
            return Ok(p);
        }
        let component = match self.cached(digest).await? {
            Ok(component) => component,
            Err(_) => self.compile_in_child(digest, bytes).await?,
        };
        let pre = self
            .blocking(move |inner| inner.prepare(&component))
            .await?;
        self.finish(digest, pre, CacheOutcome::Hit).await
    }

    /// Has a child compile `bytes` and loads what it left in the cache.
    async fn compile_in_child(
        &self,
        digest: Digest,
        bytes: Vec<u8>,
    ) -> Result<Component, LoadError> {
        let _permit = self
            .inner
            .compiles
            .acquire()
            .await
            .map_err(|e| LoadError::Host(e.to_string()))?;
        // Another upload of the same bytes may have compiled them while we waited.
        let miss = match self.cached(digest).await? {
            Ok(component) => return Ok(component),
            Err(miss) => miss,
        };
        if let Miss::Rejected(reason) = &miss {
            tracing::warn!(%digest, %reason, "compiling the upload again");
        }
        let fingerprint = self.inner.cache.fingerprint();
        isolated::compile(&self.inner.config, fingerprint, &digest, bytes).await?;
        // Never a fallback to compiling here: the child's word is not proof.
        self.cached(digest).await?.map_err(|miss| {
            LoadError::Host(format!("the compiler left no usable artifact: {miss}"))
        })
    }

    /// The verified artifact of `digest`, deserialized, or why there is none.
    async fn cached(&self, digest: Digest) -> Result<Result<Component, Miss>, LoadError> {
        self.blocking(move |inner| Ok(inner.cache.load_verified(&inner.engine, &digest)))
            .await
    }

    /// Runs `f` on a blocking thread: compiling and deserializing take
    /// milliseconds to seconds of CPU, too long for an async worker.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, LoadError> + Send + 'static,
    ) -> Result<T, LoadError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| LoadError::Host(e.to_string()))?
    }

    /// Describes a prepared component and keeps it. Two loads of the same
    /// bytes racing here share whichever finished first.
    async fn finish(
        &self,
        digest: Digest,
        pre: ProcessPre<state::JobState>,
        cache_outcome: CacheOutcome,
    ) -> Result<Arc<Process>, LoadError> {
        let description = job::describe(self, &pre).await?;
        let process = Arc::new(Process {
            digest,
            description,
            pre,
            cache_outcome,
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

impl Inner {
    /// Checks `component` against the world and links it.
    fn prepare(&self, component: &Component) -> Result<ProcessPre<state::JobState>, LoadError> {
        world::check(&self.engine, component).map_err(LoadError::WrongWorld)?;
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        ProcessPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))
    }
}

/// Turns away the common mistakes with a clearer message than the compiler's.
fn reject_non_components(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Invalid(
            "the component is empty (0 bytes)".into(),
        ));
    }
    // Core modules start with the same magic but a different version field.
    if bytes.get(0..8) == Some(&[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) {
        return Err(LoadError::Invalid(
            "this is a core WebAssembly module, not a component; build it as a component (e.g. with wades-guest and `cargo xtask guests`)".into(),
        ));
    }
    Ok(())
}
