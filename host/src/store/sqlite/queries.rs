//! The fixed SQL statements of the job store.
//!
//! Every state change is one conditional statement (`... AND status = ...`),
//! so the check and the change cannot be split by another writer: SQLite
//! takes the write lock before evaluating the `WHERE`, and the condition
//! decides whether anything happens. Whoever loses a race simply sees zero
//! rows.

use crate::store::rows::job_columns;

pub(super) const INSERT: &str = concat!(
    "INSERT INTO jobs (",
    job_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
);

pub(super) const GET: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = ?1");

/// `?1` = now, `?2` = how many, `?3` = the default cap of running jobs per
/// owner (NULL: none). A queued job's turn is its place in its owner's
/// queue plus the jobs its owner already runs; turns are served lowest
/// first, so every owner gets a job before any gets a second. An owner's
/// own `max_running` (in `tenant_quotas`) wins over `?3`. The repeated
/// `status = 'accepted'` outside the subquery is what makes concurrent
/// claimers safe even if they picked the same ids.
///
/// The claim runs on the writer, so its cost is every other write's wait:
/// it must not grow with the queue. `owners` walks the owners with queued
/// jobs by seeking from one to the next in `jobs_open`, and only each
/// owner's `?2` oldest jobs are ranked, so a claim reads a few index
/// entries per owner however many jobs wait. (`finished IS NULL` lets
/// SQLite use that partial index.)
pub(super) const CLAIM_NEXT: &str = concat!(
    "UPDATE jobs SET status = 'running', started = ?1, updated = ?1, attempts = attempts + 1 ",
    "WHERE id IN (",
    "WITH RECURSIVE owners (o) AS (",
    "SELECT (SELECT MIN(owner) FROM jobs WHERE status = 'accepted' AND finished IS NULL) ",
    "UNION ALL SELECT (SELECT MIN(owner) FROM jobs ",
    "WHERE status = 'accepted' AND finished IS NULL AND owner > o) FROM owners WHERE o IS NOT NULL), ",
    "busy AS (SELECT owner, COUNT(*) AS n FROM jobs ",
    "WHERE status = 'running' AND finished IS NULL GROUP BY owner), ",
    "queued AS (SELECT j.id, j.created, ",
    "ROW_NUMBER() OVER (PARTITION BY j.owner ORDER BY j.created, j.id) + COALESCE(b.n, 0) AS turn, ",
    "COALESCE(json_extract(q.quota, '$.max_running'), ?3) AS cap ",
    "FROM owners JOIN jobs j ON j.id IN (SELECT id FROM jobs ",
    "WHERE status = 'accepted' AND finished IS NULL AND owner = owners.o ",
    "ORDER BY created, id LIMIT ?2) ",
    "LEFT JOIN busy b ON b.owner = j.owner ",
    "LEFT JOIN tenant_quotas q ON q.tenant_id = j.owner) ",
    "SELECT id FROM queued WHERE cap IS NULL OR turn <= cap ORDER BY turn, created, id LIMIT ?2) ",
    "AND status = 'accepted' ",
    "RETURNING ",
    job_columns!()
);

/// `?1` = cutoff. Logs go with their job (foreign key, cascade). A job is
/// created before it finishes, so `created` narrows the scan to old jobs
/// through `jobs_created_desc`.
pub(super) const DELETE_FINAL_BEFORE: &str = "DELETE FROM jobs \
     WHERE created < ?1 AND finished < ?1 \
     AND status IN ('successful', 'failed', 'dismissed') RETURNING id";

/// `?1` = cutoff, `?2` = the first microsecond of yesterday. Keeps the fuel
/// of the jobs [`DELETE_FINAL_BEFORE`] is about to delete while a day's
/// fuel quota may still count it.
pub(super) const ROLL_UP_USAGE: &str = "INSERT INTO usage_days (owner, day, fuel) \
     SELECT owner, created / 86400000000, SUM(fuel) FROM jobs \
     WHERE created < ?1 AND finished < ?1 AND created >= ?2 AND fuel IS NOT NULL \
     AND status IN ('successful', 'failed', 'dismissed') \
     GROUP BY owner, created / 86400000000 \
     ON CONFLICT (owner, day) DO UPDATE SET fuel = fuel + excluded.fuel";

/// `?1` = the day number of yesterday: older days no quota counts.
pub(super) const DELETE_OLD_USAGE: &str = "DELETE FROM usage_days WHERE day < ?1";

/// `?1` = now, `?2` = id.
pub(super) const CLAIM: &str = concat!(
    "UPDATE jobs SET status = 'running', started = ?1, updated = ?1, attempts = attempts + 1 ",
    "WHERE id = ?2 AND status = 'accepted' ",
    "RETURNING ",
    job_columns!()
);

/// `?1` = progress, `?2` = message or NULL to keep the last one (progress
/// ticks often come without text and should not erase it), `?3` = now,
/// `?4` = id.
pub(super) const UPDATE_PROGRESS: &str = concat!(
    "UPDATE jobs SET progress = ?1, message = COALESCE(?2, message), updated = ?3 ",
    "WHERE id = ?4 AND status = 'running'"
);

/// `?1` = final status, `?2` = message, `?3` = results, `?4` = error,
/// `?5` = now, `?6` = id, `?7` = fuel, `?8` = result bytes. The message is
/// replaced outright, so a stale progress message does not outlive the run.
pub(super) const FINISH: &str = concat!(
    "UPDATE jobs SET status = ?1, message = ?2, results = ?3, error = ?4, ",
    "progress = CASE WHEN ?1 = 'successful' THEN 100 ELSE progress END, ",
    "finished = ?5, updated = ?5, fuel = ?7, result_bytes = ?8 ",
    "WHERE id = ?6 AND status = 'running' ",
    "RETURNING ",
    job_columns!()
);

/// `?1` = fuel, `?2` = result bytes, `?3` = id: what a run used, recorded
/// after its job was dismissed under it.
pub(super) const SET_USAGE: &str = "UPDATE jobs SET fuel = ?1, result_bytes = ?2 WHERE id = ?3";

/// `?1` = now, `?2` = id. `finished` keeps its value for jobs that had
/// already ended, so their duration stays what it was.
pub(super) const DISMISS: &str = concat!(
    "UPDATE jobs SET status = 'dismissed', message = 'dismissed by client', results = NULL, ",
    "finished = COALESCE(finished, ?1), updated = ?1 ",
    "WHERE id = ?2 AND status <> 'dismissed' ",
    "RETURNING ",
    job_columns!()
);

/// `?1` = now, `?2` = max attempts. `started` and `progress` are cleared: a
/// queued job has not started, and the next run begins from scratch, so the
/// old values would only mislead (and would give a queued job a duration).
pub(super) const RESUME_INTERRUPTED: &str = concat!(
    "UPDATE jobs SET status = 'accepted', message = 'resumed after a server restart', ",
    "progress = NULL, started = NULL, updated = ?1 ",
    "WHERE status = 'running' AND finished IS NULL AND attempts < ?2"
);

/// `?1` = error JSON, `?2` = now. Runs after [`RESUME_INTERRUPTED`], so
/// every job still running has used up its attempts.
pub(super) const FAIL_INTERRUPTED: &str = concat!(
    "UPDATE jobs SET status = 'failed', message = 'interrupted by a server restart', ",
    "error = ?1, finished = ?2, updated = ?2 ",
    "WHERE status = 'running' AND finished IS NULL"
);

/// `?1` = job id, `?2` = time, `?3` = level, `?4` = message. The sequence
/// number is computed in the same statement, so the transaction's first
/// statement is a write: a deferred transaction that read first could fail
/// with SQLITE_BUSY_SNAPSHOT when another writer commits in between, which
/// the busy timeout does not retry.
pub(super) const APPEND_LOG: &str = concat!(
    "INSERT INTO job_logs (job_id, seq, time, level, message) ",
    "SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM job_logs WHERE job_id = ?1"
);

pub(super) const LOGS: &str =
    "SELECT time, level, message FROM job_logs WHERE job_id = ?1 ORDER BY seq";

pub(super) const COUNT: &str = "SELECT COUNT(*) FROM jobs WHERE status = ?1";
