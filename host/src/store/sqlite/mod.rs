//! The embedded store: one SQLite file, for a single node.
//!
//! Timestamps are stored as INTEGER microseconds since the Unix epoch (UTC),
//! so values read back are truncated to the microsecond.

mod processes;
mod queries;
mod quotas;
mod rows;
mod tenants;
mod writer;

use super::backend::{Claimed, Done, JobTable};
use super::list;
use super::rows::{count_to_sql, json_text, now_micros, records, to_micros, JobRow, LogRow};
use super::StoreError;
use crate::model::{JobFilter, JobRecord, JobStatus, LogLine, Usage};
use async_trait::async_trait;
use rows::write_returning;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use std::path::Path;
use std::time::Duration;
use writer::{savepoint, Writer};

/// Long enough to ride out another connection's write transaction, short
/// enough that a wedged database shows up as an error rather than a hang.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers run side by side under WAL.
const MAX_READERS: u32 = 8;

/// The SQLite store. Cheap to clone; clones share the writer and the readers.
///
/// SQLite runs one writer at a time. Several writing connections would
/// contend through the busy handler, which sleeps and retries and turns
/// milliseconds into hundreds of them under load; instead one task owns the
/// only writing connection and commits the writes waiting for it in groups
/// (see `writer`).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with its directory) the database file at
    /// `path` and brings its schema up to date.
    ///
    /// WAL lets readers proceed while a worker writes; with WAL,
    /// `synchronous = NORMAL` still never corrupts the file and only risks
    /// the last commits on power loss, which recovery handles like a crash.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
        conn.close().await?;
        // Opened up front, so the first requests after a start do not pay
        // for opening them.
        let reader = SqlitePoolOptions::new()
            .max_connections(MAX_READERS)
            .min_connections(MAX_READERS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer: Writer::start(path)?,
            reader,
        })
    }
}

#[async_trait]
impl JobTable for SqliteStore {
    /// Stores a new job. Fails with [`StoreError::DuplicateJob`] if the id is taken.
    async fn insert(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.writer.write(insert_op(job)?).await
    }

    /// Like [`insert`](Self::insert), but returns once the write is queued;
    /// `done` gets the outcome on the writer's thread once it is durable
    /// (see `Writer::submit`), so it must be quick and must not block.
    fn insert_then(&self, job: &JobRecord, done: Done) -> Result<(), StoreError> {
        self.writer.submit(insert_op(job)?, done)
    }

    /// The job with this id, if any.
    async fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row: Option<JobRow> = sqlx::query_as(queries::GET)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(JobRecord::try_from).transpose()
    }

    /// One page of the jobs matching every field of `filter`, newest first
    /// (by `created`, then by id so pages are stable), and whether more jobs
    /// match beyond this page.
    ///
    /// A job's duration is `finished - started`, or `now - started` while it
    /// has not finished; jobs that never started have none and never match
    /// a duration bound.
    async fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, bool), StoreError> {
        let rows: Vec<JobRow> = list::query::<sqlx::Sqlite>(filter, now_micros())
            .build_query_as()
            .fetch_all(&self.reader)
            .await?;
        let mut jobs = records(rows)?;
        let more = jobs.len() > filter.limit as usize;
        jobs.truncate(filter.limit as usize);
        Ok((jobs, more))
    }

    /// `claimed` sees the jobs before any later write (a dismissal, say)
    /// is answered.
    async fn claim_batch(
        &self,
        limit: usize,
        max_running: Option<u64>,
        claimed: Claimed,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cap = max_running.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
        self.writer
            .write_then(
                move |conn| {
                    let mut jobs =
                        write_returning(conn, queries::CLAIM_NEXT, (now_micros(), limit, cap))?;
                    // RETURNING gives rows in no promised order.
                    jobs.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
                    Ok(jobs)
                },
                claimed,
            )
            .await
    }

    async fn claim(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let id = id.to_string();
        self.writer
            .write(move |conn| Ok(write_returning(conn, queries::CLAIM, (now_micros(), id))?.pop()))
            .await
    }

    /// Records progress (capped at 100) of a `running` job; a `None` message
    /// keeps the previous one. Returns whether the job was running, so a
    /// worker can notice that its job was dismissed.
    async fn update_progress(
        &self,
        id: &str,
        progress: u8,
        message: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, message) = (id.to_string(), message.map(String::from));
        self.writer
            .write(move |conn| {
                let changed = conn.prepare_cached(queries::UPDATE_PROGRESS)?.execute((
                    i64::from(progress.min(100)),
                    message,
                    now_micros(),
                    id,
                ))?;
                Ok(changed > 0)
            })
            .await
    }

    /// Ends a `running` job as `Successful` (progress becomes 100) or
    /// `Failed`, replacing its message and storing its results or error
    /// document and what it used; `finished` and `updated` become now.
    /// Returns the job as it now stands.
    ///
    /// Returns `None`, changing nothing, if the job is no longer running: a
    /// client may have dismissed it while the guest ran, and the dismissal
    /// must win. Any other `status` is [`StoreError::NotFinishable`].
    async fn finish(
        &self,
        id: &str,
        status: JobStatus,
        message: Option<&str>,
        results: Option<&serde_json::Value>,
        error: Option<&serde_json::Value>,
        usage: Usage,
    ) -> Result<Option<JobRecord>, StoreError> {
        if !matches!(status, JobStatus::Successful | JobStatus::Failed) {
            return Err(StoreError::NotFinishable(status));
        }
        let (id, message) = (id.to_string(), message.map(String::from));
        let (results, error) = (json_text(results)?, json_text(error)?);
        self.writer
            .write(move |conn| {
                let params = (
                    status.as_str(),
                    message,
                    results,
                    error,
                    now_micros(),
                    id,
                    count_to_sql(usage.fuel),
                    count_to_sql(usage.result_bytes),
                );
                Ok(write_returning(conn, queries::FINISH, params)?.pop())
            })
            .await
    }

    /// Records what the run of job `id` used, whatever its state: for a run
    /// whose job was dismissed under it, so the fuel still counts.
    async fn set_usage(&self, id: &str, usage: Usage) -> Result<(), StoreError> {
        let id = id.to_string();
        self.writer
            .write(move |conn| {
                conn.prepare_cached(queries::SET_USAGE)?.execute((
                    count_to_sql(usage.fuel),
                    count_to_sql(usage.result_bytes),
                    id,
                ))?;
                Ok(())
            })
            .await
    }

    /// Dismisses a job in any state: status `dismissed`, message
    /// "dismissed by client", results dropped, `finished` set to now unless
    /// it had already finished, `updated` now. Returns the job as it now
    /// stands (unchanged if it was already dismissed), or `None` for an
    /// unknown id.
    async fn dismiss(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let owned = id.to_string();
        let changed = self
            .writer
            .write(move |conn| {
                Ok(write_returning(conn, queries::DISMISS, (now_micros(), owned))?.pop())
            })
            .await?;
        match changed {
            Some(job) => Ok(Some(job)),
            // Nothing changed: either unknown or already dismissed. Jobs are
            // never deleted and dismissal is final, so a second read cannot
            // disagree with the first.
            None => self.get(id).await,
        }
    }

    /// Call at startup, before any worker runs: jobs still marked `running`
    /// were interrupted by a crash. Those with `attempts < max_attempts` go
    /// back to `accepted` (started and progress cleared) to run again; the
    /// rest become `failed` with an error document, so a job that crashes
    /// the server cannot do so forever. Returns (resumed, failed).
    async fn recover_interrupted(&self, max_attempts: u32) -> Result<(u64, u64), StoreError> {
        // The form the job service stores failures in: `{"error": <RunError>}`.
        let error = serde_json::to_string(&serde_json::json!({
            "error": {
                "kind": "host",
                "detail": format!(
                    "the server restarted while the job was running, \
                     and it had already been attempted {max_attempts} time(s)"
                ),
            }
        }))?;
        // All or nothing, so a crash during recovery cannot leave half the
        // jobs resumed and the rest failed by the second statement's rule.
        self.writer
            .write(move |conn| {
                savepoint(conn, |conn| {
                    let now = now_micros();
                    let resumed = conn
                        .prepare_cached(queries::RESUME_INTERRUPTED)?
                        .execute((now, i64::from(max_attempts)))?;
                    let failed = conn
                        .prepare_cached(queries::FAIL_INTERRUPTED)?
                        .execute((error, now))?;
                    Ok((resumed as u64, failed as u64))
                })
            })
            .await
    }

    /// Appends lines to a job's log, all or none. Fails with
    /// [`StoreError::UnknownJob`] if there is no such job.
    async fn append_logs(&self, id: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let (id, lines) = (id.to_string(), lines.to_vec());
        self.writer
            .write(move |conn| {
                savepoint(conn, |conn| {
                    let mut stmt = conn.prepare_cached(queries::APPEND_LOG)?;
                    for line in &lines {
                        stmt.execute((&id, to_micros(line.time), &line.level, &line.message))
                            .map_err(|e| StoreError::for_job(e, &id))?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// A job's whole log, in the order it was appended (empty for unknown jobs).
    async fn logs(&self, id: &str) -> Result<Vec<LogLine>, StoreError> {
        let rows: Vec<LogRow> = sqlx::query_as(queries::LOGS)
            .bind(id)
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(LogLine::try_from).collect()
    }

    /// Deletes final jobs that finished before `cutoff` (none if `None`),
    /// with their logs, keeping the fuel of those a day's quota may still
    /// count, and drops such kept fuel once no day counts it; returns the
    /// ids of the jobs, whose files the caller removes.
    async fn delete_final_before(
        &self,
        cutoff: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<String>, StoreError> {
        const DAY: i64 = 86_400_000_000;
        let cutoff = cutoff.map_or(i64::MIN, to_micros);
        let yesterday = now_micros() / DAY - 1;
        self.writer
            .write(move |conn| {
                savepoint(conn, |conn| {
                    conn.prepare_cached(queries::ROLL_UP_USAGE)?
                        .execute([cutoff, yesterday * DAY])?;
                    let ids = conn
                        .prepare_cached(queries::DELETE_FINAL_BEFORE)?
                        .query_map([cutoff], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    conn.prepare_cached(queries::DELETE_OLD_USAGE)?
                        .execute([yesterday])?;
                    Ok(ids)
                })
            })
            .await
    }

    /// How many jobs are in `status`.
    async fn count(&self, status: JobStatus) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(queries::COUNT)
            .bind(status.as_str())
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }
}

/// The write that stores `job` as a new row.
fn insert_op(
    job: &JobRecord,
) -> Result<impl FnOnce(&rusqlite::Connection) -> Result<(), StoreError> + Send + 'static, StoreError>
{
    let job = job.clone();
    let request = serde_json::to_string(&job.request)?;
    let results = json_text(job.results.as_ref())?;
    let error = json_text(job.error.as_ref())?;
    Ok(move |conn: &rusqlite::Connection| {
        conn.prepare_cached(queries::INSERT)?
            .execute(rusqlite::params![
                job.id,
                job.process_id,
                job.status.as_str(),
                job.message,
                job.progress.map(i64::from),
                to_micros(job.created),
                job.started.map(to_micros),
                job.finished.map(to_micros),
                to_micros(job.updated),
                i64::from(job.attempts),
                request,
                results,
                error,
                job.owner,
                job.usage.map(|u| count_to_sql(u.fuel)),
                job.usage.map(|u| count_to_sql(u.result_bytes)),
            ])
            .map_err(|e| StoreError::for_job(e, &job.id))?;
        Ok(())
    })
}
