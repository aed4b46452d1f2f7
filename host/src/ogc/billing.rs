//! Quotation and bill documents (OGC Testbed-14 ADES quotation and billing).
//!
//! Amounts are `{"amount", "currency"}` objects; a quotation's estimated
//! time is an ISO 8601 duration (`estimatedTime`, as Testbed-14 has it)
//! and plain seconds.

use super::{link, trim_base};
use crate::billing::{Bill, Consumption, Quotation, Total};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// Link relation of a job's bill, and of a bill's job.
pub const REL_BILL: &str = "https://wades.dev/rel/bill";
/// Link relation of a quotation's execution endpoint (`POST`).
pub const REL_EXECUTE_QUOTATION: &str = "https://wades.dev/rel/execute-quotation";

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn money(amount: f64, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

fn consumption(c: &Consumption) -> Value {
    json!({
        "fuel": c.fuel,
        "memoryPeakBytes": c.memory_peak_bytes,
        "wallSeconds": c.wall_micros as f64 / 1e6,
        "containerSeconds": c.container_seconds,
        "storedBytes": c.stored_bytes,
    })
}

/// An ISO 8601 duration of `micros` microseconds, e.g. `PT0.012S`.
fn duration(micros: u64) -> String {
    format!("PT{}S", micros as f64 / 1e6)
}

/// The document of quotation `q` as it stands at `now`.
pub fn quotation(q: &Quotation, now: DateTime<Utc>, base: &str) -> Value {
    let b = trim_base(base);
    let quote = &q.quote;
    let cur = &quote.currency;
    let mut links = vec![
        link(
            format!("{b}/quotations/{}", q.id),
            "self",
            "application/json",
            "this quotation",
        ),
        link(
            format!("{b}/processes/{}/quotations/{}", q.process_id, q.id),
            REL_EXECUTE_QUOTATION,
            "application/json",
            "execute this quotation (POST)",
        ),
        link(
            format!("{b}/processes/{}", q.process_id),
            "up",
            "application/json",
            "the process",
        ),
    ];
    if let Some(job) = &q.job_id {
        links.push(link(
            format!("{b}/jobs/{job}"),
            "monitor",
            "application/json",
            "the job",
        ));
        links.push(link(
            format!("{b}/bills/{}", q.id),
            REL_BILL,
            "application/json",
            "the bill",
        ));
    }
    let mut doc = json!({
        "id": q.id,
        "processID": q.process_id,
        "status": q.status(now).as_str(),
        "created": time(q.created),
        "expirationDate": time(q.expires),
        "price": money(quote.price, cur),
        "maxPrice": money(quote.max_price, cur),
        "margin": quote.margin,
        "estimatedTime": duration(quote.estimate.wall_micros),
        "estimatedSeconds": quote.estimate.wall_micros as f64 / 1e6,
        "estimate": consumption(&quote.estimate),
        "basis": quote.basis,
        "samples": quote.samples,
        "fuelBudget": quote.fuel_budget,
        "charges": quote.charges,
        "links": links,
    });
    if let Some(job) = &q.job_id {
        doc["jobID"] = json!(job);
    }
    if let Some(t) = q.executed {
        doc["executed"] = json!(time(t));
    }
    doc
}

/// A list of quotations; `links` are the caller's paging links.
pub fn quotation_list(
    list: &[Quotation],
    now: DateTime<Utc>,
    base: &str,
    links: Vec<Value>,
) -> Value {
    json!({
        "quotations": list.iter().map(|q| quotation(q, now, base)).collect::<Vec<_>>(),
        "links": links,
    })
}

/// The document of bill `bill`.
pub fn bill(bill: &Bill, base: &str) -> Value {
    let b = trim_base(base);
    let cur = &bill.currency;
    json!({
        "id": bill.id,
        "quotationID": bill.id,
        "jobID": bill.job_id,
        "processID": bill.process_id,
        "created": time(bill.created),
        "jobStatus": bill.job_status.as_str(),
        "consumption": consumption(&bill.consumption),
        "charges": bill.charges,
        "price": money(bill.amount, cur),
        "quotedPrice": money(bill.quoted_price, cur),
        "maxPrice": money(bill.max_price, cur),
        "capped": bill.capped(),
        "links": [
            link(format!("{b}/bills/{}", bill.id), "self", "application/json", "this bill"),
            link(format!("{b}/jobs/{}", bill.job_id), "monitor", "application/json", "the job"),
            link(format!("{b}/quotations/{}", bill.id), "related", "application/json", "the quotation"),
        ],
    })
}

/// A list of bills with what they add up to per tenant, in `currency`.
pub fn bill_list(
    bills: &[Bill],
    totals: &[Total],
    currency: &str,
    base: &str,
    links: Vec<Value>,
) -> Value {
    json!({
        "bills": bills.iter().map(|x| bill(x, base)).collect::<Vec<_>>(),
        "totals": totals.iter().map(|t| json!({
            "tenant": t.owner,
            "bills": t.bills,
            "price": money(t.amount, currency),
            "fuel": t.fuel,
        })).collect::<Vec<_>>(),
        "links": links,
    })
}
