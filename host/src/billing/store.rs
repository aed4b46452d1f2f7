//! Where billing keeps quotations, bills and execution history: a small
//! trait of its own, so that each database backend implements it beside
//! its job store ([`super::sqlite`] for the embedded one).

use super::estimate::Sample;
use super::records::{Bill, Quotation, Total};
use crate::error::Result;
use crate::model::Digest;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// Which page of a list, and whose.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Only this tenant's; `None`: everyone's (admins).
    pub owner: Option<String>,
    /// Only this process's.
    pub process_id: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip, newest first.
    pub offset: u32,
}

/// Why a quotation could not be claimed for execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRefused {
    /// No quotation has this id.
    Unknown,
    /// It expired.
    Expired,
    /// It was executed already.
    Executed,
}

/// The persistence billing needs.
pub trait BillingStore: Send + Sync {
    /// Stores a new quotation.
    fn insert_quotation<'a>(&'a self, q: &'a Quotation) -> BoxFuture<'a, Result<()>>;

    /// The quotation with this id.
    fn quotation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Quotation>>>;

    /// A page of quotations, newest first, and whether more follow.
    fn quotations<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Quotation>, bool)>>;

    /// Marks quotation `id` executed at `now` if it is still valid then.
    /// Of two racing executions, one wins.
    fn claim<'a>(
        &'a self,
        id: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<std::result::Result<(), ClaimRefused>>>;

    /// Makes a claimed quotation valid again: its job could not be started.
    fn release<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Records the job that executes quotation `id`.
    fn attach_job<'a>(&'a self, id: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Stores a bill (replacing none: a job is billed once).
    fn insert_bill<'a>(&'a self, bill: &'a Bill) -> BoxFuture<'a, Result<()>>;

    /// The bill with this id.
    fn bill<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Bill>>>;

    /// A page of bills, newest first, and whether more follow.
    fn bills<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Bill>, bool)>>;

    /// What the bills of each tenant (or of `owner` only) add up to.
    fn totals<'a>(&'a self, owner: Option<&'a str>) -> BoxFuture<'a, Result<Vec<Total>>>;

    /// Remembers a run of component `digest`.
    fn add_sample<'a>(&'a self, digest: &'a Digest, sample: Sample) -> BoxFuture<'a, Result<()>>;

    /// The latest `limit` remembered runs of component `digest`.
    fn samples<'a>(&'a self, digest: &'a Digest, limit: u32) -> BoxFuture<'a, Result<Vec<Sample>>>;
}
