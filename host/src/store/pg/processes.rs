//! Deployed processes on PostgreSQL.

use super::PgStore;
use crate::model::{Deployment, Digest, Visibility};
use crate::store::backend::ProcessTable;
use crate::store::error::{pg_code, UNIQUE_VIOLATION};
use crate::store::rows::{digest, from_micros as time, now_micros, ProcessRow};
use crate::store::StoreError;
use async_trait::async_trait;

const INSERT: &str =
    "INSERT INTO processes (id, digest, package, created, updated, owner, visibility) \
     VALUES ($1, $2, $3, $4, $4, $5, $6)";
const REPLACE: &str = "UPDATE processes SET digest = $2, package = $3, updated = $4 WHERE id = $1 \
     RETURNING created, owner, visibility";
const SET_VISIBILITY: &str = "UPDATE processes SET visibility = $2 WHERE id = $1";
const DELETE: &str = "DELETE FROM processes WHERE id = $1 RETURNING digest";
const ALL: &str =
    "SELECT id, digest, package, created, updated, owner, visibility FROM processes ORDER BY id";
const ONE: &str =
    "SELECT id, digest, package, created, updated, owner, visibility FROM processes WHERE id = $1";
const USES: &str = "SELECT COUNT(*) FROM processes WHERE digest = $1";

#[async_trait]
impl ProcessTable for PgStore {
    async fn insert_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
        owner: &str,
    ) -> Result<Deployment, StoreError> {
        let visibility = serde_json::to_string(&Visibility::Private)?;
        let now = now_micros();
        sqlx::query(INSERT)
            .bind(id)
            .bind(module.to_string())
            .bind(serde_json::to_string(package)?)
            .bind(now)
            .bind(owner)
            .bind(visibility)
            .execute(&self.pool)
            .await
            .map_err(|e| match pg_code(&e).as_deref() {
                Some(UNIQUE_VIOLATION) => StoreError::DuplicateProcess(id.to_owned()),
                _ => StoreError::Database(e),
            })?;
        Ok(Deployment {
            id: id.to_string(),
            digest: module,
            package: package.clone(),
            created: time(now)?,
            updated: time(now)?,
            owner: owner.to_string(),
            visibility: Visibility::Private,
        })
    }

    async fn set_visibility(&self, id: &str, visibility: &Visibility) -> Result<bool, StoreError> {
        let done = sqlx::query(SET_VISIBILITY)
            .bind(id)
            .bind(serde_json::to_string(visibility)?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
    ) -> Result<Option<Deployment>, StoreError> {
        let now = now_micros();
        let kept: Option<(i64, String, String)> = sqlx::query_as(REPLACE)
            .bind(id)
            .bind(module.to_string())
            .bind(serde_json::to_string(package)?)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        kept.map(|(created, owner, visibility)| {
            Ok(Deployment {
                id: id.to_string(),
                digest: module,
                package: package.clone(),
                created: time(created)?,
                updated: time(now)?,
                owner,
                visibility: serde_json::from_str(&visibility)?,
            })
        })
        .transpose()
    }

    async fn delete_process(&self, id: &str) -> Result<Option<Digest>, StoreError> {
        let removed: Option<String> = sqlx::query_scalar(DELETE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        removed.as_deref().map(digest).transpose()
    }

    async fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let rows: Vec<ProcessRow> = sqlx::query_as(ALL).fetch_all(&self.pool).await?;
        rows.into_iter().map(Deployment::try_from).collect()
    }

    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let row: Option<ProcessRow> = sqlx::query_as(ONE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Deployment::try_from).transpose()
    }

    async fn module_uses(&self, module: Digest) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(USES)
            .bind(module.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
