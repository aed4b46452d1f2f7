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
//! [`Runtime::load_command`] and [`Runtime::run_command`] do the same for
//! WASI commands (`wasi:cli/run`), which CWL steps run.
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
mod command;
mod config;
mod engine;
mod error;
mod events;
mod isolated;
mod job;
mod state;
mod world;

pub use cache::{artifact_key, audit_artifact, ArtifactFinding, CacheOutcome};
pub use command::{CommandJob, CommandOutput, CommandProgram, Preopen};
pub use config::RuntimeConfig;
pub use engine::Tier;
pub use error::{LoadError, RunError};
pub use events::{JobEvents, LogLevel, NoEvents};
pub use isolated::{compile_child_main, CompileBudget};
pub use job::{Job, JobDirs, JobMeter, JobOutput};

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
    optimized: Compiler,
    quick: Compiler,
    config: RuntimeConfig,
    loaded: Mutex<HashMap<Digest, Arc<Process>>>,
    slots: tokio::sync::Semaphore,
    /// Compiles someone is waiting for (quick tier).
    compiles: tokio::sync::Semaphore,
    /// Background recompiles (optimized tier), one at a time.
    upgrades: tokio::sync::Semaphore,
    _ticker: engine::EpochTicker,
}

/// One engine, the linker for it, and the cache of the code it compiles.
struct Compiler {
    engine: Engine,
    linker: Linker<state::JobState>,
    cache: cache::ArtifactCache,
}

impl Compiler {
    fn new(config: &RuntimeConfig, tier: Tier) -> Result<Self, LoadError> {
        let host = |e: &dyn std::fmt::Display| LoadError::Host(e.to_string());
        let engine = engine::build(config, tier).map_err(|e| host(&e))?;
        let linker = state::linker(&engine).map_err(|e| host(&e))?;
        let fingerprint = engine::fingerprint(&engine);
        let cache = cache::ArtifactCache::open(&config.cache_dir, fingerprint, tier)
            .map_err(|e| host(&e))?;
        Ok(Compiler {
            engine,
            linker,
            cache,
        })
    }

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

/// A loaded, ready-to-run process component.
pub struct Process {
    digest: Digest,
    description: ProcessDescription,
    code: tokio::sync::watch::Sender<Code>,
    cache_outcome: CacheOutcome,
}

/// The code jobs of a process start on; replaced once when an upload's
/// optimized code lands.
#[derive(Clone)]
struct Code {
    tier: Tier,
    pre: Arc<ProcessPre<state::JobState>>,
    /// Why the optimized code will not come, if it will not.
    upgrade_failed: Option<String>,
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

    /// Which compiler made the code new jobs run on now.
    pub fn tier(&self) -> Tier {
        self.code.borrow().tier
    }

    /// Waits until new jobs run on optimized code, or returns why they
    /// never will (the optimizing compile failed; jobs keep Winch's code).
    pub async fn optimized(&self) -> Result<(), String> {
        let mut rx = self.code.subscribe();
        let code = rx
            .wait_for(|c| c.tier == Tier::Optimized || c.upgrade_failed.is_some())
            .await
            .map_err(|e| e.to_string())?;
        match &code.upgrade_failed {
            Some(why) if code.tier != Tier::Optimized => Err(why.clone()),
            _ => Ok(()),
        }
    }

    fn pre(&self) -> Arc<ProcessPre<state::JobState>> {
        self.code.borrow().pre.clone()
    }
}

impl Runtime {
    /// Builds the engines and starts their epoch thread.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let limits = config.job_limits;
        if limits.fuel.is_none() || limits.memory_bytes.is_none() || limits.timeout.is_none() {
            return Err(LoadError::Host(
                "every job limit (fuel, memory, timeout) needs an operator default".into(),
            ));
        }
        let optimized = Compiler::new(&config, Tier::Optimized)?;
        let quick = Compiler::new(&config, Tier::Quick)?;
        let ticker =
            engine::EpochTicker::start(&[&optimized.engine, &quick.engine], config.epoch_tick)
                .map_err(|e| LoadError::Host(e.to_string()))?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                slots: tokio::sync::Semaphore::new(config.max_concurrent_jobs as usize),
                compiles: tokio::sync::Semaphore::new(isolated::MAX_CONCURRENT_COMPILES),
                upgrades: tokio::sync::Semaphore::new(1),
                optimized,
                quick,
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

    /// Where the optimized compiled artifact of `digest` is cached.
    pub fn artifact_path(&self, digest: &Digest) -> std::path::PathBuf {
        self.inner.optimized.cache.path(digest)
    }

    /// Every file the cache may hold for `digest`, whichever tier.
    pub fn artifact_paths(&self, digest: &Digest) -> [std::path::PathBuf; 2] {
        [
            self.inner.optimized.cache.path(digest),
            self.inner.quick.cache.path(digest),
        ]
    }

    fn compiler(&self, tier: Tier) -> &Compiler {
        self.inner.compiler(tier)
    }

    /// What intake checks of uploaded bytes before their guest ever runs:
    /// a component, valid, compiled by the quick tier, and targeting the
    /// `wades:process` world, linked. In this process, without a budget and
    /// without caching: for fuzzing and tests, never for real uploads
    /// (which [`Self::load_untrusted`] compiles in a child).
    pub fn vet(&self, bytes: &[u8]) -> Result<(), LoadError> {
        reject_non_components(bytes)?;
        let c = &self.inner.quick;
        let component =
            Component::new(&c.engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        c.prepare(&component).map(|_| ())
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
                let c = &inner.optimized;
                let started = std::time::Instant::now();
                let (component, outcome) = c.cache.load_or_compile(&c.engine, &digest, &bytes)?;
                inner
                    .load_time(Tier::Optimized, outcome != CacheOutcome::Hit)
                    .observe_duration(started.elapsed());
                Ok((c.prepare(&component)?, outcome))
            })
            .await?;
        self.finish(digest, pre, Tier::Optimized, outcome).await
    }

    /// Loads an uploaded component like [`Self::load`], except that this
    /// process never compiles it: unless it is loaded or has a verified
    /// artifact already, a child process compiles it under
    /// [`RuntimeConfig::compile_budget`] and this one loads the artifact.
    /// A successful load reports [`CacheOutcome::Hit`].
    ///
    /// Without optimized code cached, the child compiles with Winch, which
    /// is quick, and the process is returned on that code; a second child
    /// then compiles it with Cranelift in the background, and jobs that
    /// start after that run on the faster code ([`Process::optimized`]).
    pub async fn load_untrusted(&self, bytes: Vec<u8>) -> Result<Arc<Process>, LoadError> {
        reject_non_components(&bytes)?;
        let digest = Digest::of(&bytes);
        if let Some(p) = self.loaded(&digest) {
            return Ok(p);
        }
        let started = std::time::Instant::now();
        let (tier, component) = match self.cached(Tier::Optimized, digest).await? {
            Ok(component) => {
                self.inner
                    .load_time(Tier::Optimized, false)
                    .observe_duration(started.elapsed());
                (Tier::Optimized, component)
            }
            Err(_) => {
                let started = std::time::Instant::now();
                match self.cached(Tier::Quick, digest).await? {
                    Ok(component) => {
                        self.inner
                            .load_time(Tier::Quick, false)
                            .observe_duration(started.elapsed());
                        (Tier::Quick, component)
                    }
                    Err(_) => match self
                        .compile_in_child(Tier::Quick, digest, &bytes, false)
                        .await
                    {
                        Ok(component) => (Tier::Quick, component),
                        // Winch lacks some proposals Cranelift has (parts
                        // of SIMD, tail calls, exceptions); invalid bytes
                        // fail Cranelift's validation just as fast.
                        Err(LoadError::Invalid(why)) => {
                            tracing::info!(%digest, %why, "Winch refused an upload; compiling it with Cranelift");
                            let optimized =
                                self.compile_in_child(Tier::Optimized, digest, &bytes, false);
                            (Tier::Optimized, optimized.await?)
                        }
                        Err(e) => return Err(e),
                    },
                }
            }
        };
        let pre = self
            .blocking(move |inner| inner.compiler(tier).prepare(&component))
            .await?;
        let process = self.finish(digest, pre, tier, CacheOutcome::Hit).await?;
        if process.tier() == Tier::Quick {
            self.upgrade(process.clone(), bytes);
        }
        Ok(process)
    }

    /// Has the optimizing compiler redo `process` in the background, then
    /// moves new jobs to its code. Jobs already running keep Winch's.
    fn upgrade(&self, process: Arc<Process>, bytes: Vec<u8>) {
        let rt = self.clone();
        tokio::spawn(async move {
            let digest = process.digest;
            let optimized = async {
                let component = rt
                    .compile_in_child(Tier::Optimized, digest, &bytes, true)
                    .await?;
                rt.blocking(move |inner| inner.optimized.prepare(&component))
                    .await
            };
            let pre = match optimized.await {
                Ok(pre) => pre,
                Err(e) => {
                    tracing::warn!(%digest, error = %e, "optimizing an upload failed; its jobs keep the quick code");
                    process
                        .code
                        .send_modify(|c| c.upgrade_failed = Some(e.to_string()));
                    return;
                }
            };
            process.code.send_modify(|c| {
                c.tier = Tier::Optimized;
                c.pre = Arc::new(pre);
            });
            let quick = rt.inner.quick.cache.path(&digest);
            if let Err(e) = std::fs::remove_file(&quick) {
                tracing::debug!(%digest, error = %e, "removing the quick artifact");
            }
            tracing::info!(%digest, "upload optimized");
        });
    }

    /// Has a child compile `bytes` with the compiler of `tier` and loads
    /// what it left in the cache. A `background` compile is one nobody
    /// waits for: it queues apart and runs at a lower CPU priority.
    async fn compile_in_child(
        &self,
        tier: Tier,
        digest: Digest,
        bytes: &[u8],
        background: bool,
    ) -> Result<Component, LoadError> {
        let slots = match background {
            false => &self.inner.compiles,
            true => &self.inner.upgrades,
        };
        let _permit = slots
            .acquire()
            .await
            .map_err(|e| LoadError::Host(e.to_string()))?;
        // Another upload of the same bytes may have compiled them while we waited.
        let miss = match self.cached(tier, digest).await? {
            Ok(component) => return Ok(component),
            Err(miss) => miss,
        };
        if let Miss::Rejected(reason) = &miss {
            tracing::warn!(%digest, %reason, "compiling the upload again");
        }
        let fingerprint = self.compiler(tier).cache.fingerprint();
        let bytes = bytes.to_vec();
        let started = std::time::Instant::now();
        isolated::compile(
            &self.inner.config,
            tier,
            background,
            fingerprint,
            &digest,
            bytes,
        )
        .await?;
        // Never a fallback to compiling here: the child's word is not proof.
        let component = self.cached(tier, digest).await?.map_err(|miss| {
            LoadError::Host(format!("the compiler left no usable artifact: {miss}"))
        })?;
        self.inner
            .load_time(tier, true)
            .observe_duration(started.elapsed());
        Ok(component)
    }

    /// The verified artifact of `digest` for `tier`, deserialized, or why
    /// there is none.
    async fn cached(
        &self,
        tier: Tier,
        digest: Digest,
    ) -> Result<Result<Component, Miss>, LoadError> {
        self.blocking(move |inner| {
            let c = inner.compiler(tier);
            Ok(c.cache.load_verified(&c.engine, &digest))
        })
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
        tier: Tier,
        cache_outcome: CacheOutcome,
    ) -> Result<Arc<Process>, LoadError> {
        let description = job::describe(self, &pre).await?;
        let (code, _) = tokio::sync::watch::channel(Code {
            tier,
            pre: Arc::new(pre),
            upgrade_failed: None,
        });
        let process = Arc::new(Process {
            digest,
            description,
            code,
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
    /// Where loading code of `tier` is timed; `compiled` if it was
    /// compiled now rather than read from the cache.
    fn load_time(&self, tier: Tier, compiled: bool) -> &crate::metrics::Histogram {
        let load = &self.config.metrics.load;
        match (tier, compiled) {
            (Tier::Optimized, true) => &load.optimized_compiled,
            (Tier::Optimized, false) => &load.optimized_cached,
            (Tier::Quick, true) => &load.quick_compiled,
            (Tier::Quick, false) => &load.quick_cached,
        }
    }

    fn compiler(&self, tier: Tier) -> &Compiler {
        match tier {
            Tier::Optimized => &self.optimized,
            Tier::Quick => &self.quick,
        }
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
