//! Quotations and bills as billing keeps them.

use super::price::{Charges, Consumption};
use crate::model::JobStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a quotation's estimate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Past runs of the same component, regressed on input size.
    History,
    /// A capped run on the quoted inputs.
    DryRun,
}

/// The estimate and price of a quotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// How it was estimated.
    pub basis: Basis,
    /// Past runs it rests on (1 for a dry run).
    pub samples: usize,
    /// What the job is expected to use.
    pub estimate: Consumption,
    /// The estimate's price, by charge.
    pub charges: Charges,
    /// The estimate's price.
    pub price: f64,
    /// The most the job may cost: `price` raised by the margin.
    pub max_price: f64,
    /// Of every amount.
    pub currency: String,
    /// The margin applied.
    pub margin: f64,
    /// The fuel limit the job runs under.
    pub fuel_budget: u64,
}

/// A quotation: a price for running a process on given inputs, valid
/// until it expires, executed at most once.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotation {
    /// Its id (a UUID); its bill has the same.
    pub id: String,
    /// The process quoted for.
    pub process_id: String,
    /// The tenant that asked; the only one (with admins) that sees it.
    pub owner: String,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When it stops being executable.
    pub expires: DateTime<Utc>,
    /// When it was executed, if it was.
    pub executed: Option<DateTime<Utc>>,
    /// The job that executed it.
    pub job_id: Option<String>,
    /// The job request quoted for (the jobs service's `JobRequest`).
    pub request: serde_json::Value,
    /// The estimate and price.
    pub quote: Quote,
}

/// Where a quotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotationStatus {
    /// It may be executed.
    Valid,
    /// Its time ran out before it was executed.
    Expired,
    /// It was executed; its bill is or will be there.
    Executed,
}

impl QuotationStatus {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotationStatus::Valid => "valid",
            QuotationStatus::Expired => "expired",
            QuotationStatus::Executed => "executed",
        }
    }
}

impl Quotation {
    /// Where it stands at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> QuotationStatus {
        match self.executed {
            Some(_) => QuotationStatus::Executed,
            None if now >= self.expires => QuotationStatus::Expired,
            None => QuotationStatus::Valid,
        }
    }
}

/// What a quoted job used and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// Its id: the quotation's.
    pub id: String,
    /// The job billed.
    pub job_id: String,
    /// Its process.
    pub process_id: String,
    /// The tenant billed.
    pub owner: String,
    /// When the job ended.
    pub created: DateTime<Utc>,
    /// How the job ended.
    pub job_status: JobStatus,
    /// What it used, exactly as measured.
    pub consumption: Consumption,
    /// What that costs, by charge.
    pub charges: Charges,
    /// What is charged: the charges' total, at most the quotation's
    /// `max_price`.
    pub amount: f64,
    /// Of every amount.
    pub currency: String,
    /// The quotation's price.
    pub quoted_price: f64,
    /// The quotation's most.
    pub max_price: f64,
}

impl Bill {
    /// Whether the charges exceeded the quotation's most, so the amount
    /// was cut to it.
    pub fn capped(&self) -> bool {
        self.charges.total() > self.amount
    }
}

/// What one tenant's bills add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    /// The tenant.
    pub owner: String,
    /// How many bills.
    pub bills: u64,
    /// Their amounts, summed.
    pub amount: f64,
    /// Their fuel, summed.
    pub fuel: u64,
}
