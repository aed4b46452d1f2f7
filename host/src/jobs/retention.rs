//! Retention: final jobs older than the configured time are deleted, with
//! their results, logs and files; usage records are dropped once no day's
//! fuel can count them, retention or not.

use super::{remove_dir, Jobs};
use std::time::Duration;

/// How often to sweep without a retention time: only usage records go.
const USAGE_SWEEP: Duration = Duration::from_secs(3600);

impl Jobs {
    /// Deletes final jobs that finished more than `age` ago (none if
    /// `None`) and old usage records; returns how many jobs.
    pub async fn sweep(&self, age: Option<Duration>) -> crate::error::Result<usize> {
        let cutoff = age.map(|age| {
            chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX)
        });
        let ids = self.inner.store.delete_final_before(cutoff).await?;
        for id in &ids {
            remove_dir(&self.inner.dir.join(id));
        }
        Ok(ids.len())
    }

    /// Sweeps for ever: every half `age`, or hourly without one.
    pub fn start_sweeper(&self, age: Option<Duration>) {
        let jobs = self.clone();
        let every = age.map_or(USAGE_SWEEP, sweep_every);
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
    (age / 2).clamp(Duration::from_secs(1), USAGE_SWEEP)
}
