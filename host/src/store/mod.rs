//! The durable store: jobs and their logs, deployed processes, tenants and
//! quotas, in embedded SQLite (one node) or PostgreSQL (several nodes).
//!
//! Jobs must survive a restart of the server, and several workers (of one
//! node or of many) take jobs from the same queue, so every state change is
//! a single conditional SQL statement: the database, not the caller, decides
//! who wins a race. What a database must offer is the [`backend`] traits;
//! [`JobStore`] is the handle the rest of wades holds, whichever it is.

pub mod backend;
mod error;
mod list;
pub mod pg;
mod rows;
pub mod sqlite;

pub use backend::{Backend, KeyInfo, StoreEvent};
pub use error::StoreError;

use crate::model::JobRecord;
use std::path::Path;
use std::sync::Arc;

/// Where the store lives: `sqlite:<path>` (or a plain path) or a
/// `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file; created with its folder if missing.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database several nodes share, by libpq-style URL.
    Postgres(String),
}

impl Database {
    /// Reads a `--database` value: `postgres://` and `postgresql://` URLs
    /// name PostgreSQL, `sqlite:` a file, and anything else is a file path.
    pub fn parse(text: &str) -> Database {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Database::Postgres(text.to_string())
        } else {
            let path = text
                .strip_prefix("sqlite://")
                .or_else(|| text.strip_prefix("sqlite:"));
            Database::Sqlite(path.unwrap_or(text).into())
        }
    }
}

/// The store. Cheap to clone; clones share the connections. Every table's
/// operations are reached through it (it dereferences to [`Backend`]).
#[derive(Debug, Clone)]
pub struct JobStore {
    inner: Arc<dyn Backend>,
}

impl std::ops::Deref for JobStore {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl JobStore {
    /// Opens (creating if missing, with its directory) the SQLite file at
    /// `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(JobStore::from(sqlite::SqliteStore::open(path).await?))
    }

    /// Opens `database`, bringing its schema up to date; a PostgreSQL store
    /// takes part in leases as a node with the default settings.
    pub async fn connect(database: &Database) -> Result<Self, StoreError> {
        match database {
            Database::Sqlite(path) => Self::open(path).await,
            Database::Postgres(url) => Ok(JobStore::from(
                pg::PgStore::connect(url, pg::PgOptions::default()).await?,
            )),
        }
    }

    /// Like [`insert`](backend::JobTable::insert), but returns once the
    /// write is queued; `done` gets the outcome once it is durable, so it
    /// must be quick and must not block.
    pub fn insert_then(
        &self,
        job: &JobRecord,
        done: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        self.inner.insert_then(job, Box::new(done))
    }

    /// Takes the oldest `accepted` job and marks it `running`; `None` when
    /// the queue is empty (see [`claim_batch`](Self::claim_batch)).
    pub async fn claim_next(&self) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.claim_batch(1, None, |_| {}).await?.pop())
    }

    /// [`claim_batch`](backend::JobTable::claim_batch) with a closure.
    pub async fn claim_batch(
        &self,
        limit: usize,
        max_running: Option<u64>,
        claimed: impl FnOnce(&Vec<JobRecord>) + Send + 'static,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.inner
            .claim_batch(limit, max_running, Box::new(claimed))
            .await
    }

    /// Closes this handle; the last handle to close waits until every write
    /// has committed and the connections are closed.
    pub async fn close(self) {
        if Arc::strong_count(&self.inner) == 1 {
            self.inner.close().await;
        }
    }
}

impl<B: Backend + 'static> From<B> for JobStore {
    fn from(backend: B) -> Self {
        JobStore {
            inner: Arc::new(backend),
        }
    }
}

#[cfg(test)]
mod tests;
