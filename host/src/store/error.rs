//! What can go wrong in the job store.

use crate::model::JobStatus;

/// An error from the job store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("job store database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database could not be written.
    #[error("job store database error: {0}")]
    Write(#[source] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("job store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A JSON column (request, results, error) could not be written or read back.
    #[error("job store JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The directory for the database file could not be created.
    #[error("cannot create the job store directory: {0}")]
    Io(#[from] std::io::Error),
    /// A job with this id is already stored.
    #[error("job {0} already exists")]
    DuplicateJob(String),
    /// A deployed process with this id is already stored.
    #[error("process {0} already exists")]
    DuplicateProcess(String),
    /// Something with this key already exists (a tenant, an API key).
    #[error("{0} already exists")]
    Duplicate(String),
    /// No tenant with this id exists.
    #[error("no tenant {0}")]
    UnknownTenant(String),
    /// No job with this id is stored.
    #[error("no job {0}")]
    UnknownJob(String),
    /// `finish` was asked for a status that is not a result of running.
    #[error("a job cannot finish as {}; only successful or failed", .0.as_str())]
    NotFinishable(JobStatus),
    /// The transaction that held this write failed to commit, so the write
    /// did not happen; the error is shared by every write of that batch.
    #[error("job store commit failed: {0}")]
    Batch(std::sync::Arc<StoreError>),
    /// The writer task has stopped (the server is shutting down).
    #[error("the job store is shut down")]
    WriterGone,
    /// A stored value cannot be turned back into a job (edited by hand, or
    /// written by a newer version).
    #[error("corrupt job store: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Write(e)
    }
}

impl StoreError {
    /// A uniqueness violation as [`StoreError::Duplicate`] of `what`.
    pub(super) fn unique(e: rusqlite::Error, what: String) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if matches!(
                f.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            ) {
                return StoreError::Duplicate(what);
            }
        }
        StoreError::Write(e)
    }

    /// Turns constraint violations that callers can act on into their own
    /// variants, so they need not dig into driver errors.
    pub(super) fn for_job(e: rusqlite::Error, id: &str) -> Self {
        use rusqlite::ffi;
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.extended_code {
                ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE => {
                    return StoreError::DuplicateJob(id.to_owned())
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::UnknownJob(id.to_owned()),
                _ => {}
            }
        }
        StoreError::Write(e)
    }

    /// What a PostgreSQL error means for a write of job `id`: the codes of
    /// unique (23505) and foreign key (23503) violations become
    /// [`StoreError::DuplicateJob`] and [`StoreError::UnknownJob`].
    pub(super) fn for_pg_job(e: sqlx::Error, id: &str) -> Self {
        match pg_code(&e).as_deref() {
            Some(UNIQUE_VIOLATION) => StoreError::DuplicateJob(id.to_owned()),
            Some(FOREIGN_KEY_VIOLATION) => StoreError::UnknownJob(id.to_owned()),
            _ => StoreError::Database(e),
        }
    }

    /// A PostgreSQL uniqueness violation as [`StoreError::Duplicate`] of `what`.
    pub(super) fn pg_unique(e: sqlx::Error, what: String) -> Self {
        match pg_code(&e).as_deref() {
            Some(UNIQUE_VIOLATION) => StoreError::Duplicate(what),
            _ => StoreError::Database(e),
        }
    }
}

/// SQLSTATE of a unique violation.
pub(super) const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE of a foreign key violation.
pub(super) const FOREIGN_KEY_VIOLATION: &str = "23503";

/// The SQLSTATE of a database error, if it is one.
pub(super) fn pg_code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}
