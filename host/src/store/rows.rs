//! How jobs and log lines look as SQL rows, and how timestamps are stored.
//!
//! Timestamps are INTEGER microseconds since the Unix epoch, UTC: integers
//! order and subtract exactly in SQL, which the listing order, the datetime
//! filters and the duration filters rely on. Sub-microsecond precision is
//! dropped on the way in.

use super::StoreError;
use crate::model::{Deployment, Digest, JobRecord, JobStatus, LogLine, Usage};
use chrono::{DateTime, Utc};

/// The `jobs` columns [`JobRow`] reads; every query that returns jobs selects
/// exactly these. A macro rather than a `const` so the fixed queries can be
/// built with `concat!` at compile time.
macro_rules! job_columns {
    () => {
        "id, process_id, status, message, progress, created, \
         started, finished, updated, attempts, request, results, error, owner, \
         fuel, result_bytes"
    };
}
pub(super) use job_columns;

/// A timestamp as stored.
pub(super) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The current time as stored, so what a query writes and what a caller
/// later reads back are the same instant.
pub(super) fn now_micros() -> i64 {
    to_micros(Utc::now())
}

pub(super) fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

fn opt_from_micros(us: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    us.map(from_micros).transpose()
}

/// JSON columns are TEXT; `None` stays SQL NULL rather than the JSON `null`.
pub(super) fn json_text(v: Option<&serde_json::Value>) -> Result<Option<String>, StoreError> {
    Ok(v.map(serde_json::to_string).transpose()?)
}

fn parse_json(s: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(s.as_deref().map(serde_json::from_str).transpose()?)
}

/// One `jobs` row, as the database hands it over.
#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub(super) id: String,
    pub(super) process_id: String,
    pub(super) status: String,
    pub(super) message: Option<String>,
    pub(super) progress: Option<i64>,
    pub(super) created: i64,
    pub(super) started: Option<i64>,
    pub(super) finished: Option<i64>,
    pub(super) updated: i64,
    pub(super) attempts: i64,
    pub(super) request: String,
    pub(super) results: Option<String>,
    pub(super) error: Option<String>,
    pub(super) owner: String,
    pub(super) fuel: Option<i64>,
    pub(super) result_bytes: Option<i64>,
}

impl TryFrom<JobRow> for JobRecord {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        let status = JobStatus::parse(&r.status)
            .ok_or_else(|| StoreError::Corrupt(format!("job {}: status {:?}", r.id, r.status)))?;
        let progress = r
            .progress
            .map(|p| {
                u8::try_from(p)
                    .map_err(|_| StoreError::Corrupt(format!("job {}: progress {p}", r.id)))
            })
            .transpose()?;
        let attempts = u32::try_from(r.attempts)
            .map_err(|_| StoreError::Corrupt(format!("job {}: attempts {}", r.id, r.attempts)))?;
        let count = |n: i64| {
            u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("job {}: usage {n}", r.id)))
        };
        let usage = match r.fuel {
            Some(fuel) => Some(Usage {
                fuel: count(fuel)?,
                result_bytes: count(r.result_bytes.unwrap_or(0))?,
            }),
            None => None,
        };
        Ok(JobRecord {
            usage,
            process_id: r.process_id,
            status,
            message: r.message,
            progress,
            created: from_micros(r.created)?,
            started: opt_from_micros(r.started)?,
            finished: opt_from_micros(r.finished)?,
            updated: from_micros(r.updated)?,
            attempts,
            request: serde_json::from_str(&r.request)?,
            results: parse_json(r.results)?,
            error: parse_json(r.error)?,
            owner: r.owner,
            id: r.id,
        })
    }
}

/// Converts the rows of a query that returns jobs.
pub(super) fn records(rows: Vec<JobRow>) -> Result<Vec<JobRecord>, StoreError> {
    rows.into_iter().map(JobRecord::try_from).collect()
}

/// One `job_logs` row, without the job id and sequence number the query already knows.
#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    time: i64,
    level: String,
    message: String,
}

impl TryFrom<LogRow> for LogLine {
    type Error = StoreError;

    fn try_from(r: LogRow) -> Result<Self, StoreError> {
        Ok(LogLine {
            time: from_micros(r.time)?,
            level: r.level,
            message: r.message,
        })
    }
}

/// A usage count as stored: SQL integers are signed.
pub(super) fn count_to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One `processes` row.
#[derive(sqlx::FromRow)]
pub(super) struct ProcessRow {
    id: String,
    digest: String,
    package: String,
    created: i64,
    updated: i64,
    owner: String,
    visibility: String,
}

/// A module digest as stored.
pub(super) fn digest(text: &str) -> Result<Digest, StoreError> {
    Digest::parse(text).ok_or_else(|| StoreError::Corrupt(format!("module digest '{text}'")))
}

impl TryFrom<ProcessRow> for Deployment {
    type Error = StoreError;

    fn try_from(r: ProcessRow) -> Result<Self, StoreError> {
        Ok(Deployment {
            digest: digest(&r.digest)?,
            package: serde_json::from_str(&r.package)?,
            created: from_micros(r.created)?,
            updated: from_micros(r.updated)?,
            owner: r.owner,
            visibility: serde_json::from_str(&r.visibility)?,
            id: r.id,
        })
    }
}
