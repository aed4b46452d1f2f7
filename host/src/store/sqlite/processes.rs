//! Deployed processes: one row per process, pointing at its module by digest.

use super::SqliteStore;
use crate::model::{Deployment, Digest, Visibility};
use crate::store::backend::ProcessTable;
use crate::store::rows::{digest, from_micros as time, now_micros, ProcessRow};
use crate::store::StoreError;
use async_trait::async_trait;

const INSERT: &str =
    "INSERT INTO processes (id, digest, package, created, updated, owner, visibility) \
     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)";
const REPLACE: &str = "UPDATE processes SET digest = ?2, package = ?3, updated = ?4 WHERE id = ?1 \
     RETURNING created, owner, visibility";
const SET_VISIBILITY: &str = "UPDATE processes SET visibility = ?2 WHERE id = ?1";
const DELETE: &str = "DELETE FROM processes WHERE id = ?1 RETURNING digest";
const ALL: &str =
    "SELECT id, digest, package, created, updated, owner, visibility FROM processes ORDER BY id";
const ONE: &str =
    "SELECT id, digest, package, created, updated, owner, visibility FROM processes WHERE id = ?";
const USES: &str = "SELECT COUNT(*) FROM processes WHERE digest = ?";

#[async_trait]
impl ProcessTable for SqliteStore {
    /// Records a newly deployed process of `owner`, private to it, and
    /// returns it as stored. Fails with [`StoreError::DuplicateProcess`] if
    /// the id is taken.
    async fn insert_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
        owner: &str,
    ) -> Result<Deployment, StoreError> {
        let (owned, text) = (id.to_string(), serde_json::to_string(package)?);
        let visibility = serde_json::to_string(&Visibility::Private)?;
        let now = now_micros();
        let who = owner.to_string();
        self.writer
            .write(move |conn| {
                conn.prepare_cached(INSERT)?
                    .execute((&owned, module.to_string(), text, now, who, visibility))
                    .map_err(|e| duplicate(e, &owned))?;
                Ok(())
            })
            .await?;
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

    /// Sets who may see deployed process `id`; `false` if there is none.
    async fn set_visibility(&self, id: &str, visibility: &Visibility) -> Result<bool, StoreError> {
        let (owned, text) = (id.to_string(), serde_json::to_string(visibility)?);
        self.writer
            .write(move |conn| {
                Ok(conn
                    .prepare_cached(SET_VISIBILITY)?
                    .execute((owned, text))?
                    > 0)
            })
            .await
    }

    /// Points process `id` at another module and package. `None` if there
    /// is no such deployed process.
    async fn replace_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
    ) -> Result<Option<Deployment>, StoreError> {
        let (owned, text) = (id.to_string(), serde_json::to_string(package)?);
        let now = now_micros();
        let kept: Option<(i64, String, String)> = self
            .writer
            .write(move |conn| {
                let mut stmt = conn.prepare_cached(REPLACE)?;
                let mut rows = stmt.query((&owned, module.to_string(), text, now))?;
                Ok(match rows.next()? {
                    Some(row) => Some((row.get(0)?, row.get(1)?, row.get(2)?)),
                    None => None,
                })
            })
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

    /// Forgets deployed process `id` and returns the digest of its module,
    /// or `None` if there was no such process.
    async fn delete_process(&self, id: &str) -> Result<Option<Digest>, StoreError> {
        let owned = id.to_string();
        let removed: Option<String> = self
            .writer
            .write(move |conn| {
                let mut stmt = conn.prepare_cached(DELETE)?;
                let mut rows = stmt.query([&owned])?;
                Ok(match rows.next()? {
                    Some(row) => Some(row.get(0)?),
                    None => None,
                })
            })
            .await?;
        removed.as_deref().map(digest).transpose()
    }

    /// Every deployed process, in id order.
    async fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let rows: Vec<ProcessRow> = sqlx::query_as(ALL).fetch_all(&self.reader).await?;
        rows.into_iter().map(Deployment::try_from).collect()
    }

    /// Deployed process `id`, if any.
    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let row: Option<ProcessRow> = sqlx::query_as(ONE)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(Deployment::try_from).transpose()
    }

    /// How many deployed processes run the module `module`.
    async fn module_uses(&self, module: Digest) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(USES)
            .bind(module.to_string())
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }
}

fn duplicate(e: rusqlite::Error, id: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY {
            return StoreError::DuplicateProcess(id.to_owned());
        }
    }
    StoreError::Write(e)
}
