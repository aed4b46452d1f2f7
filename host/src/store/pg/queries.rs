//! The fixed SQL statements of the PostgreSQL store.
//!
//! As on SQLite, every state change is one conditional statement; on
//! PostgreSQL an `UPDATE` re-checks its `WHERE` on the row it has locked, so
//! of two statements racing for one row, the second sees the first's result
//! and changes nothing if the condition no longer holds.
//!
//! Lease times use the database's clock, `wades_now()`, unless a test
//! injects one: `COALESCE($clock, wades_now())`.

use crate::store::rows::job_columns;

pub(super) const INSERT: &str = concat!(
    "INSERT INTO jobs (",
    job_columns!(),
    ", lease_owner, lease_token, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ",
    "$11, $12, $13, $14, $15, $16, $17, $18, COALESCE($19, wades_now()) + $20)"
);

/// Queued jobs wake every node's dispatcher, at commit.
pub(super) const INSERT_QUEUED: &str = concat!(
    "WITH ins AS (INSERT INTO jobs (",
    job_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id) ",
    "SELECT pg_notify('wades_queue', '') FROM ins"
);

pub(super) const GET: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");

/// `$1` = now, `$2` = how many, `$3` = the default cap of running jobs per
/// owner (NULL: none), `$4` = this node, `$5` = clock, `$6` = lease in µs.
///
/// The fair order is SQLite's (see its `CLAIM_NEXT`): a queued job's turn
/// is its place in its owner's queue plus the jobs its owner already runs.
/// The candidates are then locked `FOR UPDATE SKIP LOCKED`, so nodes
/// claiming at the same time take different jobs instead of waiting for
/// each other; a node that finds its candidates taken gets fewer jobs and
/// claims again. Concurrent claims see each other's running counts only
/// once committed, so an owner's cap can be passed by what several nodes
/// claim in the same instant.
pub(super) const CLAIM_NEXT: &str = concat!(
    "WITH RECURSIVE owners (o) AS (",
    "SELECT (SELECT MIN(owner) FROM jobs WHERE status = 'accepted' AND finished IS NULL) ",
    "UNION ALL SELECT (SELECT MIN(owner) FROM jobs ",
    "WHERE status = 'accepted' AND finished IS NULL AND owner > o) FROM owners WHERE o IS NOT NULL), ",
    "busy AS (SELECT owner, COUNT(*) AS n FROM jobs ",
    "WHERE status = 'running' AND finished IS NULL GROUP BY owner), ",
    "queued AS (SELECT j.id, j.created, ",
    "ROW_NUMBER() OVER (PARTITION BY j.owner ORDER BY j.created, j.id) + COALESCE(b.n, 0) AS turn, ",
    "COALESCE((q.quota::jsonb ->> 'max_running')::bigint, $3) AS cap ",
    "FROM owners CROSS JOIN LATERAL (SELECT id, owner, created FROM jobs ",
    "WHERE status = 'accepted' AND finished IS NULL AND owner = owners.o ",
    "ORDER BY created, id LIMIT $2) j ",
    "LEFT JOIN busy b ON b.owner = j.owner ",
    "LEFT JOIN tenant_quotas q ON q.tenant_id = j.owner), ",
    "picked AS (SELECT id FROM queued WHERE cap IS NULL OR turn <= cap ",
    "ORDER BY turn, created, id LIMIT $2), ",
    "locked AS (SELECT id AS lid FROM jobs WHERE id IN (SELECT id FROM picked) ",
    "AND status = 'accepted' FOR UPDATE SKIP LOCKED) ",
    "UPDATE jobs SET status = 'running', started = $1, updated = $1, attempts = attempts + 1, ",
    "lease_owner = $4, lease_token = (random() * 9.2e18)::bigint, ",
    "lease_until = COALESCE($5, wades_now()) + $6 ",
    "FROM locked WHERE jobs.id = locked.lid AND jobs.status = 'accepted' ",
    "RETURNING ",
    job_columns!(),
    ", lease_token"
);

/// `$1` = now, `$2` = id, `$3` = node, `$4` = clock, `$5` = lease in µs.
pub(super) const CLAIM: &str = concat!(
    "UPDATE jobs SET status = 'running', started = $1, updated = $1, attempts = attempts + 1, ",
    "lease_owner = $3, lease_token = (random() * 9.2e18)::bigint, ",
    "lease_until = COALESCE($4, wades_now()) + $5 ",
    "WHERE id = $2 AND status = 'accepted' ",
    "RETURNING ",
    job_columns!(),
    ", lease_token"
);

/// `$1` = progress, `$2` = message or NULL to keep the last one, `$3` =
/// now, `$4` = id, `$5` = the lease token of this run.
pub(super) const UPDATE_PROGRESS: &str = concat!(
    "UPDATE jobs SET progress = $1, message = COALESCE($2, message), updated = $3 ",
    "WHERE id = $4 AND status = 'running' AND lease_token = $5"
);

/// `$1` = final status, `$2` = message, `$3` = results, `$4` = error,
/// `$5` = now, `$6` = id, `$7` = fuel, `$8` = result bytes, `$9` = the lease
/// token of this run: a worker whose job was rescued (and so re-leased
/// under another token) or dismissed changes nothing.
pub(super) const FINISH: &str = concat!(
    "UPDATE jobs SET status = $1, message = $2, results = $3, error = $4, ",
    "progress = CASE WHEN $1 = 'successful' THEN 100 ELSE progress END, ",
    "finished = $5, updated = $5, fuel = $7, result_bytes = $8, ",
    "lease_owner = NULL, lease_token = NULL, lease_until = NULL ",
    "WHERE id = $6 AND status = 'running' AND lease_token = $9 ",
    "RETURNING ",
    job_columns!()
);

/// `$1` = fuel, `$2` = result bytes, `$3` = id.
pub(super) const SET_USAGE: &str = "UPDATE jobs SET fuel = $1, result_bytes = $2 WHERE id = $3";

/// `$1` = now, `$2` = id. The lease goes: nobody may write the run's end.
pub(super) const DISMISS: &str = concat!(
    "UPDATE jobs SET status = 'dismissed', message = 'dismissed by client', results = NULL, ",
    "finished = COALESCE(finished, $1), updated = $1, ",
    "lease_owner = NULL, lease_token = NULL, lease_until = NULL ",
    "WHERE id = $2 AND status <> 'dismissed' ",
    "RETURNING ",
    job_columns!()
);

/// `$1` = this node, `$2` = clock, `$3` = lease in µs. Renews every lease
/// the node holds, and says which, so the node learns of those it lost.
pub(super) const HEARTBEAT: &str = "UPDATE jobs SET lease_until = COALESCE($2, wades_now()) + $3 \
     WHERE lease_owner = $1 AND status = 'running' AND finished IS NULL \
     RETURNING id, lease_token";

/// `$1` = now, `$2` = max attempts, `$3` = clock. One statement: of several
/// rescuers, and of a rescuer and the job's own worker finishing, the first
/// to lock the row wins and the others change nothing.
pub(in crate::store) const RESCUE: &str = concat!(
    "UPDATE jobs SET status = 'accepted', message = 'resumed after a server restart', ",
    "progress = NULL, started = NULL, updated = $1, ",
    "lease_owner = NULL, lease_token = NULL, lease_until = NULL ",
    "WHERE status = 'running' AND finished IS NULL ",
    "AND COALESCE(lease_until, 0) < COALESCE($3, wades_now()) AND attempts < $2"
);

/// `$1` = error JSON, `$2` = now, `$3` = clock. Runs after [`RESCUE`] in
/// the same transaction, so every expired job left has used its attempts.
pub(super) const FAIL_EXPIRED: &str = concat!(
    "UPDATE jobs SET status = 'failed', message = 'interrupted by a server restart', ",
    "error = $1, finished = $2, updated = $2, ",
    "lease_owner = NULL, lease_token = NULL, lease_until = NULL ",
    "WHERE status = 'running' AND finished IS NULL ",
    "AND COALESCE(lease_until, 0) < COALESCE($3, wades_now())"
);

/// `$1` = job id, `$2` = times, `$3` = levels, `$4` = messages: all the
/// lines in one statement, numbered after the last.
pub(super) const APPEND_LOGS: &str = "INSERT INTO job_logs (job_id, seq, time, level, message) \
     SELECT $1, base.m + t.ord, t.time, t.level, t.message \
     FROM (SELECT COALESCE(MAX(seq), 0) AS m FROM job_logs WHERE job_id = $1) base, \
     UNNEST($2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS t (time, level, message, ord)";

pub(super) const LOGS: &str =
    "SELECT time, level, message FROM job_logs WHERE job_id = $1 ORDER BY seq";

/// `$1` = cutoff.
pub(super) const DELETE_FINAL_BEFORE: &str = "DELETE FROM jobs \
     WHERE created < $1 AND finished < $1 \
     AND status IN ('successful', 'failed', 'dismissed') RETURNING id";

/// `$1` = cutoff, `$2` = the first microsecond of yesterday.
pub(super) const ROLL_UP_USAGE: &str = "INSERT INTO usage_days (owner, day, fuel) \
     SELECT owner, created / 86400000000, SUM(fuel) FROM jobs \
     WHERE created < $1 AND finished < $1 AND created >= $2 AND fuel IS NOT NULL \
     AND status IN ('successful', 'failed', 'dismissed') \
     GROUP BY owner, created / 86400000000 \
     ON CONFLICT (owner, day) DO UPDATE SET fuel = usage_days.fuel + excluded.fuel";

/// `$1` = the day number of yesterday.
pub(super) const DELETE_OLD_USAGE: &str = "DELETE FROM usage_days WHERE day < $1";

pub(super) const COUNT: &str = "SELECT COUNT(*) FROM jobs WHERE status = $1";
