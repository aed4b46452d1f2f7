//! Callbacks (Part 1 "callback" class): a job's `subscriber` URLs are told
//! when it starts running (`inProgressUri`, the status info), succeeds
//! (`successUri`, the results document) or fails (`failedUri`, the
//! exception). Delivered in the background through the SSRF-safe fetcher,
//! with retries and exponential backoff: a subscriber that is down for a
//! moment still hears, one that is gone costs a few requests, never a job.

use crate::fetch::Fetcher;
use crate::model::{JobRecord, JobStatus};
use crate::ogc::Subscriber;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Deliveries tried per callback.
const ATTEMPTS: u32 = 5;
/// Wait before the first retry; it doubles after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Sends callbacks. Cheap to clone.
#[derive(Clone)]
pub struct Callbacks {
    fetcher: Fetcher,
    /// Base of the links in what is sent.
    base: Arc<str>,
    attempts: u32,
    backoff: Duration,
    /// Where deliveries run: jobs end on threads of their own.
    runtime: tokio::runtime::Handle,
}

impl Callbacks {
    /// Callbacks through `fetcher`, whose documents link below `base`,
    /// delivered on the current Tokio runtime (panics outside one).
    pub fn new(fetcher: Fetcher, base: &str) -> Callbacks {
        Callbacks {
            fetcher,
            base: base.into(),
            attempts: ATTEMPTS,
            backoff: FIRST_BACKOFF,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The base of links in callback documents.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Tells `subscriber` that `job` is running.
    pub fn running(&self, subscriber: &Subscriber, job: &JobRecord) {
        if let Some(uri) = &subscriber.in_progress_uri {
            let body = crate::ogc::status_info(job, &self.base);
            self.send(uri.clone(), body, job.id.clone());
        }
    }

    /// Tells `subscriber` how `job` ended: `document` is the results
    /// document of a successful job or the exception of a failed one.
    pub fn ended(&self, subscriber: &Subscriber, job: &JobRecord, document: Value) {
        let uri = match job.status {
            JobStatus::Successful => &subscriber.success_uri,
            JobStatus::Failed => &subscriber.failed_uri,
            // A dismissed job was stopped by its owner, who knows.
            _ => return,
        };
        if let Some(uri) = uri {
            self.send(uri.clone(), document, job.id.clone());
        }
    }

    fn send(&self, uri: String, body: Value, job: String) {
        let this = self.clone();
        self.runtime.spawn(async move {
            let mut wait = this.backoff;
            for attempt in 1..=this.attempts {
                match this.fetcher.post_json(&uri, &body).await {
                    Ok(()) => {
                        tracing::debug!(%job, %uri, attempt, "callback delivered");
                        return;
                    }
                    // Refused by policy (not http, a forbidden address):
                    // trying again would not change that.
                    Err(e) if !e.is_transient() => {
                        tracing::warn!(%job, %uri, error = %e, "callback refused");
                        return;
                    }
                    Err(e) if attempt == this.attempts => {
                        tracing::warn!(%job, %uri, attempt, error = %e, "callback undelivered");
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(%job, %uri, attempt, error = %e, "callback failed, retrying");
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        });
    }
}
