//! Compiling untrusted components in a child process, under a budget.
//!
//! The sandbox bounds what a component does when it runs, but compiling it
//! comes first and is not bounded: Cranelift given a crafted module can run
//! for minutes or allocate gigabytes. So an upload is compiled by a child,
//! this same executable run as `wades __compile`, which caps its own address
//! space (`RLIMIT_AS`) before it reads a byte of the upload, and which the
//! parent kills when the time budget is up. The child signs the artifact
//! into the cache like any other; the parent then only deserializes verified
//! artifacts and never compiles those bytes itself.
//!
//! Protocol: the component on stdin, a [`Spec`] as JSON in the second
//! argument. The child exits 0 with the artifact stored, or writes one line
//! on stderr and exits with [`EXIT_INVALID`], [`EXIT_MEMORY`] or
//! [`EXIT_HOST`].

use super::cache::ArtifactCache;
use super::engine::{self, Tier};
use super::{LoadError, RuntimeConfig};
use crate::model::Digest;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What compiling one untrusted component may take.
///
/// The defaults (60 s, 2 GiB) leave honest components a wide margin: the
/// 0.2-0.5 MB examples compile in 0.3-1 s with a peak RSS of 30-40 MB on
/// two busy cores, which scales to some 20 s and a few hundred MiB for a
/// 10 MB component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileBudget {
    /// Wall-clock time from starting the child until it exits; waiting for
    /// a free compile slot does not count.
    pub time: Duration,
    /// The child's whole address space (`RLIMIT_AS`), which is more than
    /// what it touches: its code, thread stacks and malloc's per-thread
    /// arenas (64 MiB reserved each) count. The examples need 100-200 MiB,
    /// so budgets under 256 MiB can fail honest components.
    pub memory_bytes: u64,
}

impl Default for CompileBudget {
    fn default() -> Self {
        CompileBudget {
            time: Duration::from_secs(60),
            memory_bytes: 2 << 30,
        }
    }
}

/// The first argument that turns `wades` into a compile child.
const CHILD_ARG: &str = "__compile";
/// Host trouble: a bad spec, an unwritable cache, a mismatched engine.
const EXIT_HOST: i32 = 1;
/// The bytes are not a valid component: the uploader's fault.
const EXIT_INVALID: i32 = 2;
/// The compiler reported running out of memory. Failed allocations in Rust
/// code abort instead; [`verdict`] recognises those by their message.
const EXIT_MEMORY: i32 = 3;
/// The artifact could not be written: the disk is full.
const EXIT_DISK_FULL: i32 = 4;
/// Cranelift compiles functions in parallel; beyond this, threads mostly
/// add memory and take cores from running jobs.
const MAX_COMPILE_THREADS: usize = 4;
/// Children compiling at once; more uploads wait, so that N uploads cannot
/// claim N memory budgets.
pub(crate) const MAX_CONCURRENT_COMPILES: usize = 2;

/// What the child needs: how to build an engine whose code the parent's
/// engine accepts, and where to put the artifact.
#[derive(Serialize, Deserialize)]
struct Spec {
    cache_dir: PathBuf,
    /// The parent's engine fingerprint. Only settings that change compiled
    /// code are passed (pooling does not, and would reserve memory the
    /// child cannot have); this catches any that are forgotten.
    fingerprint: String,
    /// Hex sha256 of the bytes, to notice a truncated stdin.
    digest: String,
    /// Which compiler to use.
    tier: Tier,
    /// The child's nice value: background recompiles yield the CPU to
    /// jobs and to uploads someone is waiting for.
    nice: i32,
    fuel_metering: bool,
    memory_bytes: u64,
    /// CPU seconds after which the kernel stops the child, should the parent
    /// die before it can; more than its threads can use in the time budget,
    /// so the parent's timer normally comes first.
    cpu_seconds: u64,
}

/// Nice value of background (optimizing) recompiles.
const BACKGROUND_NICE: i32 = 10;

/// Compiles `bytes` (whose sha256 is `digest`) with the compiler of `tier`
/// in a child under the budget of `config`, leaving a signed artifact in
/// the cache on success. A `background` compile, which no client awaits,
/// runs at a lower CPU priority.
pub(crate) async fn compile(
    config: &RuntimeConfig,
    tier: Tier,
    background: bool,
    fingerprint: &str,
    digest: &Digest,
    bytes: Vec<u8>,
) -> Result<(), LoadError> {
    let budget = config.compile_budget;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_COMPILE_THREADS);
    let spec = Spec {
        cache_dir: config.cache_dir.clone(),
        fingerprint: fingerprint.to_string(),
        digest: digest.hex(),
        tier,
        nice: if background { BACKGROUND_NICE } else { 0 },
        fuel_metering: config.fuel_metering,
        memory_bytes: budget.memory_bytes,
        cpu_seconds: (budget.time.as_secs() + 1) * (threads as u64 + 1),
    };
    let spec = serde_json::to_string(&spec).map_err(|e| LoadError::Host(e.to_string()))?;
    let exe = match &config.compiler_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().map_err(|e| LoadError::Host(e.to_string()))?,
    };
    let mut child = tokio::process::Command::new(&exe)
        .arg(CHILD_ARG)
        .arg(spec)
        .env("RAYON_NUM_THREADS", threads.to_string())
        // A backtrace takes seconds to symbolize, at the memory limit, and
        // would bury the one line the uploader gets.
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Dropped on timeout, or when the caller gives up on the upload.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            LoadError::Host(format!(
                "could not start the compiler {}: {e}",
                exe.display()
            ))
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let feed = async move {
        // A child that stops reading (it ran out of memory) closes the pipe;
        // its exit status says why, so the write error adds nothing.
        let _ = stdin.write_all(&bytes).await;
    };
    let run = async { tokio::join!(feed, child.wait_with_output()).1 };
    match tokio::time::timeout(budget.time, run).await {
        Err(_) => Err(over_budget("time", &fmt_duration(budget.time))),
        Ok(Err(e)) => Err(LoadError::Host(format!("waiting for the compiler: {e}"))),
        Ok(Ok(out)) => verdict(out.status, &out.stderr, &budget),
    }
}

/// What the child's exit means for the upload.
fn verdict(status: ExitStatus, stderr: &[u8], budget: &CompileBudget) -> Result<(), LoadError> {
    let stderr = String::from_utf8_lossy(stderr);
    // Our child writes one line; anything else (a panic) is joined up.
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message: String = lines.join(" ").chars().take(2000).collect();
    let memory = || over_budget("memory", &fmt_bytes(budget.memory_bytes));
    match status.code() {
        Some(0) => Ok(()),
        Some(EXIT_INVALID) => Err(LoadError::Invalid(message)),
        Some(EXIT_MEMORY) => Err(memory()),
        Some(EXIT_DISK_FULL) => Err(LoadError::DiskFull(message)),
        _ if signal(status) == Some(SIGXCPU) => {
            Err(over_budget("time", &fmt_duration(budget.time)))
        }
        _ if out_of_memory(status, &stderr) => Err(memory()),
        _ => Err(LoadError::Host(format!(
            "the compiler failed ({status}): {message}"
        ))),
    }
}

/// The signal that ended the child, if any (and if the OS has signals).
fn signal(status: ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    return std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    return {
        let _ = status;
        None
    };
}

#[cfg(unix)]
use libc::{SIGKILL, SIGXCPU};
#[cfg(not(unix))]
const SIGKILL: i32 = 9;
#[cfg(not(unix))]
const SIGXCPU: i32 = 24;

/// Whether a child that did not exit cleanly ran into its address-space
/// limit: Rust aborts on a failed allocation, thread creation fails when
/// its stack cannot be mapped, and the OOM killer (should the machine run
/// short first) sends SIGKILL.
fn out_of_memory(status: ExitStatus, stderr: &str) -> bool {
    signal(status) == Some(SIGKILL)
        || [
            "memory allocation of",
            "Cannot allocate memory",
            "out of memory",
            "failed to spawn thread",
        ]
        .iter()
        .any(|sign| stderr.contains(sign))
}

fn over_budget(which: &str, value: &str) -> LoadError {
    LoadError::OverBudget(format!(
        "compiling the component exceeded its {which} budget of {value}"
    ))
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn fmt_bytes(n: u64) -> String {
    match n {
        n if n % (1 << 30) == 0 && n > 0 => format!("{} GiB", n >> 30),
        n if n % (1 << 20) == 0 && n > 0 => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

/// The compile child's `main`. Call it first thing in the binary's `main`,
/// before starting threads or parsing arguments: it returns `None` unless
/// this process was started as a compile child (first argument
/// `__compile`), else the code to exit with.
pub fn compile_child_main() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != CHILD_ARG {
        return None;
    }
    let spec = args
        .next()
        .and_then(|s| s.into_string().ok())
        .unwrap_or_default();
    Some(match child(&spec) {
        Ok(()) => 0,
        Err((code, message)) => {
            // One line: the parent hands it to the uploader.
            eprintln!("{}", message.replace('\n', " "));
            code
        }
    })
}

fn child(spec: &str) -> Result<(), (i32, String)> {
    let host = |what: &str, e: &dyn std::fmt::Display| (EXIT_HOST, format!("{what}: {e}"));
    let spec: Spec = serde_json::from_str(spec).map_err(|e| host("bad compile spec", &e))?;
    // Before the first byte of the upload is read, let alone compiled.
    limit_self(&spec).map_err(|e| host("setting the compile budget", &e))?;
    exit_with_parent();
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::OutOfMemory => (EXIT_MEMORY, e.to_string()),
            _ => host("reading the component", &e),
        })?;
    let digest = Digest::of(&bytes);
    if digest.hex() != spec.digest {
        return Err(host("the component arrived incomplete", &digest));
    }
    let mut config = RuntimeConfig::new(&spec.cache_dir);
    config.fuel_metering = spec.fuel_metering;
    config.pooling_allocator = false;
    let engine = engine::build(&config, spec.tier).map_err(|e| host("building the engine", &e))?;
    let cache = ArtifactCache::open(&spec.cache_dir, engine::fingerprint(&engine), spec.tier)
        .map_err(|e| host("opening the artifact cache", &e))?;
    if cache.fingerprint() != spec.fingerprint {
        return Err(host(
            "the compiler's engine differs from the server's",
            &format!("{} != {}", cache.fingerprint(), spec.fingerprint),
        ));
    }
    // Same format as `Component::serialize`, without loading the code.
    let artifact = engine.precompile_component(&bytes).map_err(|e| {
        let oom = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::OutOfMemory)
        });
        (
            if oom { EXIT_MEMORY } else { EXIT_INVALID },
            format!("{e:#}"),
        )
    })?;
    cache.store(&digest, &artifact).map_err(|e| {
        let code = if crate::error::is_disk_full(&e) {
            EXIT_DISK_FULL
        } else {
            EXIT_HOST
        };
        (code, format!("caching the artifact: {e}"))
    })
}

/// Caps the address space and CPU time, and skips core dumps (an abort at
/// the memory limit would otherwise write gigabytes).
#[cfg(unix)]
fn limit_self(spec: &Spec) -> std::io::Result<()> {
    // A closure, so the resource type (which differs between libcs) is inferred.
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit only reads the struct, which outlives the call.
        match unsafe { libc::setrlimit(resource, &limit) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    set(libc::RLIMIT_CORE, 0, 0)?;
    // Before any compiler thread exists: Linux threads inherit it.
    // SAFETY: plain syscall on this thread; no pointers.
    if spec.nice != 0 && unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, spec.nice) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SIGXCPU at the soft limit, which the parent reads as the time budget.
    set(libc::RLIMIT_CPU, spec.cpu_seconds, spec.cpu_seconds + 1)?;
    set(libc::RLIMIT_AS, spec.memory_bytes, spec.memory_bytes)
}

/// Ends this child when the server that started it is gone (killed with
/// SIGKILL, say), which `kill_on_drop` cannot see to: nobody would load
/// the artifact, and a background compile would hold CPU for nothing.
/// Polling the parent id, unlike `PR_SET_PDEATHSIG`, does not depend on
/// which of the parent's threads spawned the child.
#[cfg(unix)]
fn exit_with_parent() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .stack_size(64 << 10)
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: as above.
            if unsafe { libc::getppid() } != parent {
                std::process::exit(EXIT_HOST);
            }
        });
}

#[cfg(not(unix))]
fn exit_with_parent() {}

/// Without setrlimit there is no budget, so nothing untrusted is compiled.
#[cfg(not(unix))]
fn limit_self(_: &Spec) -> std::io::Result<()> {
    Err(std::io::Error::other("compile budgets need a Unix host"))
}
