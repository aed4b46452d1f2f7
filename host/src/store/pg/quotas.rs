//! Tenants' own quotas and what their jobs used, on PostgreSQL.

use super::PgStore;
use crate::store::backend::UsageTable;
use crate::store::rows::{now_micros, to_micros};
use crate::store::StoreError;
use crate::tenancy::quota::Quota;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

const SET_QUOTA: &str =
    "INSERT INTO tenant_quotas (tenant_id, quota, updated) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant_id) DO UPDATE SET quota = excluded.quota, updated = excluded.updated";
const CLEAR_QUOTA: &str = "DELETE FROM tenant_quotas WHERE tenant_id = $1";
const QUOTA: &str = "SELECT quota FROM tenant_quotas WHERE tenant_id = $1";
/// Only open statuses are counted: `finished IS NULL` lets it use `jobs_open`.
const COUNT_OWNED: &str =
    "SELECT COUNT(*) FROM jobs WHERE owner = $1 AND status = $2 AND finished IS NULL";
/// `$1` = owner, `$2` = since, `$3` = the day of `since`. SUM of BIGINT is
/// NUMERIC on PostgreSQL, hence the casts.
const FUEL_SINCE: &str = "SELECT \
     (COALESCE((SELECT SUM(fuel) FROM jobs WHERE owner = $1 AND created >= $2), 0) + \
     COALESCE((SELECT SUM(fuel) FROM usage_days WHERE owner = $1 AND day >= $3), 0))::bigint";
const RESULT_BYTES: &str = "SELECT COALESCE(SUM(result_bytes), 0)::bigint FROM jobs \
     WHERE owner = $1 AND status = 'successful'";

#[async_trait]
impl UsageTable for PgStore {
    async fn set_tenant_quota(
        &self,
        tenant: &str,
        quota: Option<&Quota>,
    ) -> Result<(), StoreError> {
        match quota {
            Some(q) => {
                sqlx::query(SET_QUOTA)
                    .bind(tenant)
                    .bind(serde_json::to_string(q)?)
                    .bind(now_micros())
                    .execute(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(CLEAR_QUOTA)
                    .bind(tenant)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(())
    }

    async fn tenant_quota(&self, tenant: &str) -> Result<Option<Quota>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(QUOTA)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|q| serde_json::from_str(&q)).transpose()?)
    }

    async fn count_owned(&self, tenant: &str, status: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(COUNT_OWNED)
            .bind(tenant)
            .bind(status)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn fuel_since(&self, tenant: &str, since: DateTime<Utc>) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(FUEL_SINCE)
            .bind(tenant)
            .bind(to_micros(since))
            .bind(to_micros(since).div_euclid(86_400_000_000))
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn result_bytes(&self, tenant: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(RESULT_BYTES)
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
