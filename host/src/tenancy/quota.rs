//! Per-tenant quotas: how much of the server one tenant may hold or use.
//!
//! The operator sets defaults (`[quotas]` in the config); an admin may set
//! a tenant's own values (`wades tenant quota`, `PUT /admin/tenants/{id}/quota`),
//! which win member by member. Every check here returns the service's
//! [`Error`], so the HTTP layer only maps it: 429 with `Retry-After` for
//! what passes with time (queue, running jobs, the day's fuel), 413 for one
//! object larger than the whole allowance, 507 when the allowance is full.

use crate::error::{Error, Result};
use crate::model::Limits;
use crate::store::JobStore;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Retry-After of a full queue or running set: jobs take seconds to
/// minutes, so sooner would mostly be refused again.
const BUSY_RETRY_SECONDS: u64 = 5;

/// A tenant's allowance. `None` is unlimited (or, among a tenant's own
/// values, "as the server's default").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Jobs running at once; more wait in the queue (async) or get 429 (sync).
    pub max_running: Option<u64>,
    /// Accepted jobs waiting to run; a submission beyond gets 429.
    pub max_queued: Option<u64>,
    /// Fuel one job may burn; lowers the operator's per-job limit.
    pub fuel_per_job: Option<u64>,
    /// Fuel all jobs may burn per UTC day; once spent, submissions get 429
    /// until midnight.
    pub fuel_per_day: Option<u64>,
    /// Linear memory of one job; lowers the operator's per-job limit.
    pub memory_per_job: Option<u64>,
    /// Bytes of deployed components, summed over the tenant's processes.
    pub module_bytes: Option<u64>,
    /// Bytes of stored job results, summed over the tenant's jobs.
    pub result_bytes: Option<u64>,
}

impl Quota {
    /// This quota where it sets a value, `defaults` elsewhere.
    pub fn over(self, defaults: &Quota) -> Quota {
        Quota {
            max_running: self.max_running.or(defaults.max_running),
            max_queued: self.max_queued.or(defaults.max_queued),
            fuel_per_job: self.fuel_per_job.or(defaults.fuel_per_job),
            fuel_per_day: self.fuel_per_day.or(defaults.fuel_per_day),
            memory_per_job: self.memory_per_job.or(defaults.memory_per_job),
            module_bytes: self.module_bytes.or(defaults.module_bytes),
            result_bytes: self.result_bytes.or(defaults.result_bytes),
        }
    }

    /// The limits a job of this tenant runs under, at most.
    pub fn job_limits(&self) -> Limits {
        Limits {
            fuel: self.fuel_per_job,
            memory_bytes: self.memory_per_job,
            timeout: None,
        }
    }

    /// Refuses a new queued job when `queued` already wait.
    pub fn check_queue(&self, tenant: &str, queued: u64) -> Result<()> {
        match self.max_queued {
            Some(max) if queued >= max => Err(Error::QuotaExceeded {
                detail: format!(
                    "tenant '{tenant}' already has {queued} queued job(s), its quota is {max}; \
                     retry when some have started"
                ),
                retry_after: BUSY_RETRY_SECONDS,
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a sync job when `running` already run: a sync client would
    /// otherwise wait behind its own jobs without being told.
    pub fn check_running(&self, tenant: &str, running: u64) -> Result<()> {
        match self.max_running {
            Some(max) if running >= max => Err(Error::QuotaExceeded {
                detail: format!(
                    "tenant '{tenant}' already has {running} running job(s), its quota is {max}; \
                     retry later or execute asynchronously (Prefer: respond-async)"
                ),
                retry_after: BUSY_RETRY_SECONDS,
            }),
            _ => Ok(()),
        }
    }

    /// Refuses new jobs once `used` fuel has been burnt today (UTC).
    pub fn check_fuel_today(&self, tenant: &str, used: u64, now: DateTime<Utc>) -> Result<()> {
        match self.fuel_per_day {
            Some(max) if used >= max => Err(Error::QuotaExceeded {
                detail: format!(
                    "tenant '{tenant}' has used {used} of its {max} fuel units for today (UTC)"
                ),
                retry_after: seconds_to_midnight(now),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a deployed component of `adding` bytes when the tenant's
    /// components already take `used`.
    pub fn check_modules(&self, tenant: &str, used: u64, adding: u64) -> Result<()> {
        check_storage(
            self.module_bytes,
            "deployed components",
            tenant,
            used,
            adding,
        )
    }

    /// Refuses results of `adding` bytes when the tenant's stored results
    /// already take `used`.
    pub fn check_results(&self, tenant: &str, used: u64, adding: u64) -> Result<()> {
        check_storage(self.result_bytes, "job results", tenant, used, adding)
    }
}

fn check_storage(
    limit: Option<u64>,
    what: &str,
    tenant: &str,
    used: u64,
    adding: u64,
) -> Result<()> {
    let Some(max) = limit else { return Ok(()) };
    if adding > max {
        return Err(Error::PayloadTooLarge(format!(
            "{adding} bytes is more than tenant '{tenant}' may store in {what} at all ({max} bytes)"
        )));
    }
    if used.saturating_add(adding) > max {
        return Err(Error::StorageFull(format!(
            "tenant '{tenant}' stores {used} bytes of {what}; {adding} more would pass its quota of \
             {max} bytes: delete some first"
        )));
    }
    Ok(())
}

/// Seconds until the next 00:00 UTC, when the day's fuel is new.
pub fn seconds_to_midnight(now: DateTime<Utc>) -> u64 {
    let next = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (next - now).num_seconds().max(1) as u64
}

/// The start of `now`'s UTC day, where the day's fuel is counted from.
pub fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// How long a tenant's own quota is trusted from memory. Every job needs
/// it, twice for sync jobs, and reading it from the database each time
/// cost more than half of M1's throughput (`bench/`). Changes made through
/// the admin route apply at once; changes made with `wades tenant quota`
/// (another process) within this time.
pub const OWN_QUOTA_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The quotas in force: the operator's defaults and each tenant's own.
/// Cheap to clone.
#[derive(Clone)]
pub struct Quotas {
    store: JobStore,
    defaults: Quota,
    own: Arc<Mutex<HashMap<String, (Instant, Quota)>>>,
}

impl Quotas {
    /// Quotas read from `store`, falling back to `defaults`.
    pub fn new(store: JobStore, defaults: Quota) -> Self {
        Quotas {
            store,
            defaults,
            own: Arc::default(),
        }
    }

    /// The server-wide defaults.
    pub fn defaults(&self) -> &Quota {
        &self.defaults
    }

    /// What `tenant` may use: its own values over the defaults.
    pub async fn of(&self, tenant: &str) -> Result<Quota> {
        Ok(self.own(tenant).await?.over(&self.defaults))
    }

    /// `tenant`'s own values (all `None` if an admin set none), at most
    /// [`OWN_QUOTA_TTL`] old.
    pub async fn own(&self, tenant: &str) -> Result<Quota> {
        if let Some((read, quota)) = self.own.lock().expect("quota cache").get(tenant) {
            if read.elapsed() < OWN_QUOTA_TTL {
                return Ok(*quota);
            }
        }
        let read = Instant::now();
        let quota = self.store.tenant_quota(tenant).await?.unwrap_or_default();
        self.own
            .lock()
            .expect("quota cache")
            .insert(tenant.to_string(), (read, quota));
        Ok(quota)
    }

    /// Sets `tenant`'s own values; `None` goes back to the defaults.
    pub async fn set_own(&self, tenant: &str, quota: Option<&Quota>) -> Result<()> {
        self.store.set_tenant_quota(tenant, quota).await?;
        self.own.lock().expect("quota cache").remove(tenant);
        Ok(())
    }

    /// Refuses a new async job of `tenant` when its queue is full, its
    /// day's fuel is spent, or its result storage is full.
    pub async fn admit_queued(&self, tenant: &str) -> Result<Quota> {
        let quota = self.of(tenant).await?;
        if quota.max_queued.is_some() {
            quota.check_queue(tenant, self.store.count_owned(tenant, "accepted").await?)?;
        }
        self.admit_common(tenant, &quota).await?;
        Ok(quota)
    }

    /// Refuses a new sync job of `tenant` when it has `running` jobs
    /// running here and may run no more, or as [`admit_queued`](Self::admit_queued).
    pub async fn admit_sync(&self, tenant: &str, running: u64) -> Result<Quota> {
        let quota = self.of(tenant).await?;
        quota.check_running(tenant, running)?;
        self.admit_common(tenant, &quota).await?;
        Ok(quota)
    }

    async fn admit_common(&self, tenant: &str, quota: &Quota) -> Result<()> {
        let now = Utc::now();
        if quota.fuel_per_day.is_some() {
            let used = self.store.fuel_since(tenant, start_of_day(now)).await?;
            quota.check_fuel_today(tenant, used, now)?;
        }
        if let Some(max) = quota.result_bytes {
            // Full already: refuse now rather than run a job whose results
            // could not be kept.
            let used = self.store.result_bytes(tenant).await?;
            if used >= max {
                return Err(Error::StorageFull(format!(
                    "tenant '{tenant}' stores {used} bytes of job results, its quota is {max} bytes: \
                     dismiss some jobs first"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_values_win_and_checks_answer_the_right_error() {
        let defaults = Quota {
            max_queued: Some(10),
            max_running: Some(2),
            ..Quota::default()
        };
        let own = Quota {
            max_queued: Some(1),
            module_bytes: Some(100),
            ..Quota::default()
        };
        let q = own.over(&defaults);
        assert_eq!(
            (q.max_queued, q.max_running, q.module_bytes),
            (Some(1), Some(2), Some(100))
        );
        assert!(q.check_queue("a", 0).is_ok());
        assert!(matches!(
            q.check_queue("a", 1),
            Err(Error::QuotaExceeded { retry_after: 5, .. })
        ));
        assert!(matches!(
            q.check_modules("a", 0, 101),
            Err(Error::PayloadTooLarge(_))
        ));
        assert!(matches!(
            q.check_modules("a", 50, 51),
            Err(Error::StorageFull(_))
        ));
        assert!(q.check_modules("a", 50, 50).is_ok());
        assert!(
            q.check_results("a", u64::MAX, u64::MAX).is_ok(),
            "unset is unlimited"
        );
    }

    #[test]
    fn the_days_fuel_comes_back_at_midnight_utc() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T23:59:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(seconds_to_midnight(now), 60);
        assert_eq!(start_of_day(now).to_rfc3339(), "2025-03-01T00:00:00+00:00");
        let q = Quota {
            fuel_per_day: Some(5),
            ..Quota::default()
        };
        assert!(q.check_fuel_today("a", 4, now).is_ok());
        let Err(Error::QuotaExceeded { retry_after, .. }) = q.check_fuel_today("a", 5, now) else {
            panic!("over the day's fuel")
        };
        assert_eq!(retry_after, 60);
    }
}
