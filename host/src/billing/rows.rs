//! Billing's rows as both databases store them: the same columns (times
//! in microseconds, documents as JSON text), so SQLite and PostgreSQL
//! share one decoding.

use super::estimate::Sample;
use super::records::{Bill, Quotation, Total};
use crate::error::{Error, Result};
use crate::model::JobStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A store failure, as billing reports it.
pub(super) fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("billing store: {e}"))
}

/// A time as stored.
/// One page of records from rows fetched with `LIMIT limit + 1`: the extra
/// row only tells that there are more.
pub(super) fn page_of<R, T>(
    rows: Vec<R>,
    limit: u32,
    record: impl Fn(R) -> Result<T>,
) -> Result<(Vec<T>, bool)> {
    let mut list = rows.into_iter().map(record).collect::<Result<Vec<_>>>()?;
    let more = list.len() > limit as usize;
    list.truncate(limit as usize);
    Ok((list, more))
}

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| internal(format!("bad time {micros}")))
}

/// A count as stored (both databases have signed 64-bit integers only).
pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The members of a bill kept as JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct BillDocument {
    job_status: JobStatus,
    consumption: super::Consumption,
    charges: super::Charges,
    currency: String,
    quoted_price: f64,
    max_price: f64,
}

impl BillDocument {
    /// `bill`'s document, as JSON text.
    pub(super) fn of(b: &Bill) -> Result<String> {
        serde_json::to_string(&BillDocument {
            job_status: b.job_status,
            consumption: b.consumption,
            charges: b.charges,
            currency: b.currency.clone(),
            quoted_price: b.quoted_price,
            max_price: b.max_price,
        })
        .map_err(internal)
    }
}

/// A row of `quotations`.
#[derive(sqlx::FromRow)]
pub(super) struct QuotationRow {
    id: String,
    process_id: String,
    owner: String,
    created: i64,
    expires: i64,
    executed: Option<i64>,
    job_id: Option<String>,
    request: String,
    quote: String,
}

impl QuotationRow {
    /// The quotation it holds.
    pub(super) fn record(self) -> Result<Quotation> {
        Ok(Quotation {
            id: self.id,
            process_id: self.process_id,
            owner: self.owner,
            created: time(self.created)?,
            expires: time(self.expires)?,
            executed: self.executed.map(time).transpose()?,
            job_id: self.job_id,
            request: serde_json::from_str(&self.request).map_err(internal)?,
            quote: serde_json::from_str(&self.quote).map_err(internal)?,
        })
    }
}

/// A row of `bills`.
#[derive(sqlx::FromRow)]
pub(super) struct BillRow {
    id: String,
    job_id: String,
    process_id: String,
    owner: String,
    created: i64,
    amount: f64,
    document: String,
}

impl BillRow {
    /// The bill it holds.
    pub(super) fn record(self) -> Result<Bill> {
        let d: BillDocument = serde_json::from_str(&self.document).map_err(internal)?;
        Ok(Bill {
            id: self.id,
            job_id: self.job_id,
            process_id: self.process_id,
            owner: self.owner,
            created: time(self.created)?,
            amount: self.amount,
            job_status: d.job_status,
            consumption: d.consumption,
            charges: d.charges,
            currency: d.currency,
            quoted_price: d.quoted_price,
            max_price: d.max_price,
        })
    }
}

/// A row of the totals query: `owner`, `n`, `amount`, `fuel`.
#[derive(sqlx::FromRow)]
pub(super) struct TotalRow {
    owner: String,
    n: i64,
    amount: f64,
    fuel: i64,
}

impl From<TotalRow> for Total {
    fn from(r: TotalRow) -> Total {
        Total {
            owner: r.owner,
            bills: r.n.max(0) as u64,
            amount: r.amount,
            fuel: r.fuel.max(0) as u64,
        }
    }
}

/// A row of `billing_samples`, without its key.
#[derive(sqlx::FromRow)]
pub(super) struct SampleRow {
    input_bytes: i64,
    fuel: i64,
    memory_peak: i64,
    wall_micros: i64,
    stored_bytes: i64,
}

impl From<SampleRow> for Sample {
    fn from(r: SampleRow) -> Sample {
        let n = |v: i64| v.max(0) as u64;
        Sample {
            input_bytes: n(r.input_bytes),
            fuel: n(r.fuel),
            memory_peak: n(r.memory_peak),
            wall_micros: n(r.wall_micros),
            stored_bytes: n(r.stored_bytes),
        }
    }
}
