//! Tenants and their API keys on PostgreSQL.

use super::PgStore;
use crate::model::{Principal, Role};
use crate::store::backend::{KeyInfo, TenantTable};
use crate::store::error::{pg_code, FOREIGN_KEY_VIOLATION};
use crate::store::rows::now_micros;
use crate::store::StoreError;
use async_trait::async_trait;

const INSERT_TENANT: &str = "INSERT INTO tenants (id, role, created) VALUES ($1, $2, $3)";
const TENANTS: &str = "SELECT id, role FROM tenants ORDER BY id";
const INSERT_KEY: &str =
    "INSERT INTO api_keys (id, tenant_id, hash, created) VALUES ($1, $2, $3, $4)";
const REVOKE_KEY: &str = "UPDATE api_keys SET revoked = $2 WHERE id = $1 AND revoked IS NULL";
const KEYS: &str =
    "SELECT id, tenant_id, revoked IS NOT NULL FROM api_keys ORDER BY tenant_id, created";
const PRINCIPAL: &str = "SELECT t.id, t.role FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
     WHERE k.hash = $1 AND k.revoked IS NULL";

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("role '{text}'")))
}

fn principal((tenant, r): (String, String)) -> Result<Principal, StoreError> {
    Ok(Principal {
        tenant,
        role: role(&r)?,
    })
}

#[async_trait]
impl TenantTable for PgStore {
    async fn create_tenant(&self, id: &str, role: Role) -> Result<(), StoreError> {
        sqlx::query(INSERT_TENANT)
            .bind(id)
            .bind(role.as_str())
            .bind(now_micros())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::pg_unique(e, format!("tenant {id}")))?;
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<Principal>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(TENANTS).fetch_all(&self.pool).await?;
        rows.into_iter().map(principal).collect()
    }

    async fn create_key(&self, id: &str, tenant: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query(INSERT_KEY)
            .bind(id)
            .bind(tenant)
            .bind(hash)
            .bind(now_micros())
            .execute(&self.pool)
            .await
            .map_err(|e| match pg_code(&e).as_deref() {
                Some(FOREIGN_KEY_VIOLATION) => StoreError::UnknownTenant(tenant.to_owned()),
                _ => StoreError::pg_unique(e, format!("key {id}")),
            })?;
        Ok(())
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(REVOKE_KEY)
            .bind(id)
            .bind(now_micros())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows: Vec<(String, String, bool)> = sqlx::query_as(KEYS).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, tenant, revoked)| KeyInfo {
                id,
                tenant,
                revoked,
            })
            .collect())
    }

    async fn principal_for_key(&self, hash: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(PRINCIPAL)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(principal).transpose()
    }
}
