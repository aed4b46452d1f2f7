//! What a running guest reports: log lines and progress.

/// Severity of a guest's log line.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Fine detail.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal events.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
}

/// Receives a job's log lines and progress as they happen. The job store
/// implements it; implementations must be quick, as the guest waits.
pub trait JobEvents: Send + Sync {
    /// A log line (already truncated to a sane length).
    fn log(&self, level: LogLevel, message: &str);
    /// Progress, 0 to 100.
    fn progress(&self, percent: u8, message: Option<&str>);
}

/// Drops every event.
pub struct NoEvents;

impl JobEvents for NoEvents {
    fn log(&self, _: LogLevel, _: &str) {}
    fn progress(&self, _: u8, _: Option<&str>) {}
}
