//! Who learns how each job ended, and what its run used: billing, which
//! keeps execution history to quote from and writes the bills of quoted
//! jobs. The jobs service knows nothing of prices.

use crate::model::{JobRecord, JobStatus, Usage};
use futures::future::BoxFuture;
use std::time::Duration;

/// What one run used, as exactly as the host measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunMeter {
    /// Fuel burnt and result bytes kept, as quotas count them.
    pub usage: Usage,
    /// Most linear memory the guest held, in bytes.
    pub memory_peak: u64,
    /// Wall-clock time of the guest's run (instantiation to return).
    pub wall: Duration,
    /// Seconds of CPU that container steps used (CWL jobs).
    pub container_seconds: f64,
    /// Bytes of the inputs as given: text and binary values by their
    /// length, JSON by its text, links by their URL.
    pub input_bytes: u64,
}

/// Told of every job that ran, once its end is known and before it is
/// recorded, so that whatever the observer writes (a bill) exists by the
/// time a client sees the job final.
pub trait JobObserver: Send + Sync {
    /// `job` (as it was when it started) ended in `status` after using `meter`.
    fn ended<'a>(
        &'a self,
        job: &'a JobRecord,
        status: JobStatus,
        meter: &'a RunMeter,
    ) -> BoxFuture<'a, ()>;
}
