//! What a database must do to hold wades' state: four tables' worth of
//! operations, each a trait, implemented by [`super::sqlite::SqliteStore`]
//! (one node, embedded) and [`super::pg::PgStore`] (several nodes).
//!
//! The contract is the one the SQLite store has always had: every state
//! change is a single conditional statement, so the database decides who
//! wins a race and the loser sees nothing change. The store tests run
//! against both implementations.

use super::StoreError;
use crate::model::{Deployment, Digest, JobFilter, JobRecord, JobStatus, LogLine, Principal, Role};
use crate::model::{Usage, Visibility};
use crate::tenancy::quota::Quota;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

/// Told once a write is durable (or has failed).
pub type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Sees the jobs of a claim as soon as it is durable, before the claimer
/// gets them back: the job service publishes their cancel handles there.
pub type Claimed = Box<dyn FnOnce(&Vec<JobRecord>) + Send>;

/// Something another node did that this node must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// Jobs were queued (or put back in the queue): idle workers look again.
    Queued,
    /// The job was dismissed: the node running it stops it.
    Dismissed(String),
    /// This node no longer holds the job's lease (it expired and another
    /// node rescued it): the node stops it, as its result would be dropped.
    LeaseLost(String),
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's public id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// Whether it has been revoked.
    pub revoked: bool,
}

/// Jobs and their logs: the queue.
#[async_trait]
pub trait JobTable: Send + Sync + std::fmt::Debug {
    /// Stores a new job. Fails with [`StoreError::DuplicateJob`] if the id is taken.
    async fn insert(&self, job: &JobRecord) -> Result<(), StoreError>;

    /// Like [`insert`](Self::insert), but returns once the write is queued;
    /// `done` gets the outcome once it is durable. It must be quick and must
    /// not block.
    fn insert_then(&self, job: &JobRecord, done: Done) -> Result<(), StoreError>;

    /// The job with this id, if any.
    async fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// One page of the jobs matching every field of `filter`, newest first
    /// (by `created`, then by id so pages are stable), and whether more jobs
    /// match beyond this page.
    ///
    /// A job's duration is `finished - started`, or `now - started` while it
    /// has not finished; jobs that never started have none and never match
    /// a duration bound.
    async fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, bool), StoreError>;

    /// Takes up to `limit` `accepted` jobs and marks them `running`
    /// (`started` and `updated` now, `attempts` one more), taken fairly
    /// across owners: each owner's queued jobs line up oldest first behind
    /// the jobs it already runs, and the turns are served in order (oldest
    /// first among equal turns), so one owner's long queue cannot starve
    /// another's. An owner never gets more running jobs than its own
    /// `max_running` quota, or `max_running` when it has none (`None`:
    /// unlimited). Concurrent callers never get the same job. The jobs come
    /// back oldest first; `claimed` sees them as soon as the claim is
    /// durable.
    async fn claim_batch(
        &self,
        limit: usize,
        max_running: Option<u64>,
        claimed: Claimed,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// Claims one given job: `None` unless it exists and is still `accepted`.
    async fn claim(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// Records progress (capped at 100) of a `running` job; a `None` message
    /// keeps the previous one. Returns whether the job was running (and, on
    /// a shared store, still leased by this node), so a worker can notice
    /// that its job was dismissed or taken over.
    async fn update_progress(
        &self,
        id: &str,
        progress: u8,
        message: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Ends a `running` job as `Successful` (progress becomes 100) or
    /// `Failed`, replacing its message and storing its results or error
    /// document and what it used; `finished` and `updated` become now.
    /// Returns the job as it now stands.
    ///
    /// Returns `None`, changing nothing, if the job is no longer running (a
    /// client dismissed it, and the dismissal must win) or, on a shared
    /// store, no longer leased by this node. Any other `status` is
    /// [`StoreError::NotFinishable`].
    async fn finish(
        &self,
        id: &str,
        status: JobStatus,
        message: Option<&str>,
        results: Option<&serde_json::Value>,
        error: Option<&serde_json::Value>,
        usage: Usage,
    ) -> Result<Option<JobRecord>, StoreError>;

    /// Records what the run of job `id` used, whatever its state: for a run
    /// whose job was dismissed under it, so the fuel still counts.
    async fn set_usage(&self, id: &str, usage: Usage) -> Result<(), StoreError>;

    /// Dismisses a job in any state: status `dismissed`, message
    /// "dismissed by client", results dropped, `finished` set to now unless
    /// it had already finished, `updated` now. Returns the job as it now
    /// stands (unchanged if it was already dismissed), or `None` for an
    /// unknown id. On a shared store, the node running it is told.
    async fn dismiss(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// Call at startup, before any worker runs: jobs left `running` by a
    /// node that died (on one node: by this node's last run; on a shared
    /// store: whose lease expired) go back to `accepted` if they have
    /// `attempts < max_attempts`, and become `failed` otherwise, so a job
    /// that crashes its node cannot do so forever. Returns (resumed, failed).
    /// A shared store keeps rescuing expired leases from then on.
    async fn recover_interrupted(&self, max_attempts: u32) -> Result<(u64, u64), StoreError>;

    /// Appends lines to a job's log, all or none. Fails with
    /// [`StoreError::UnknownJob`] if there is no such job.
    async fn append_logs(&self, id: &str, lines: &[LogLine]) -> Result<(), StoreError>;

    /// A job's whole log, in the order it was appended (empty for unknown jobs).
    async fn logs(&self, id: &str) -> Result<Vec<LogLine>, StoreError>;

    /// Deletes final jobs that finished before `cutoff` (none if `None`),
    /// with their logs, keeping the fuel of those a day's quota may still
    /// count, and drops such kept fuel once no day counts it; returns the
    /// ids of the jobs, whose files the caller removes.
    async fn delete_final_before(
        &self,
        cutoff: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, StoreError>;

    /// How many jobs are in `status`, on every node.
    async fn count(&self, status: JobStatus) -> Result<u64, StoreError>;

    /// What other nodes did that this one must act on; `None` for a store
    /// no other node writes to.
    fn events(&self) -> Option<broadcast::Receiver<StoreEvent>> {
        None
    }

    /// Closes the connections once every write has committed.
    async fn close(&self);
}

/// Deployed processes, pointing at their modules by digest.
#[async_trait]
pub trait ProcessTable: Send + Sync {
    /// Records a newly deployed process of `owner`, private to it, and
    /// returns it as stored. Fails with [`StoreError::DuplicateProcess`] if
    /// the id is taken.
    async fn insert_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
        owner: &str,
    ) -> Result<Deployment, StoreError>;

    /// Sets who may see deployed process `id`; `false` if there is none.
    async fn set_visibility(&self, id: &str, visibility: &Visibility) -> Result<bool, StoreError>;

    /// Points process `id` at another module and package. `None` if there
    /// is no such deployed process.
    async fn replace_process(
        &self,
        id: &str,
        module: Digest,
        package: &serde_json::Value,
    ) -> Result<Option<Deployment>, StoreError>;

    /// Forgets deployed process `id` and returns the digest of its module,
    /// or `None` if there was no such process.
    async fn delete_process(&self, id: &str) -> Result<Option<Digest>, StoreError>;

    /// Every deployed process, in id order.
    async fn deployments(&self) -> Result<Vec<Deployment>, StoreError>;

    /// Deployed process `id`, if any.
    async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError>;

    /// How many deployed processes run the module `module`.
    async fn module_uses(&self, module: Digest) -> Result<u64, StoreError>;
}

/// Tenants and their API keys (stored as hashes only).
#[async_trait]
pub trait TenantTable: Send + Sync {
    /// Adds tenant `id` with `role`. Fails with [`StoreError::Duplicate`]
    /// if it exists.
    async fn create_tenant(&self, id: &str, role: Role) -> Result<(), StoreError>;

    /// Every tenant with its role, by id.
    async fn tenants(&self) -> Result<Vec<Principal>, StoreError>;

    /// Stores key `id` of `tenant`, known by the sha256 `hash` of its
    /// secret. Fails with [`StoreError::UnknownTenant`] for a tenant that
    /// does not exist.
    async fn create_key(&self, id: &str, tenant: &str, hash: &str) -> Result<(), StoreError>;

    /// Revokes key `id`; `false` if there is no such live key.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;

    /// Every key, by tenant.
    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError>;

    /// The identity whose live key hashes to `hash`, if any.
    async fn principal_for_key(&self, hash: &str) -> Result<Option<Principal>, StoreError>;
}

/// Tenants' own quotas and what their jobs used: the numbers
/// [`crate::tenancy::quota`] checks.
#[async_trait]
pub trait UsageTable: Send + Sync {
    /// `tenant`'s own quota; `None` to go back to the server's defaults.
    async fn set_tenant_quota(&self, tenant: &str, quota: Option<&Quota>)
        -> Result<(), StoreError>;

    /// `tenant`'s own quota, if an admin set one.
    async fn tenant_quota(&self, tenant: &str) -> Result<Option<Quota>, StoreError>;

    /// How many of `tenant`'s jobs are in `status`, `accepted` or `running`.
    async fn count_owned(&self, tenant: &str, status: &str) -> Result<u64, StoreError>;

    /// Fuel burnt by `tenant`'s jobs created since `since` (and, of those
    /// retention deleted, created on `since`'s day or later).
    async fn fuel_since(&self, tenant: &str, since: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Bytes of results of `tenant`'s stored, successful jobs.
    async fn result_bytes(&self, tenant: &str) -> Result<u64, StoreError>;
}

/// A whole store: every table.
pub trait Backend: JobTable + ProcessTable + TenantTable + UsageTable {}

impl<T: JobTable + ProcessTable + TenantTable + UsageTable> Backend for T {}
