//! Tenants' own quotas and what their jobs used: the numbers
//! [`crate::tenancy::quota`] checks.

use super::rows::{now_micros, to_micros};
use super::{JobStore, StoreError};
use crate::tenancy::quota::Quota;
use chrono::{DateTime, Utc};

const SET_QUOTA: &str =
    "INSERT INTO tenant_quotas (tenant_id, quota, updated) VALUES (?1, ?2, ?3) \
     ON CONFLICT (tenant_id) DO UPDATE SET quota = excluded.quota, updated = excluded.updated";
const CLEAR_QUOTA: &str = "DELETE FROM tenant_quotas WHERE tenant_id = ?1";
const QUOTA: &str = "SELECT quota FROM tenant_quotas WHERE tenant_id = ?";
const COUNT_OWNED: &str = "SELECT COUNT(*) FROM jobs WHERE owner = ? AND status = ?";
const FUEL_SINCE: &str =
    "SELECT COALESCE(SUM(fuel), 0) FROM job_usage WHERE owner = ? AND finished >= ?";
const RESULT_BYTES: &str = "SELECT COALESCE(SUM(u.result_bytes), 0) FROM job_usage u \
     JOIN jobs j ON j.id = u.job_id WHERE u.owner = ? AND j.status = 'successful'";
const RECORD_USAGE: &str =
    "INSERT OR REPLACE INTO job_usage (job_id, owner, finished, fuel, result_bytes) \
     VALUES (?1, ?2, ?3, ?4, ?5)";

/// What one job used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel burnt.
    pub fuel: u64,
    /// Bytes of results kept.
    pub result_bytes: u64,
}

impl JobStore {
    /// `tenant`'s own quota; `None` to go back to the server's defaults.
    pub async fn set_tenant_quota(
        &self,
        tenant: &str,
        quota: Option<&Quota>,
    ) -> Result<(), StoreError> {
        let tenant = tenant.to_string();
        let quota = quota.map(serde_json::to_string).transpose()?;
        self.writer
            .write(move |conn| {
                match quota {
                    Some(q) => {
                        conn.prepare_cached(SET_QUOTA)?
                            .execute((tenant, q, now_micros()))?
                    }
                    None => conn.prepare_cached(CLEAR_QUOTA)?.execute([tenant])?,
                };
                Ok(())
            })
            .await
    }

    /// `tenant`'s own quota, if an admin set one.
    pub async fn tenant_quota(&self, tenant: &str) -> Result<Option<Quota>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(QUOTA)
            .bind(tenant)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|q| serde_json::from_str(&q)).transpose()?)
    }

    /// How many of `tenant`'s jobs are in `status` (as stored).
    pub async fn count_owned(&self, tenant: &str, status: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(COUNT_OWNED)
            .bind(tenant)
            .bind(status)
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    /// Fuel `tenant`'s jobs burnt since `since`.
    pub async fn fuel_since(&self, tenant: &str, since: DateTime<Utc>) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(FUEL_SINCE)
            .bind(tenant)
            .bind(to_micros(since))
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    /// Bytes of results of `tenant`'s stored, successful jobs.
    pub async fn result_bytes(&self, tenant: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(RESULT_BYTES)
            .bind(tenant)
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    /// Records what job `id` of `owner` used, now. Returns once the write
    /// is queued, so a job's end does not wait for it; writes commit in
    /// order, so it is durable before the job's own final row, which is
    /// queued after it. `failed` learns of a failure, on the writer thread.
    pub fn record_usage(
        &self,
        id: &str,
        owner: &str,
        usage: Usage,
        failed: impl FnOnce(StoreError) + Send + 'static,
    ) -> Result<(), StoreError> {
        let (id, owner) = (id.to_string(), owner.to_string());
        let fuel = i64::try_from(usage.fuel).unwrap_or(i64::MAX);
        let bytes = i64::try_from(usage.result_bytes).unwrap_or(i64::MAX);
        self.writer.submit(
            move |conn| {
                conn.prepare_cached(RECORD_USAGE)?.execute((
                    id,
                    owner,
                    now_micros(),
                    fuel,
                    bytes,
                ))?;
                Ok(())
            },
            move |done| {
                if let Err(e) = done {
                    failed(e);
                }
            },
        )
    }
}
