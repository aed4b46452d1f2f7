//! The per-job store data: WASI context, limiter, and the host interface.

use super::bindings::wades::process::{host, types};
use super::events::{JobEvents, LogLevel};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Longest log line kept; longer ones are cut.
const MAX_LOG_LINE: usize = 4096;
/// Log lines kept per job; later ones are dropped, so a guest cannot flood the log.
const MAX_LOG_LINES: usize = 10_000;

/// Everything a job's store holds.
pub(crate) struct JobState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: JobLimiter,
    events: Arc<dyn JobEvents>,
    log_lines: usize,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl JobState {
    pub(crate) fn new(
        wasi: WasiCtx,
        memory_limit: u64,
        events: Arc<dyn JobEvents>,
        stdout: MemoryOutputPipe,
        stderr: MemoryOutputPipe,
    ) -> Self {
        JobState {
            wasi,
            table: ResourceTable::new(),
            limiter: JobLimiter {
                memory_limit,
                memory_used: 0,
                memory_hit: false,
            },
            events,
            log_lines: 0,
            stdout,
            stderr,
        }
    }
}

impl WasiView for JobState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for JobState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl types::Host for JobState {}

impl host::Host for JobState {
    fn log(&mut self, level: host::LogLevel, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return;
        }
        let level = match level {
            host::LogLevel::Trace => LogLevel::Trace,
            host::LogLevel::Debug => LogLevel::Debug,
            host::LogLevel::Info => LogLevel::Info,
            host::LogLevel::Warn => LogLevel::Warn,
            host::LogLevel::Error => LogLevel::Error,
        };
        if self.log_lines == MAX_LOG_LINES {
            self.events.log(
                LogLevel::Warn,
                "log limit reached; further lines are dropped",
            );
            return;
        }
        self.events.log(level, truncate(&message, MAX_LOG_LINE));
    }

    fn progress(&mut self, percent: u8, message: Option<String>) {
        self.events.progress(
            percent.min(100),
            message.as_deref().map(|m| truncate(m, MAX_LOG_LINE)),
        );
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The error a limiter raises when a guest wants more memory than allowed.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded")]
pub(crate) struct MemoryLimitHit {
    pub(crate) limit: u64,
}

/// Caps the memory of the whole instance: the sum over every memory, which
/// per-memory limits alone would not bound (the WASI adapter has its own).
pub(crate) struct JobLimiter {
    pub(crate) memory_limit: u64,
    pub(crate) memory_used: u64,
    pub(crate) memory_hit: bool,
}

impl ResourceLimiter for JobLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current) as u64;
        if self.memory_used + grow > self.memory_limit {
            self.memory_hit = true;
            // An error (not `false`) traps at once with a clear cause, instead
            // of letting the guest's allocator abort on a failed grow.
            return Err(MemoryLimitHit {
                limit: self.memory_limit,
            }
            .into());
        }
        self.memory_used += grow;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        8
    }
}

/// The linker every job uses: our host interface and the non-network WASI
/// interfaces, added one by one so that sockets are never linked.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<JobState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
    use wasmtime_wasi::random::WasiRandom;

    let mut l = Linker::<JobState>::new(engine);
    wasmtime_wasi_io::add_to_linker_async(&mut l)?;
    clocks::wall_clock::add_to_linker::<JobState, WasiClocks>(&mut l, JobState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<JobState, WasiClocks>(&mut l, JobState::clocks)?;
    filesystem::types::add_to_linker::<JobState, WasiFilesystem>(&mut l, JobState::filesystem)?;
    filesystem::preopens::add_to_linker::<JobState, WasiFilesystem>(&mut l, JobState::filesystem)?;
    random::random::add_to_linker::<JobState, WasiRandom>(&mut l, |t| t.wasi.random())?;
    random::insecure::add_to_linker::<JobState, WasiRandom>(&mut l, |t| t.wasi.random())?;
    random::insecure_seed::add_to_linker::<JobState, WasiRandom>(&mut l, |t| t.wasi.random())?;
    cli::exit::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::environment::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::stdin::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::stdout::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::stderr::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::terminal_input::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::terminal_output::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::terminal_stdin::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::terminal_stdout::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    cli::terminal_stderr::add_to_linker::<JobState, WasiCli>(&mut l, JobState::cli)?;
    super::bindings::Process::add_to_linker::<JobState, HasSelf<JobState>>(&mut l, |s| s)?;
    Ok(l)
}
