//! The shared store: PostgreSQL, for several wades nodes.
//!
//! Same tables and same contract as the SQLite store, plus leases: a node
//! that claims a job holds it under a random token until a deadline on the
//! database's clock, renews it by heartbeat, and writes the job's progress
//! and end only under that token. A job whose lease expires (its node died
//! or lost the database) is rescued by whichever node sees it first, once.
//! The tokens stay inside this module, so the job service is the same on
//! both stores. See docs/scaling.md for the protocol.

mod lease;
mod processes;
pub(in crate::store) mod queries;
mod quotas;
mod tenants;

use super::backend::{Claimed, Done, JobTable, StoreEvent};
use super::list;
use super::rows::{count_to_sql, json_text, now_micros, records, to_micros, JobRow, LogRow};
use super::StoreError;
use crate::model::{JobFilter, JobRecord, JobStatus, LogLine, Usage};
use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How a node takes part in the shared store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// This node's name in `lease_owner`; unique per process.
    pub node: String,
    /// How long a claimed job stays this node's without a heartbeat. Nodes
    /// renew every third of it; a dead node's jobs run again after it.
    pub lease: Duration,
    /// Connections to the database.
    pub max_connections: u32,
    /// A clock the lease statements use instead of the database's, in µs
    /// since the epoch: for tests that move time (`None`: the database's).
    pub clock: Option<Arc<AtomicI64>>,
    /// Whether this node renews its leases and rescues expired ones by
    /// itself; tests of the lease races drive both by hand.
    pub background: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            node: format!("node-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            max_connections: 16,
            clock: None,
            background: true,
        }
    }
}

/// The PostgreSQL store. Cheap to clone; clones share the pool and leases.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    shared: Arc<Shared>,
}

/// What every clone of one node's store shares.
#[derive(Debug)]
struct Shared {
    options: PgOptions,
    /// Lease tokens of the jobs this node runs, by job id.
    leases: Mutex<HashMap<String, i64>>,
    /// Attempts before a rescued job fails; 0 until the job service has
    /// started, and rescue with it.
    max_attempts: AtomicU32,
    events: broadcast::Sender<StoreEvent>,
    /// Stops the heartbeat and the listener.
    stop: CancellationToken,
}

impl PgStore {
    /// Connects to the database at `url`, brings its schema up to date (one
    /// node at a time: the migrator holds an advisory lock), and starts
    /// listening to the other nodes and, with `options.background`,
    /// renewing this node's leases.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let (events, _) = broadcast::channel(1024);
        let background = options.background;
        let store = PgStore {
            pool,
            shared: Arc::new(Shared {
                options,
                leases: Mutex::new(HashMap::new()),
                max_attempts: AtomicU32::new(0),
                events,
                stop: CancellationToken::new(),
            }),
        };
        lease::listen(store.clone()).await?;
        if background {
            tokio::spawn(lease::keep(store.clone()));
        }
        Ok(store)
    }

    /// This node's name in `lease_owner`.
    pub fn node(&self) -> &str {
        &self.shared.options.node
    }

    /// The injected clock, if any.
    fn clock(&self) -> Option<i64> {
        self.shared
            .options
            .clock
            .as_ref()
            .map(|c| c.load(Ordering::SeqCst))
    }

    fn lease_micros(&self) -> i64 {
        i64::try_from(self.shared.options.lease.as_micros()).unwrap_or(i64::MAX)
    }

    /// The token under which this node runs job `id`, if it does.
    fn token(&self, id: &str) -> Option<i64> {
        self.shared.leases.lock().expect("leases").get(id).copied()
    }

    fn hold(&self, jobs: &[(String, i64)]) {
        let mut leases = self.shared.leases.lock().expect("leases");
        for (id, token) in jobs {
            leases.insert(id.clone(), *token);
        }
    }

    fn release(&self, id: &str) {
        self.shared.leases.lock().expect("leases").remove(id);
    }

    /// Ends or renews leases by hand: renews this node's leases now, then
    /// rescues expired ones. What the background task does every third of a
    /// lease; for tests that drive the protocol step by step.
    pub async fn tick(&self) -> Result<(u64, u64), StoreError> {
        lease::heartbeat(self).await?;
        match self.shared.max_attempts.load(Ordering::Acquire) {
            0 => Ok((0, 0)),
            max => lease::rescue(self, max).await,
        }
    }

    /// The pool: for the stores that keep their tables in the same
    /// database (billing), and tests that interleave statements by hand.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        let request = serde_json::to_string(&job.request)?;
        let (results, error) = (
            json_text(job.results.as_ref())?,
            json_text(job.error.as_ref())?,
        );
        let queued = job.status == JobStatus::Accepted;
        let token = (job.status == JobStatus::Running).then(random_token);
        let sql = if queued {
            queries::INSERT_QUEUED
        } else {
            queries::INSERT
        };
        let mut q = sqlx::query(sql)
            .bind(&job.id)
            .bind(&job.process_id)
            .bind(job.status.as_str())
            .bind(&job.message)
            .bind(job.progress.map(i64::from))
            .bind(to_micros(job.created))
            .bind(job.started.map(to_micros))
            .bind(job.finished.map(to_micros))
            .bind(to_micros(job.updated))
            .bind(i64::from(job.attempts))
            .bind(request)
            .bind(results)
            .bind(error)
            .bind(&job.owner)
            .bind(job.usage.map(|u| count_to_sql(u.fuel)))
            .bind(job.usage.map(|u| count_to_sql(u.result_bytes)));
        if !queued {
            q = q
                .bind(token.map(|_| self.node().to_string()))
                .bind(token)
                .bind(self.clock())
                .bind(token.map(|_| self.lease_micros()));
        }
        // Held before the row exists, so a heartbeat cannot miss it.
        if let Some(token) = token {
            self.hold(&[(job.id.clone(), token)]);
        }
        match q.execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if token.is_some() {
                    self.release(&job.id);
                }
                Err(StoreError::for_pg_job(e, &job.id))
            }
        }
    }

    async fn claim_leased(
        &self,
        sql: &str,
        bind: impl FnOnce(
            sqlx::query::QueryAs<'_, sqlx::Postgres, Leased, sqlx::postgres::PgArguments>,
        ) -> sqlx::query::QueryAs<
            '_,
            sqlx::Postgres,
            Leased,
            sqlx::postgres::PgArguments,
        >,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let rows: Vec<Leased> = bind(sqlx::query_as(sql)).fetch_all(&self.pool).await?;
        let held: Vec<(String, i64)> = rows
            .iter()
            .map(|r| (r.job.id.clone(), r.lease_token))
            .collect();
        self.hold(&held);
        let mut jobs = records(rows.into_iter().map(|r| r.job).collect())?;
        jobs.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(jobs)
    }
}

/// A claimed job's row with the token of its new lease.
#[derive(sqlx::FromRow)]
struct Leased {
    #[sqlx(flatten)]
    job: JobRow,
    lease_token: i64,
}

/// A token for a lease this node takes outside a claim (a sync job).
fn random_token() -> i64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64
}

#[async_trait]
impl JobTable for PgStore {
    async fn insert(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.insert_job(job).await
    }

    fn insert_then(&self, job: &JobRecord, done: Done) -> Result<(), StoreError> {
        let (store, job) = (self.clone(), job.clone());
        tokio::spawn(async move { done(store.insert_job(&job).await) });
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row: Option<JobRow> = sqlx::query_as(queries::GET)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(JobRecord::try_from).transpose()
    }

    async fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, bool), StoreError> {
        let rows: Vec<JobRow> = list::query::<sqlx::Postgres>(filter, now_micros())
            .build_query_as()
            .fetch_all(&self.pool)
            .await?;
        let mut jobs = records(rows)?;
        let more = jobs.len() > filter.limit as usize;
        jobs.truncate(filter.limit as usize);
        Ok((jobs, more))
    }

    async fn claim_batch(
        &self,
        limit: usize,
        max_running: Option<u64>,
        claimed: Claimed,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cap = max_running.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
        let (node, clock, lease) = (self.node().to_string(), self.clock(), self.lease_micros());
        let jobs = self
            .claim_leased(queries::CLAIM_NEXT, |q| {
                q.bind(now_micros())
                    .bind(limit)
                    .bind(cap)
                    .bind(node)
                    .bind(clock)
                    .bind(lease)
            })
            .await?;
        claimed(&jobs);
        Ok(jobs)
    }

    async fn claim(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let (node, clock, lease) = (self.node().to_string(), self.clock(), self.lease_micros());
        let id = id.to_string();
        Ok(self
            .claim_leased(queries::CLAIM, |q| {
                q.bind(now_micros())
                    .bind(id)
                    .bind(node)
                    .bind(clock)
                    .bind(lease)
            })
            .await?
            .pop())
    }

    async fn update_progress(
        &self,
        id: &str,
        progress: u8,
        message: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(token) = self.token(id) else {
            return Ok(false);
        };
        let done = sqlx::query(queries::UPDATE_PROGRESS)
            .bind(i64::from(progress.min(100)))
            .bind(message)
            .bind(now_micros())
            .bind(id)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

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
        let Some(token) = self.token(id) else {
            return Ok(None);
        };
        let row: Option<JobRow> = sqlx::query_as(queries::FINISH)
            .bind(status.as_str())
            .bind(message)
            .bind(json_text(results)?)
            .bind(json_text(error)?)
            .bind(now_micros())
            .bind(id)
            .bind(count_to_sql(usage.fuel))
            .bind(count_to_sql(usage.result_bytes))
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        // Won or lost, this run is over: nothing more to renew.
        self.release(id);
        row.map(JobRecord::try_from).transpose()
    }

    async fn set_usage(&self, id: &str, usage: Usage) -> Result<(), StoreError> {
        sqlx::query(queries::SET_USAGE)
            .bind(count_to_sql(usage.fuel))
            .bind(count_to_sql(usage.result_bytes))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn dismiss(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<JobRow> = sqlx::query_as(queries::DISMISS)
            .bind(now_micros())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if row.is_some() {
            // Delivered at commit, to every node: the one running the job
            // stops it.
            sqlx::query("SELECT pg_notify('wades_dismiss', $1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        match row {
            Some(row) => Ok(Some(JobRecord::try_from(row)?)),
            // Unknown, or already dismissed (which is final).
            None => self.get(id).await,
        }
    }

    async fn recover_interrupted(&self, max_attempts: u32) -> Result<(u64, u64), StoreError> {
        self.shared
            .max_attempts
            .store(max_attempts.max(1), Ordering::Release);
        lease::rescue(self, max_attempts).await
    }

    async fn append_logs(&self, id: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let times: Vec<i64> = lines.iter().map(|l| to_micros(l.time)).collect();
        let levels: Vec<&str> = lines.iter().map(|l| l.level.as_str()).collect();
        let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        // Two appends to one log at once would pick the same numbers; the
        // loser's statement fails whole, and takes the next numbers.
        let mut tries = 0;
        loop {
            let done = sqlx::query(queries::APPEND_LOGS)
                .bind(id)
                .bind(&times)
                .bind(&levels)
                .bind(&messages)
                .execute(&self.pool)
                .await;
            match done.map_err(|e| StoreError::for_pg_job(e, id)) {
                Err(StoreError::DuplicateJob(_)) if tries < 5 => tries += 1,
                Err(e) => return Err(e),
                Ok(_) => return Ok(()),
            }
        }
    }

    async fn logs(&self, id: &str) -> Result<Vec<LogLine>, StoreError> {
        let rows: Vec<LogRow> = sqlx::query_as(queries::LOGS)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(LogLine::try_from).collect()
    }

    async fn delete_final_before(
        &self,
        cutoff: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<String>, StoreError> {
        const DAY: i64 = 86_400_000_000;
        let cutoff = cutoff.map_or(i64::MIN, to_micros);
        let yesterday = now_micros() / DAY - 1;
        let mut tx = self.pool.begin().await?;
        sqlx::query(queries::ROLL_UP_USAGE)
            .bind(cutoff)
            .bind(yesterday * DAY)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<String> = sqlx::query_scalar(queries::DELETE_FINAL_BEFORE)
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query(queries::DELETE_OLD_USAGE)
            .bind(yesterday)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn count(&self, status: JobStatus) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(queries::COUNT)
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    fn events(&self) -> Option<broadcast::Receiver<StoreEvent>> {
        Some(self.shared.events.subscribe())
    }

    async fn close(&self) {
        self.shared.stop.cancel();
        self.pool.close().await;
    }
}
