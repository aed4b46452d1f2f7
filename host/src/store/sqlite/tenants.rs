//! Tenants and their API keys (stored as hashes only).

use super::SqliteStore;
use crate::model::{Principal, Role};
use crate::store::backend::{KeyInfo, TenantTable};
use crate::store::rows::now_micros;
use crate::store::StoreError;
use async_trait::async_trait;

const INSERT_TENANT: &str = "INSERT INTO tenants (id, role, created) VALUES (?1, ?2, ?3)";
const TENANTS: &str = "SELECT id, role FROM tenants ORDER BY id";
const INSERT_KEY: &str =
    "INSERT INTO api_keys (id, tenant_id, hash, created) VALUES (?1, ?2, ?3, ?4)";
const REVOKE_KEY: &str = "UPDATE api_keys SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL";
const KEYS: &str =
    "SELECT id, tenant_id, revoked IS NOT NULL FROM api_keys ORDER BY tenant_id, created";
const PRINCIPAL: &str = "SELECT t.id, t.role FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
     WHERE k.hash = ? AND k.revoked IS NULL";

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("role '{text}'")))
}

#[async_trait]
impl TenantTable for SqliteStore {
    /// Adds tenant `id` with `role`. Fails with [`StoreError::Duplicate`]
    /// if it exists.
    async fn create_tenant(&self, id: &str, role: Role) -> Result<(), StoreError> {
        let id = id.to_string();
        self.writer
            .write(move |conn| {
                conn.prepare_cached(INSERT_TENANT)?
                    .execute((&id, role.as_str(), now_micros()))
                    .map_err(|e| StoreError::unique(e, format!("tenant {id}")))?;
                Ok(())
            })
            .await
    }

    /// Every tenant with its role, by id.
    async fn tenants(&self) -> Result<Vec<Principal>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(TENANTS).fetch_all(&self.reader).await?;
        rows.into_iter()
            .map(|(tenant, r)| {
                Ok(Principal {
                    tenant,
                    role: role(&r)?,
                })
            })
            .collect()
    }

    /// Stores key `id` of `tenant`, known by the sha256 `hash` of its
    /// secret. Fails with [`StoreError::UnknownTenant`] for a tenant that
    /// does not exist.
    async fn create_key(&self, id: &str, tenant: &str, hash: &str) -> Result<(), StoreError> {
        let (id, tenant, hash) = (id.to_string(), tenant.to_string(), hash.to_string());
        self.writer
            .write(move |conn| {
                conn.prepare_cached(INSERT_KEY)?
                    .execute((&id, &tenant, hash, now_micros()))
                    .map_err(|e| match &e {
                        rusqlite::Error::SqliteFailure(f, _)
                            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                        {
                            StoreError::UnknownTenant(tenant.clone())
                        }
                        _ => StoreError::unique(e, format!("key {id}")),
                    })?;
                Ok(())
            })
            .await
    }

    /// Revokes key `id`; `false` if there is no such live key.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.writer
            .write(move |conn| {
                Ok(conn
                    .prepare_cached(REVOKE_KEY)?
                    .execute((id, now_micros()))?
                    > 0)
            })
            .await
    }

    /// Every key, by tenant.
    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows: Vec<(String, String, bool)> =
            sqlx::query_as(KEYS).fetch_all(&self.reader).await?;
        Ok(rows
            .into_iter()
            .map(|(id, tenant, revoked)| KeyInfo {
                id,
                tenant,
                revoked,
            })
            .collect())
    }

    /// The identity whose live key hashes to `hash`, if any.
    async fn principal_for_key(&self, hash: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(PRINCIPAL)
            .bind(hash)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|(tenant, r)| {
            Ok(Principal {
                tenant,
                role: role(&r)?,
            })
        })
        .transpose()
    }
}
