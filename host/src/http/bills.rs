//! Bills (Testbed-14): `/bills` with the caller's totals, `/bills/{id}`.

use super::processes::{page, page_links, pairs};
use super::AppState;
use crate::error::Result;
use crate::model::Principal;
use crate::ogc::billing::{bill, bill_list};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::Value;

/// `GET /bills`: the caller's bills (an admin's: everyone's), newest
/// first, with what they add up to per tenant.
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let pairs = pairs(query);
    let page = page(&pairs, 10, 1000)?;
    let (bills, more) = app.billing.bills(&who, page.limit, page.offset).await?;
    let totals = app.billing.totals(&who).await?;
    let links = page_links(&app.base, "/bills", &pairs, &page, more);
    let currency = &app.billing.config().currency;
    Ok(Json(bill_list(&bills, &totals, currency, &app.base, links)))
}

/// `GET /bills/{id}`.
pub async fn get(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(bill(&app.billing.bill(&id, &who).await?, &app.base)))
}
