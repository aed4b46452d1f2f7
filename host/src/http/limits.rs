//! The rate limit: a token bucket per identity (governor's keyed limiter).
//! An authenticated request counts against its tenant, whichever key or
//! token it used; an anonymous one against its client address, so that one
//! anonymous client cannot use up everyone's allowance.

use crate::config::RateLimitConfig;
use crate::error::{Error, Result};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;

/// Buckets kept before idle ones are dropped, so that many one-off
/// clients cannot grow the map without bound.
const MAX_BUCKETS: usize = 10_000;

/// Per-identity token buckets.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    per_second: u32,
    burst: u32,
}

impl RateLimit {
    /// The limit `config` sets; `None` when it is off (`per_second = 0`).
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        let per_second = NonZeroU32::new(config.per_second)?;
        let burst = NonZeroU32::new(config.burst).unwrap_or(per_second);
        Some(RateLimit {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            per_second: per_second.get(),
            burst: burst.get(),
        })
    }

    /// Takes a token from `identity`'s bucket, or says when one will be there.
    pub fn check(&self, identity: &str) -> Result<()> {
        if self.limiter.len() > MAX_BUCKETS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&identity.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Error::RateLimited {
                    per_second: self.per_second,
                    burst: self.burst,
                    retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            })
    }
}
