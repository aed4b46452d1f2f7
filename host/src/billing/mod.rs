//! Quotation and billing (OGC Testbed-14 ADES): prices from fuel metering.
//!
//! Every wasm job is metered in fuel, which is deterministic: the same
//! component on the same inputs burns the same fuel. So a quotation can
//! rest on measurement rather than guesswork: on the process's execution
//! history (fuel regressed on input size, [`estimate`]) or, on request or
//! without history, on a capped dry run of the quoted inputs. Executing a
//! quotation runs the job under a fuel budget of the estimate plus the
//! operator's margin, so it fails out of fuel rather than cost more; its
//! bill charges exactly what the run used ([`price`]), never more than the
//! quoted price plus the margin. Quotations and bills belong to the tenant
//! that asked for them.

pub mod estimate;
pub mod postgres;
pub mod price;
pub mod records;
mod rows;
pub mod sqlite;
pub mod store;

pub use postgres::PgBillingStore;
pub use price::{BillingConfig, Charges, Consumption};
pub use records::{Basis, Bill, Quotation, QuotationStatus, Quote, Total};
pub use sqlite::SqliteBillingStore;
pub use store::{BillingStore, ClaimRefused, Page};

use crate::error::{Error, Result};
use crate::jobs::{JobObserver, JobRequest, Jobs, RunMeter};
use crate::model::{Digest, JobRecord, JobStatus, Principal};
use crate::registry::{Implementation, Registry};
use chrono::{DateTime, Utc};
use estimate::Sample;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stored runs a quotation reads, newest first.
const HISTORY: u32 = 100;

/// Recent runs of each component kept in memory (every job, quoted or not).
const RECENT: usize = 64;

/// The billing service. Cheap to clone.
#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn BillingStore>,
    config: BillingConfig,
    registry: Arc<Registry>,
    jobs: Jobs,
    /// How long results are kept, which storage is charged for.
    storage_seconds: f64,
    /// Successful runs of every job since the start, by component.
    recent: Mutex<HashMap<Digest, VecDeque<Sample>>>,
}

impl Billing {
    /// A service pricing with `config`, keeping its records in `store`;
    /// results are charged for `retention` (a month if kept forever). It
    /// learns of every job's end from `jobs`.
    pub fn new(
        store: Arc<dyn BillingStore>,
        config: BillingConfig,
        registry: Arc<Registry>,
        jobs: Jobs,
        retention: Option<Duration>,
    ) -> Result<Billing> {
        config.check().map_err(Error::Internal)?;
        let storage_seconds = retention.map_or(price::MONTH_SECONDS, |r| r.as_secs_f64());
        let billing = Billing {
            inner: Arc::new(Inner {
                store,
                config,
                registry,
                jobs: jobs.clone(),
                storage_seconds,
                recent: Mutex::new(HashMap::new()),
            }),
        };
        jobs.observe(Arc::new(Observer(Arc::downgrade(&billing.inner))));
        Ok(billing)
    }

    /// The price model.
    pub fn config(&self) -> &BillingConfig {
        &self.inner.config
    }

    /// Prices a job of `process_id` with `request` for `who`: from the
    /// history of its component, or from a capped dry run when asked
    /// (`dry_run`) or when the history cannot say.
    pub async fn quote(
        &self,
        process_id: &str,
        request: JobRequest,
        who: &Principal,
        dry_run: bool,
    ) -> Result<Quotation> {
        let inner = &self.inner;
        let entry = inner.registry.get_for(process_id, who)?;
        // Its container steps are not metered in fuel, so a budget could
        // not hold its cost.
        if let Implementation::Cwl(_) = entry.process {
            return Err(Error::InvalidParameter(format!(
                "process '{process_id}' is a CWL process: quotations are offered for \
                 WebAssembly processes, whose cost fuel metering bounds"
            )));
        }
        let digest = entry.process.digest();
        let input_bytes = crate::jobs::input_bytes(&request.inputs);
        let mut history = inner.store.samples(&digest, HISTORY).await?;
        history.extend(inner.recent(&digest));
        let known = match dry_run {
            true => None,
            false => estimate::from_history(&history, input_bytes),
        };
        let (basis, est) = match known {
            Some(e) => (Basis::History, e),
            None => (
                Basis::DryRun,
                self.dry_run(process_id, &request, who).await?,
            ),
        };
        let config = &inner.config;
        let estimate = Consumption {
            fuel: est.fuel,
            memory_peak_bytes: est.memory_peak,
            wall_micros: est.wall_micros,
            container_seconds: 0.0,
            stored_bytes: est.stored_bytes,
        };
        let charges = config.charges(&estimate, inner.storage_seconds);
        let now = now_micros();
        let quotation = Quotation {
            id: uuid::Uuid::new_v4().to_string(),
            process_id: process_id.to_string(),
            owner: who.tenant.clone(),
            created: now,
            expires: expiry(now, config.quote_validity_seconds),
            executed: None,
            job_id: None,
            request: serde_json::to_value(&request).map_err(|e| Error::Internal(e.to_string()))?,
            quote: Quote {
                basis,
                samples: est.samples,
                estimate,
                charges,
                price: charges.total(),
                max_price: config.with_margin(charges.total()),
                currency: config.currency.clone(),
                margin: config.margin,
                fuel_budget: config.fuel_budget(est.fuel),
            },
        };
        inner.store.insert_quotation(&quotation).await?;
        Ok(quotation)
    }

    /// Runs the quoted inputs once, capped, and remembers the run.
    async fn dry_run(
        &self,
        process_id: &str,
        request: &JobRequest,
        who: &Principal,
    ) -> Result<estimate::Estimate> {
        let inner = &self.inner;
        let cap = inner.config.dry_run_fuel;
        let run = inner
            .jobs
            .dry_run(process_id, request.inputs.clone(), &who.tenant, cap)
            .await?;
        match run.failure {
            None => {}
            Some(crate::runtime::RunError::OutOfFuel { fuel }) => {
                return Err(Error::InvalidParameter(format!(
                    "the dry run burnt all of its {fuel} fuel units: a job on these inputs \
                     costs more than this server quotes by a dry run"
                )))
            }
            Some(e) => {
                return Err(Error::InvalidParameter(format!(
                    "the dry run on these inputs failed, so they cannot be quoted: {e}"
                )))
            }
        }
        let sample = Sample {
            input_bytes: run.input_bytes,
            fuel: run.fuel,
            memory_peak: run.memory_peak,
            wall_micros: micros(run.wall),
            stored_bytes: run.result_bytes,
        };
        let digest = inner.registry.get(process_id)?.process.digest();
        inner.store.add_sample(&digest, sample).await?;
        Ok(estimate::Estimate {
            fuel: run.fuel,
            memory_peak: run.memory_peak,
            wall_micros: sample.wall_micros,
            stored_bytes: run.result_bytes,
            samples: 1,
        })
    }

    /// Quotation `id` if `who` may see it (its owner, admins).
    pub async fn quotation(&self, id: &str, who: &Principal) -> Result<Quotation> {
        match self.inner.store.quotation(id).await? {
            Some(q) if who.owns(&q.owner) => Ok(q),
            _ => Err(Error::NoSuchQuotation(id.into())),
        }
    }

    /// A page of the quotations `who` may see (an admin: everyone's).
    pub async fn quotations(
        &self,
        who: &Principal,
        process_id: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<Quotation>, bool)> {
        let page = self.page(who, process_id, limit, offset);
        self.inner.store.quotations(&page).await
    }

    /// Marks quotation `id` (of process `process_id`, if given) executed
    /// for `who` and returns it with the job request to run: refused if it
    /// expired or was executed. [`Billing::started`] or
    /// [`Billing::not_started`] must follow.
    pub async fn claim(
        &self,
        id: &str,
        process_id: Option<&str>,
        who: &Principal,
    ) -> Result<(Quotation, JobRequest)> {
        let q = self.quotation(id, who).await?;
        if process_id.is_some_and(|p| p != q.process_id) {
            return Err(Error::NoSuchQuotation(id.into()));
        }
        match self.inner.store.claim(id, Utc::now()).await? {
            Ok(()) => {}
            Err(ClaimRefused::Unknown) => return Err(Error::NoSuchQuotation(id.into())),
            Err(ClaimRefused::Executed) => return Err(Error::QuotationExecuted(id.into())),
            Err(ClaimRefused::Expired) => {
                return Err(Error::QuotationExpired(format!(
                    "quotation '{id}' expired at {}; ask for a new one",
                    q.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )))
            }
        }
        let mut request: JobRequest = serde_json::from_value(q.request.clone())
            .map_err(|e| Error::Internal(format!("stored quotation {id}: {e}")))?;
        request.limits = Some(crate::model::Limits {
            fuel: Some(q.quote.fuel_budget),
            ..Default::default()
        });
        request.quotation = Some(q.id.clone());
        Ok((q, request))
    }

    /// The job of claimed quotation `id` was created.
    pub async fn started(&self, id: &str, job_id: &str) -> Result<()> {
        self.inner.store.attach_job(id, job_id).await
    }

    /// The job of claimed quotation `id` could not be created (a quota):
    /// the quotation may be executed again.
    pub async fn not_started(&self, id: &str) {
        if let Err(e) = self.inner.store.release(id).await {
            tracing::warn!(quotation = %id, error = %e, "releasing a quotation failed");
        }
    }

    /// Bill `id` if `who` may see it (its owner, admins).
    pub async fn bill(&self, id: &str, who: &Principal) -> Result<Bill> {
        match self.inner.store.bill(id).await? {
            Some(b) if who.owns(&b.owner) => Ok(b),
            _ => Err(Error::NoSuchBill(id.into())),
        }
    }

    /// A page of the bills `who` may see (an admin: everyone's).
    pub async fn bills(
        &self,
        who: &Principal,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<Bill>, bool)> {
        let page = self.page(who, None, limit, offset);
        self.inner.store.bills(&page).await
    }

    /// What the bills `who` may see add up to, per tenant.
    pub async fn totals(&self, who: &Principal) -> Result<Vec<Total>> {
        let owner = (!who.is_admin()).then_some(who.tenant.as_str());
        self.inner.store.totals(owner).await
    }

    fn page(&self, who: &Principal, process_id: Option<&str>, limit: u32, offset: u32) -> Page {
        Page {
            owner: (!who.is_admin()).then(|| who.tenant.clone()),
            process_id: process_id.map(String::from),
            limit,
            offset,
        }
    }
}

/// `seconds` after `now`, or the end of time.
fn expiry(now: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    chrono::TimeDelta::try_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Inner {
    fn recent(&self, digest: &Digest) -> Vec<Sample> {
        let recent = self.recent.lock().expect("recent runs");
        recent
            .get(digest)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }

    fn remember(&self, digest: Digest, sample: Sample) {
        let mut recent = self.recent.lock().expect("recent runs");
        let runs = recent.entry(digest).or_default();
        if runs.len() == RECENT {
            runs.pop_front();
        }
        runs.push_back(sample);
    }

    /// Learns from a finished job, and bills it if it executed a quotation.
    async fn ended(&self, job: &JobRecord, status: JobStatus, meter: &RunMeter) {
        let digest = match self.registry.get(&job.process_id) {
            Ok(entry) => match entry.process {
                Implementation::Component(p) => Some(p.digest()),
                Implementation::Cwl(_) => None,
            },
            Err(_) => None,
        };
        let sample = Sample {
            input_bytes: meter.input_bytes,
            fuel: meter.usage.fuel,
            memory_peak: meter.memory_peak,
            wall_micros: micros(meter.wall),
            stored_bytes: meter.usage.result_bytes,
        };
        // Failed runs say nothing of what a whole run costs.
        let learn = status == JobStatus::Successful && digest.is_some();
        if let (true, Some(d)) = (learn, digest) {
            self.remember(d, sample);
        }
        let Some(id) = job.request.get("quotation").and_then(|q| q.as_str()) else {
            return;
        };
        if let Err(e) = self.bill(id, job, status, meter).await {
            tracing::error!(quotation = %id, error = %e, "writing the bill of a quoted job failed");
        }
        if let (true, Some(d)) = (learn, digest) {
            if let Err(e) = self.store.add_sample(&d, sample).await {
                tracing::warn!(error = %e, "remembering a quoted run failed");
            }
        }
    }

    async fn bill(
        &self,
        id: &str,
        job: &JobRecord,
        status: JobStatus,
        meter: &RunMeter,
    ) -> Result<()> {
        let q = self
            .store
            .quotation(id)
            .await?
            .ok_or_else(|| Error::NoSuchQuotation(id.into()))?;
        let consumption = Consumption {
            fuel: meter.usage.fuel,
            memory_peak_bytes: meter.memory_peak,
            wall_micros: micros(meter.wall),
            container_seconds: meter.container_seconds,
            stored_bytes: meter.usage.result_bytes,
        };
        let charges = self.config.charges(&consumption, self.storage_seconds);
        let bill = Bill {
            id: q.id.clone(),
            job_id: job.id.clone(),
            process_id: job.process_id.clone(),
            owner: job.owner.clone(),
            created: now_micros(),
            job_status: status,
            consumption,
            charges,
            amount: charges.total().min(q.quote.max_price),
            currency: q.quote.currency.clone(),
            quoted_price: q.quote.price,
            max_price: q.quote.max_price,
        };
        self.store.attach_job(id, &job.id).await?;
        self.store.insert_bill(&bill).await
    }
}

/// Now, truncated to the microsecond as stored, so a bill reads back equal.
fn now_micros() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now)
}

/// The jobs service holds this, not the service itself: billing holds the
/// jobs service, and a cycle would keep both alive for ever.
struct Observer(std::sync::Weak<Inner>);

impl JobObserver for Observer {
    fn ended<'a>(
        &'a self,
        job: &'a JobRecord,
        status: JobStatus,
        meter: &'a RunMeter,
    ) -> BoxFuture<'a, ()> {
        async move {
            if let Some(inner) = self.0.upgrade() {
                inner.ended(job, status, meter).await;
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests;
