//! The log of a CWL job: each step's start and end, and the end of what it
//! wrote to standard error, so that a client can see why a step failed
//! (`GET /jobs/{id}/logs`) without access to the server's own log.

use crate::cwl::backend::{StepBackend, StepJob, StepOutcome};
use crate::runtime::{JobEvents, LogLevel};
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The most of a step's standard error that reaches the job log.
const STDERR_TAIL: u64 = 4096;

/// A step backend that runs steps on another and logs them.
pub(super) struct LoggedSteps {
    inner: Arc<dyn StepBackend>,
    events: Arc<dyn JobEvents>,
    /// Where standard error goes when the tool does not capture it.
    dir: PathBuf,
    next: AtomicUsize,
}

impl LoggedSteps {
    /// Steps of `inner`, logged to `events`, their stderr kept in `dir`.
    pub(super) fn new(
        inner: Arc<dyn StepBackend>,
        events: Arc<dyn JobEvents>,
        dir: PathBuf,
    ) -> Self {
        LoggedSteps {
            inner,
            events,
            dir,
            next: AtomicUsize::new(0),
        }
    }
}

impl StepBackend for LoggedSteps {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports(&self, job: &StepJob) -> bool {
        self.inner.supports(job)
    }

    fn run<'a>(&'a self, mut job: StepJob) -> BoxFuture<'a, crate::cwl::Result<StepOutcome>> {
        Box::pin(async move {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let tool = job.tool_id.clone();
            // A tool's own `stderr` is an output of it; only an uncaptured
            // one is ours to keep.
            let captured = job.stderr.is_none().then(|| {
                let p = self.dir.join(format!("step-{n}.stderr"));
                job.stderr = Some(p.clone());
                p
            });
            self.events.log(
                LogLevel::Info,
                &format!("step '{tool}' started ({})", self.inner.name()),
            );
            let outcome = self.inner.run(job).await;
            if let Some(text) = captured.and_then(|p| tail(&p)) {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    self.events
                        .log(LogLevel::Warn, &format!("step '{tool}' stderr: {line}"));
                }
            }
            match &outcome {
                Ok(o) => self.events.log(
                    if o.exit_code == 0 {
                        LogLevel::Info
                    } else {
                        LogLevel::Error
                    },
                    &format!("step '{tool}' exited with code {}", o.exit_code),
                ),
                Err(e) => self
                    .events
                    .log(LogLevel::Error, &format!("step '{tool}' failed: {e}")),
            }
            outcome
        })
    }
}

/// The last [`STDERR_TAIL`] bytes of a file, as text.
fn tail(path: &std::path::Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL)))
        .ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
