//! Tenants' own quotas and what their jobs used: the numbers
//! [`crate::tenancy::quota`] checks.

use super::SqliteStore;
use crate::store::backend::UsageTable;
use crate::store::rows::{now_micros, to_micros};
use crate::store::StoreError;
use crate::tenancy::quota::Quota;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

const SET_QUOTA: &str =
    "INSERT INTO tenant_quotas (tenant_id, quota, updated) VALUES (?1, ?2, ?3) \
     ON CONFLICT (tenant_id) DO UPDATE SET quota = excluded.quota, updated = excluded.updated";
const CLEAR_QUOTA: &str = "DELETE FROM tenant_quotas WHERE tenant_id = ?1";
const QUOTA: &str = "SELECT quota FROM tenant_quotas WHERE tenant_id = ?";
/// Only open statuses (`accepted`, `running`) are counted: `finished IS
/// NULL` is what lets the count use `jobs_open`.
const COUNT_OWNED: &str =
    "SELECT COUNT(*) FROM jobs WHERE owner = ? AND status = ? AND finished IS NULL";
/// `?1` = owner, `?2` = since, `?3` = the day of `since`. A job's fuel
/// counts from when it was created; that of jobs retention deleted, by day.
const FUEL_SINCE: &str = "SELECT \
     COALESCE((SELECT SUM(fuel) FROM jobs WHERE owner = ?1 AND created >= ?2), 0) + \
     COALESCE((SELECT SUM(fuel) FROM usage_days WHERE owner = ?1 AND day >= ?3), 0)";
const RESULT_BYTES: &str = "SELECT COALESCE(SUM(result_bytes), 0) FROM jobs \
     WHERE owner = ? AND status = 'successful'";

#[async_trait]
impl UsageTable for SqliteStore {
    /// `tenant`'s own quota; `None` to go back to the server's defaults.
    async fn set_tenant_quota(
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
    async fn tenant_quota(&self, tenant: &str) -> Result<Option<Quota>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(QUOTA)
            .bind(tenant)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|q| serde_json::from_str(&q)).transpose()?)
    }

    /// How many of `tenant`'s jobs are in `status`, `accepted` or `running`.
    async fn count_owned(&self, tenant: &str, status: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(COUNT_OWNED)
            .bind(tenant)
            .bind(status)
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    /// Fuel burnt by `tenant`'s jobs created since `since` (and, of those
    /// retention deleted, created on `since`'s day or later).
    async fn fuel_since(&self, tenant: &str, since: DateTime<Utc>) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(FUEL_SINCE)
            .bind(tenant)
            .bind(to_micros(since))
            .bind(to_micros(since).div_euclid(86_400_000_000))
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    /// Bytes of results of `tenant`'s stored, successful jobs.
    async fn result_bytes(&self, tenant: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(RESULT_BYTES)
            .bind(tenant)
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }
}
