//! The threads guests run on, apart from the ones that serve HTTP, so that
//! however busy the guests are, the API keeps answering.

use tokio::runtime::{Builder, Handle, Runtime};

/// A tokio runtime of its own for jobs.
pub(super) struct JobThreads(Option<Runtime>);

impl JobThreads {
    /// `workers` threads, named `wades-job`.
    pub(super) fn new(workers: usize) -> std::io::Result<Self> {
        let rt = Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("wades-job")
            .enable_all()
            .build()?;
        Ok(JobThreads(Some(rt)))
    }

    pub(super) fn handle(&self) -> &Handle {
        self.0
            .as_ref()
            .expect("runtime present until drop")
            .handle()
    }
}

impl Drop for JobThreads {
    /// Dropping a runtime blocks until its threads stop, which tokio forbids
    /// inside async code, where the service is usually dropped; jobs cut
    /// off here are recovered at the next start like after a crash.
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}
