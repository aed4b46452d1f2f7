//! Quotations (Testbed-14): `/processes/{id}/quotations[/{qid}]` and
//! `/quotations[/{qid}]`. `POST` on a process's quotations asks for one
//! (the body is an execute request; `?dryRun=true` prices it by a dry run
//! whatever the history); `POST` on a quotation executes it.

use super::execute::{body, parse, start};
use super::processes::{page, page_links, pairs};
use super::AppState;
use crate::error::{Error, Result};
use crate::jobs::JobRequest;
use crate::model::Principal;
use crate::ogc::billing::{quotation, quotation_list};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::Value;

/// `GET /processes/{id}/quotations`: the caller's quotations of a process.
pub async fn list_for_process(
    State(app): State<AppState>,
    who: Principal,
    Path(process): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    app.registry.get_for(&process, &who)?;
    list_page(&app, &who, Some(&process), query).await
}

/// `GET /quotations`: the caller's quotations (an admin's: everyone's).
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    list_page(&app, &who, None, query).await
}

async fn list_page(
    app: &AppState,
    who: &Principal,
    process: Option<&str>,
    query: Option<String>,
) -> Result<Json<Value>> {
    let pairs = pairs(query);
    let page = page(&pairs, 10, 1000)?;
    let (list, more) = app
        .billing
        .quotations(who, process, page.limit, page.offset)
        .await?;
    let path = match process {
        Some(p) => format!("/processes/{p}/quotations"),
        None => "/quotations".into(),
    };
    let links = page_links(&app.base, &path, &pairs, &page, more);
    Ok(Json(quotation_list(&list, Utc::now(), &app.base, links)))
}

/// `POST /processes/{id}/quotations`: prices an execute request; 201 with
/// the quotation and its `Location`.
pub async fn request(
    State(app): State<AppState>,
    who: Principal,
    Path(process): Path<String>,
    RawQuery(query): RawQuery,
    raw_body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let entry = app.registry.get_for(&process, &who)?;
    let dry_run = match pairs(query).iter().find(|(k, _)| k == "dryRun") {
        None => false,
        Some((_, v)) => match v.as_str() {
            "true" | "" => true,
            "false" => false,
            other => {
                return Err(Error::InvalidParameter(format!(
                    "dryRun must be true or false, not '{other}'"
                )))
            }
        },
    };
    let parsed = parse(&entry, &body(raw_body)?)?;
    let request = JobRequest {
        inputs: parsed.inputs,
        outputs: parsed.outputs,
        ..JobRequest::default()
    };
    let q = app.billing.quote(&process, request, &who, dry_run).await?;
    let location = format!("{}/quotations/{}", app.base, q.id);
    let mut response = (
        StatusCode::CREATED,
        Json(quotation(&q, Utc::now(), &app.base)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET /processes/{id}/quotations/{qid}`.
pub async fn get_for_process(
    State(app): State<AppState>,
    who: Principal,
    Path((process, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let q = app.billing.quotation(&id, &who).await?;
    if q.process_id != process {
        return Err(Error::NoSuchQuotation(id));
    }
    Ok(Json(quotation(&q, Utc::now(), &app.base)))
}

/// `GET /quotations/{qid}`.
pub async fn get(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let q = app.billing.quotation(&id, &who).await?;
    Ok(Json(quotation(&q, Utc::now(), &app.base)))
}

/// `POST /processes/{id}/quotations/{qid}`: executes the quotation.
pub async fn execute_for_process(
    State(app): State<AppState>,
    who: Principal,
    Path((process, id)): Path<(String, String)>,
    headers: HeaderMap,
    raw_body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    execute(&app, &who, Some(&process), &id, &headers, body(raw_body)?).await
}

/// `POST /quotations/{qid}`: executes the quotation.
pub async fn execute_quotation(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw_body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    execute(&app, &who, None, &id, &headers, body(raw_body)?).await
}

/// Runs quotation `id` as a job, with the execution rules of
/// `/processes/{id}/execution`. An empty body runs the quoted request; an
/// execute request in the body replaces its outputs and response form,
/// and its inputs if it has any. Either way the job runs under the
/// quotation's fuel budget: inputs larger than quoted fail out of fuel
/// rather than cost more.
async fn execute(
    app: &AppState,
    who: &Principal,
    process: Option<&str>,
    id: &str,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let quoted = app.billing.quotation(id, who).await?;
    if process.is_some_and(|p| p != quoted.process_id) {
        return Err(Error::NoSuchQuotation(id.into()));
    }
    let entry = app.registry.get_for(&quoted.process_id, who)?;
    let given = match bytes.iter().all(u8::is_ascii_whitespace) {
        true => None,
        false => Some(parse(&entry, &bytes)?),
    };
    let (q, mut request) = app.billing.claim(id, process, who).await?;
    let mut response_form = None;
    if let Some(given) = given {
        if !given.inputs.is_empty() {
            request.inputs = given.inputs;
        }
        if !given.outputs.is_empty() {
            request.outputs = given.outputs;
        }
        response_form = given.response;
    }
    let result = start(
        app,
        who,
        &q.process_id,
        &entry,
        response_form,
        request,
        headers,
    )
    .await;
    match &result {
        // Refused before a job existed: the quotation stays executable.
        Err(Error::QuotaExceeded { .. } | Error::RateLimited { .. } | Error::StorageFull(_)) => {
            app.billing.not_started(id).await
        }
        Ok(r) => {
            let job = r
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok());
            if let Some(job) = job.and_then(|l| l.rsplit('/').next()) {
                app.billing.started(id, job).await?;
            }
        }
        Err(_) => {}
    }
    result
}
