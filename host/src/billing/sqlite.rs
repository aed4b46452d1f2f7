//! [`BillingStore`] on the embedded SQLite database, beside the job store.
//!
//! Its tables come with the job store's migrations (`0010_billing.sql`).
//! It writes through a connection of its own: billing writes a few rows per
//! quoted job, far from the job store's hot path, and SQLite's busy
//! timeout serializes them with the job writer.

use super::estimate::Sample;
use super::records::{Bill, Quotation, Total};
use super::store::{BillingStore, ClaimRefused, Page};
use crate::error::{Error, Result};
use crate::model::{Digest, JobStatus};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;

/// Billing's tables in the SQLite file of the job store.
#[derive(Debug, Clone)]
pub struct SqliteBillingStore {
    pool: SqlitePool,
}

impl SqliteBillingStore {
    /// Opens the database at `path`, which the job store has opened (and
    /// migrated) first.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(internal)?;
        Ok(SqliteBillingStore { pool })
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("billing store: {e}"))
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| internal(format!("bad time {micros}")))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The members of a bill kept as JSON.
#[derive(Serialize, Deserialize)]
struct BillDocument {
    job_status: JobStatus,
    consumption: super::Consumption,
    charges: super::Charges,
    currency: String,
    quoted_price: f64,
    max_price: f64,
}

fn quotation(row: &sqlx::sqlite::SqliteRow) -> Result<Quotation> {
    let get = |e: sqlx::Error| internal(e);
    let request: String = row.try_get("request").map_err(get)?;
    let quote: String = row.try_get("quote").map_err(get)?;
    Ok(Quotation {
        id: row.try_get("id").map_err(get)?,
        process_id: row.try_get("process_id").map_err(get)?,
        owner: row.try_get("owner").map_err(get)?,
        created: time(row.try_get("created").map_err(get)?)?,
        expires: time(row.try_get("expires").map_err(get)?)?,
        executed: row
            .try_get::<Option<i64>, _>("executed")
            .map_err(get)?
            .map(time)
            .transpose()?,
        job_id: row.try_get("job_id").map_err(get)?,
        request: serde_json::from_str(&request).map_err(internal)?,
        quote: serde_json::from_str(&quote).map_err(internal)?,
    })
}

fn bill(row: &sqlx::sqlite::SqliteRow) -> Result<Bill> {
    let get = |e: sqlx::Error| internal(e);
    let document: String = row.try_get("document").map_err(get)?;
    let d: BillDocument = serde_json::from_str(&document).map_err(internal)?;
    Ok(Bill {
        id: row.try_get("id").map_err(get)?,
        job_id: row.try_get("job_id").map_err(get)?,
        process_id: row.try_get("process_id").map_err(get)?,
        owner: row.try_get("owner").map_err(get)?,
        created: time(row.try_get("created").map_err(get)?)?,
        amount: row.try_get("amount").map_err(get)?,
        job_status: d.job_status,
        consumption: d.consumption,
        charges: d.charges,
        currency: d.currency,
        quoted_price: d.quoted_price,
        max_price: d.max_price,
    })
}

/// `WHERE` for a page: owner and process, either optional.
const PAGE_FILTER: &str = "(?1 IS NULL OR owner = ?1) AND (?2 IS NULL OR process_id = ?2)";

impl BillingStore for SqliteBillingStore {
    fn insert_quotation<'a>(&'a self, q: &'a Quotation) -> BoxFuture<'a, Result<()>> {
        async move {
            let request = serde_json::to_string(&q.request).map_err(internal)?;
            let quote = serde_json::to_string(&q.quote).map_err(internal)?;
            sqlx::query(
                "INSERT INTO quotations (id, process_id, owner, created, expires, executed, job_id, request, quote) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&q.id)
            .bind(&q.process_id)
            .bind(&q.owner)
            .bind(micros(q.created))
            .bind(micros(q.expires))
            .bind(q.executed.map(micros))
            .bind(&q.job_id)
            .bind(request)
            .bind(quote)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
            Ok(())
        }
        .boxed()
    }

    fn quotation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Quotation>>> {
        async move {
            let row = sqlx::query("SELECT * FROM quotations WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
            row.as_ref().map(quotation).transpose()
        }
        .boxed()
    }

    fn quotations<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Quotation>, bool)>> {
        async move {
            let sql = format!(
                "SELECT * FROM quotations WHERE {PAGE_FILTER} \
                 ORDER BY created DESC, id LIMIT ?3 OFFSET ?4"
            );
            let rows = sqlx::query(&sql)
                .bind(&page.owner)
                .bind(&page.process_id)
                .bind(i64::from(page.limit) + 1)
                .bind(i64::from(page.offset))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
            let mut list = rows.iter().map(quotation).collect::<Result<Vec<_>>>()?;
            let more = list.len() > page.limit as usize;
            list.truncate(page.limit as usize);
            Ok((list, more))
        }
        .boxed()
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<std::result::Result<(), ClaimRefused>>> {
        async move {
            let claimed = sqlx::query(
                "UPDATE quotations SET executed = ?1 \
                 WHERE id = ?2 AND executed IS NULL AND expires > ?1",
            )
            .bind(micros(now))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
            if claimed.rows_affected() == 1 {
                return Ok(Ok(()));
            }
            // Executed and expiry never go back, so this read agrees with
            // the update that failed (but for a release in between, which
            // only a failed submission does).
            Ok(Err(match self.quotation(id).await? {
                None => ClaimRefused::Unknown,
                Some(q) if q.executed.is_some() => ClaimRefused::Executed,
                Some(_) => ClaimRefused::Expired,
            }))
        }
        .boxed()
    }

    fn release<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query("UPDATE quotations SET executed = NULL WHERE id = ? AND job_id IS NULL")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
            Ok(())
        }
        .boxed()
    }

    fn attach_job<'a>(&'a self, id: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query("UPDATE quotations SET job_id = ? WHERE id = ?")
                .bind(job_id)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
            Ok(())
        }
        .boxed()
    }

    fn insert_bill<'a>(&'a self, b: &'a Bill) -> BoxFuture<'a, Result<()>> {
        async move {
            let document = serde_json::to_string(&BillDocument {
                job_status: b.job_status,
                consumption: b.consumption,
                charges: b.charges,
                currency: b.currency.clone(),
                quoted_price: b.quoted_price,
                max_price: b.max_price,
            })
            .map_err(internal)?;
            sqlx::query(
                "INSERT INTO bills (id, job_id, process_id, owner, created, amount, fuel, document) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&b.id)
            .bind(&b.job_id)
            .bind(&b.process_id)
            .bind(&b.owner)
            .bind(micros(b.created))
            .bind(b.amount)
            .bind(count(b.consumption.fuel))
            .bind(document)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
            Ok(())
        }
        .boxed()
    }

    fn bill<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Bill>>> {
        async move {
            let row = sqlx::query("SELECT * FROM bills WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
            row.as_ref().map(bill).transpose()
        }
        .boxed()
    }

    fn bills<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Bill>, bool)>> {
        async move {
            let sql = format!(
                "SELECT * FROM bills WHERE {PAGE_FILTER} \
                 ORDER BY created DESC, id LIMIT ?3 OFFSET ?4"
            );
            let rows = sqlx::query(&sql)
                .bind(&page.owner)
                .bind(&page.process_id)
                .bind(i64::from(page.limit) + 1)
                .bind(i64::from(page.offset))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
            let mut list = rows.iter().map(bill).collect::<Result<Vec<_>>>()?;
            let more = list.len() > page.limit as usize;
            list.truncate(page.limit as usize);
            Ok((list, more))
        }
        .boxed()
    }

    fn totals<'a>(&'a self, owner: Option<&'a str>) -> BoxFuture<'a, Result<Vec<Total>>> {
        async move {
            let rows = sqlx::query(
                "SELECT owner, COUNT(*) AS n, TOTAL(amount) AS amount, SUM(fuel) AS fuel \
                 FROM bills WHERE ?1 IS NULL OR owner = ?1 GROUP BY owner ORDER BY owner",
            )
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
            rows.iter()
                .map(|r| {
                    Ok(Total {
                        owner: r.try_get("owner").map_err(internal)?,
                        bills: r.try_get::<i64, _>("n").map_err(internal)? as u64,
                        amount: r.try_get("amount").map_err(internal)?,
                        fuel: r.try_get::<i64, _>("fuel").map_err(internal)? as u64,
                    })
                })
                .collect()
        }
        .boxed()
    }

    fn add_sample<'a>(&'a self, digest: &'a Digest, s: Sample) -> BoxFuture<'a, Result<()>> {
        async move {
            sqlx::query(
                "INSERT INTO billing_samples \
                 (digest, created, input_bytes, fuel, memory_peak, wall_micros, stored_bytes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(digest.hex())
            .bind(micros(Utc::now()))
            .bind(count(s.input_bytes))
            .bind(count(s.fuel))
            .bind(count(s.memory_peak))
            .bind(count(s.wall_micros))
            .bind(count(s.stored_bytes))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
            Ok(())
        }
        .boxed()
    }

    fn samples<'a>(&'a self, digest: &'a Digest, limit: u32) -> BoxFuture<'a, Result<Vec<Sample>>> {
        async move {
            let rows = sqlx::query(
                "SELECT input_bytes, fuel, memory_peak, wall_micros, stored_bytes FROM billing_samples \
                 WHERE digest = ? ORDER BY created DESC LIMIT ?",
            )
            .bind(digest.hex())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
            rows.iter()
                .map(|r| {
                    let n = |c: &str| r.try_get::<i64, _>(c).map(|v| v.max(0) as u64);
                    Ok(Sample {
                        input_bytes: n("input_bytes").map_err(internal)?,
                        fuel: n("fuel").map_err(internal)?,
                        memory_peak: n("memory_peak").map_err(internal)?,
                        wall_micros: n("wall_micros").map_err(internal)?,
                        stored_bytes: n("stored_bytes").map_err(internal)?,
                    })
                })
                .collect()
        }
        .boxed()
    }
}
