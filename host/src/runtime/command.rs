//! WASI commands: components that export `wasi:cli/run`, i.e. ordinary
//! command-line programs compiled to WebAssembly (a Rust `fn main` built
//! for `wasm32-wasip1` and componentized with the command adapter).
//!
//! They run in the same engine, pool, job slots and limits as processes,
//! with only what [`CommandJob`] grants: argv, environment, the three
//! standard streams (files or a bounded capture) and the preopened
//! directories. No network is linked and nothing else is mounted.

use super::job::{bounds, classify, guarded, limit};
use super::state::JobState;
use super::{reject_non_components, world, LoadError, NoEvents, RunError, Runtime};
use crate::model::{Digest, Limits};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmtime::component::types::ComponentItem;
use wasmtime::Store;
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A loaded WASI command component, ready to run.
pub struct CommandProgram {
    digest: Digest,
    pre: CommandPre<JobState>,
}

impl CommandProgram {
    /// The sha256 of the component's bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

/// A host directory the command sees at `guest`.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest finds it: an absolute path, or `.` for the
    /// directory relative paths resolve against.
    pub guest: String,
    /// Whether the guest may create and change files in it.
    pub writable: bool,
}

/// One run of a command.
#[derive(Debug, Clone, Default)]
pub struct CommandJob {
    /// `argv`, program name first.
    pub args: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Host file read as standard input; none gives an empty one.
    pub stdin: Option<PathBuf>,
    /// Host file standard output goes to; none captures it (bounded).
    pub stdout: Option<PathBuf>,
    /// Host file standard error goes to; none captures it (bounded).
    pub stderr: Option<PathBuf>,
    /// The only directories the command can reach.
    pub dirs: Vec<Preopen>,
    /// Limits that lower the operator's.
    pub limits: Limits,
    /// Stops the command within an epoch tick.
    pub cancel: CancellationToken,
}

/// How a command ended.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// 0 on success; the code given to `exit` otherwise (the preview1
    /// adapter reports every non-zero code as 1).
    pub exit_code: i32,
    /// Standard output, when it was captured.
    pub stdout: String,
    /// Standard error, when it was captured.
    pub stderr: String,
    /// Fuel burnt, if fuel is metered.
    pub fuel_consumed: Option<u64>,
    /// Wall-clock time from instantiation to exit.
    pub elapsed: Duration,
}

impl Runtime {
    /// Loads a WASI command: compiled once per content hash (or loaded from
    /// the artifact cache), its imports checked against what the sandbox
    /// offers. Like [`Runtime::load`], the compile runs in this process:
    /// for components the operator trusts or has vetted.
    pub async fn load_command(&self, bytes: Vec<u8>) -> Result<Arc<CommandProgram>, LoadError> {
        let digest = Digest::of(&bytes);
        let pre = self
            .blocking(move |inner| {
                reject_non_components(&bytes)?;
                let c = &inner.optimized;
                let (component, _) = c.cache.load_or_compile(&c.engine, &digest, &bytes)?;
                check_command(&c.engine, &component).map_err(LoadError::WrongWorld)?;
                let instance_pre = c
                    .linker
                    .instantiate_pre(&component)
                    .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
                CommandPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))
            })
            .await?;
        Ok(Arc::new(CommandProgram { digest, pre }))
    }

    /// Runs `program` once in a fresh instance under the job limits.
    pub async fn run_command(
        &self,
        program: &CommandProgram,
        job: CommandJob,
    ) -> Result<CommandOutput, RunError> {
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|e| RunError::Host(e.to_string()))?;
        let cfg = &self.inner.config;
        let b = bounds(cfg.job_limits, Limits::default(), job.limits);
        let host = |what: &str, e: &dyn std::fmt::Display| RunError::Host(format!("{what}: {e}"));
        let stdout = MemoryOutputPipe::new(cfg.max_stdio_bytes);
        let stderr = MemoryOutputPipe::new(cfg.max_stdio_bytes);
        // Nothing is inherited: every grant is below.
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&job.args).envs(&job.env);
        wasi.allow_blocking_current_thread(true);
        if let Some(p) = &job.stdin {
            let f = std::fs::File::open(p).map_err(|e| host(&p.display().to_string(), &e))?;
            wasi.stdin(InputFile::new(f));
        }
        match &job.stdout {
            Some(p) => wasi.stdout(OutputFile::new(create(p)?)),
            None => wasi.stdout(stdout.clone()),
        };
        match &job.stderr {
            Some(p) => wasi.stderr(OutputFile::new(create(p)?)),
            None => wasi.stderr(stderr.clone()),
        };
        for d in &job.dirs {
            let perms = if d.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&d.host, &d.guest, perms)
                .map_err(|e| host(&format!("mounting {}", d.host.display()), &e))?;
        }
        let state = JobState::new(
            wasi.build(),
            b.memory,
            Arc::new(NoEvents),
            stdout.clone(),
            stderr.clone(),
        );
        let mut store = Store::new(program.pre.engine(), state);
        let deadline = limit(&mut store, self, b, job.cancel.clone())?;
        let started = Instant::now();
        let instantiation = &cfg.metrics.instantiation;
        let result = guarded(
            async {
                let command = program.pre.instantiate_async(&mut store).await?;
                instantiation.observe_duration(started.elapsed());
                command.wasi_cli_run().call_run(&mut store).await
            },
            &job.cancel,
            deadline,
        )
        .await;
        let elapsed = started.elapsed();
        let exit_code = match result {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => exit.0,
                None => return Err(classify(e, &store, b)),
            },
        };
        let fuel_consumed = cfg
            .fuel_metering
            .then(|| b.fuel - store.get_fuel().unwrap_or(0));
        let text = |p: &MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
        Ok(CommandOutput {
            exit_code,
            stdout: text(&stdout),
            stderr: text(&stderr),
            fuel_consumed,
            elapsed,
        })
    }
}

fn create(p: &std::path::Path) -> Result<std::fs::File, RunError> {
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| RunError::Host(format!("{}: {e}", parent.display())))?;
    }
    std::fs::File::create(p).map_err(|e| RunError::Host(format!("{}: {e}", p.display())))
}

/// Every way `component` is not a WASI command the sandbox can run.
fn check_command(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Result<(), String> {
    let ty = component.component_type();
    let mut problems = Vec::new();
    let runs = ty.exports(engine).any(|(name, item)| {
        name.split('@').next() == Some("wasi:cli/run")
            && matches!(item.ty, ComponentItem::ComponentInstance(_))
    });
    if !runs {
        problems.push(
            "it does not export `wasi:cli/run` (a library built with the reactor adapter is a process, not a command)"
                .to_string(),
        );
    }
    for (name, _) in ty.imports(engine) {
        let unversioned = name.split('@').next().unwrap_or(name);
        if !world::ALLOWED_IMPORTS[2..].contains(&unversioned) {
            problems.push(format!("import `{name}` is not allowed"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not a WASI command the sandbox runs: {} (commands may import only {})",
        problems.join("; "),
        world::ALLOWED_IMPORTS[2..].join(", ")
    ))
}
