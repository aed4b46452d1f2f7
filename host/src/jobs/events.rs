//! Carries a guest's progress and log lines to the database without making
//! the guest wait for it: writes are batched and progress is throttled.

use crate::model::LogLine;
use crate::runtime::{JobEvents, LogLevel};
use crate::store::JobStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Progress reaches the database at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

enum Event {
    Log(LogLine),
    Progress(u8, Option<String>),
}

struct Sink(mpsc::UnboundedSender<Event>);

impl JobEvents for Sink {
    fn log(&self, level: LogLevel, message: &str) {
        let level = serde_json::to_value(level)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let _ = self.0.send(Event::Log(LogLine {
            time: chrono::Utc::now(),
            level,
            message: message.to_string(),
        }));
    }

    fn progress(&self, percent: u8, message: Option<&str>) {
        let _ = self
            .0
            .send(Event::Progress(percent, message.map(String::from)));
    }
}

/// A sink for the runtime and the task that drains it; the task ends (after
/// a last write) once the runtime has dropped the sink.
pub(super) fn sink(store: JobStore, job: String) -> (Arc<dyn JobEvents>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // In the job's span, which a spawned task would otherwise leave.
    let span = tracing::Span::current();
    let drain = tokio::spawn(tracing::Instrument::instrument(
        async move {
            let mut logs = Vec::new();
            let mut pending: Option<(u8, Option<String>)> = None;
            let mut last_write = Instant::now() - PROGRESS_INTERVAL;
            loop {
                let event = tokio::time::timeout(PROGRESS_INTERVAL, rx.recv()).await;
                let closed = matches!(event, Ok(None));
                match event {
                    Ok(Some(Event::Log(line))) => logs.push(line),
                    Ok(Some(Event::Progress(p, m))) => pending = Some((p, m)),
                    _ => {}
                }
                if closed || last_write.elapsed() >= PROGRESS_INTERVAL {
                    if !logs.is_empty() {
                        if let Err(e) = store.append_logs(&job, &logs).await {
                            tracing::warn!(%job, error = %e, "storing guest log lines failed");
                        }
                        logs.clear();
                    }
                    if let Some((p, m)) = pending.take() {
                        let _ = store.update_progress(&job, p, m.as_deref()).await;
                    }
                    last_write = Instant::now();
                }
                if closed {
                    break;
                }
            }
        },
        span,
    ));
    (Arc::new(Sink(tx)), drain)
}
