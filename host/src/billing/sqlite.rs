//! [`BillingStore`] on the embedded SQLite database, beside the job store.
//!
//! Its tables come with the job store's migrations
//! (`migrations/sqlite/0010_billing.sql`).
//! It writes through a connection of its own: billing writes a few rows per
//! quoted job, far from the job store's hot path, and SQLite's busy
//! timeout serializes them with the job writer.

use super::estimate::Sample;
use super::records::{Bill, Quotation, Total};
use super::rows::{
    count, internal, micros, BillDocument, BillRow, QuotationRow, SampleRow, TotalRow,
};
use super::store::{BillingStore, ClaimRefused, Page};
use crate::error::Result;
use crate::model::Digest;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;
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
            let row: Option<QuotationRow> = sqlx::query_as("SELECT * FROM quotations WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
            row.map(QuotationRow::record).transpose()
        }
        .boxed()
    }

    fn quotations<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Quotation>, bool)>> {
        async move {
            let sql = format!(
                "SELECT * FROM quotations WHERE {PAGE_FILTER} \
                 ORDER BY created DESC, id LIMIT ?3 OFFSET ?4"
            );
            let rows: Vec<QuotationRow> = sqlx::query_as(&sql)
                .bind(&page.owner)
                .bind(&page.process_id)
                .bind(i64::from(page.limit) + 1)
                .bind(i64::from(page.offset))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
            super::rows::page_of(rows, page.limit, QuotationRow::record)
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
            let document = BillDocument::of(b)?;
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
            let row: Option<BillRow> = sqlx::query_as("SELECT * FROM bills WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
            row.map(BillRow::record).transpose()
        }
        .boxed()
    }

    fn bills<'a>(&'a self, page: &'a Page) -> BoxFuture<'a, Result<(Vec<Bill>, bool)>> {
        async move {
            let sql = format!(
                "SELECT * FROM bills WHERE {PAGE_FILTER} \
                 ORDER BY created DESC, id LIMIT ?3 OFFSET ?4"
            );
            let rows: Vec<BillRow> = sqlx::query_as(&sql)
                .bind(&page.owner)
                .bind(&page.process_id)
                .bind(i64::from(page.limit) + 1)
                .bind(i64::from(page.offset))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
            super::rows::page_of(rows, page.limit, BillRow::record)
        }
        .boxed()
    }

    fn totals<'a>(&'a self, owner: Option<&'a str>) -> BoxFuture<'a, Result<Vec<Total>>> {
        async move {
            let rows: Vec<TotalRow> = sqlx::query_as(
                "SELECT owner, COUNT(*) AS n, TOTAL(amount) AS amount, SUM(fuel) AS fuel \
                 FROM bills WHERE ?1 IS NULL OR owner = ?1 GROUP BY owner ORDER BY owner",
            )
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
            Ok(rows.into_iter().map(Total::from).collect())
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
            let rows: Vec<SampleRow> = sqlx::query_as(
                "SELECT input_bytes, fuel, memory_peak, wall_micros, stored_bytes FROM billing_samples \
                 WHERE digest = ? ORDER BY created DESC LIMIT ?",
            )
            .bind(digest.hex())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
            Ok(rows.into_iter().map(Sample::from).collect())
        }
        .boxed()
    }
}
