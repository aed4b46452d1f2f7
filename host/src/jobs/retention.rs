//! Retention: final jobs older than the configured time are deleted, with
//! their results, logs and files.

use super::{remove_dir, Jobs};
use std::time::Duration;

impl Jobs {
    /// Deletes final jobs that finished more than `age` ago; returns how many.
    pub async fn sweep(&self, age: Duration) -> crate::error::Result<usize> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let ids = self.inner.store.delete_final_before(cutoff).await?;
        for id in &ids {
            remove_dir(&self.inner.dir.join(id));
        }
        Ok(ids.len())
    }

    /// Sweeps every `every`, for ever, deleting final jobs older than `age`.
    pub fn start_sweeper(&self, age: Duration) {
        let jobs = self.clone();
        let every = sweep_every(age);
        self.inner.threads.handle().spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match jobs.sweep(age).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "retention: deleted old jobs"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
            }
        });
    }
}

/// How often to sweep for a retention of `age`: often enough that nothing
/// outlives it by much more than half, never more than hourly nor more
/// than once a second.
fn sweep_every(age: Duration) -> Duration {
    (age / 2).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}
