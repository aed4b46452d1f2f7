//! `POST /processes/{id}/execution`, with the execution-mode rules of Part 1.

use super::prefer::Prefer;
use super::results::{self, Form};
use super::AppState;
use crate::error::{Error, Result};
use crate::jobs::JobRequest;
use crate::model::{JobControl, Principal};
use crate::ogc::execute::{ExecuteRequest, ResponseForm};
use crate::registry::Entry;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Reads a body, turning framework rejections into our errors.
pub fn body(body: std::result::Result<Bytes, BytesRejection>) -> Result<Bytes> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(e.body_text()),
        _ => Error::BadRequest(e.body_text()),
    })
}

/// Runs a process: async (201 + status) or sync (200 + results).
pub async fn execute(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw_body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let entry = app.registry.get_for(&id, &who)?;
    let bytes = body(raw_body)?;
    let request = parse(&entry, &bytes)?;
    let job_request = JobRequest {
        inputs: request.inputs,
        outputs: request.outputs,
        subscriber: request.subscriber,
        ..JobRequest::default()
    };
    start(
        &app,
        &who,
        &id,
        &entry,
        request.response,
        job_request,
        &headers,
    )
    .await
}

/// `GET /processes/{id}/execution?…`: KVP execute, the same request as a
/// query string (see [`crate::ogc::kvp`]); `prefer=` stands for the header.
pub async fn execute_kvp(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let entry = app.registry.get_for(&id, &who)?;
    let pairs = super::processes::pairs(query);
    let mut kvp = crate::ogc::kvp::parse_kvp(&pairs, &entry.description)
        .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    match kvp.format.as_deref() {
        None => {}
        // JSON asked for by name: a results document, never raw outputs.
        Some("json") if kvp.body.get("response").is_none() => {
            kvp.body["response"] = "document".into()
        }
        Some("json") => {}
        Some(f) => {
            return Err(Error::InvalidParameter(format!(
                "f must be json, not '{f}'"
            )))
        }
    }
    let header_values = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let prefer = Prefer::from_values(header_values.chain(kvp.prefer.iter().map(String::as_str)));
    let request = parse_value(&entry, &kvp.body)?;
    let job_request = JobRequest {
        inputs: request.inputs,
        outputs: request.outputs,
        subscriber: request.subscriber,
        ..JobRequest::default()
    };
    start_with(
        &app,
        &who,
        &id,
        &entry,
        request.response,
        job_request,
        prefer,
    )
    .await
}

/// Reads an execute request for `entry`'s process.
pub fn parse(entry: &Entry, bytes: &[u8]) -> Result<ExecuteRequest> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::BadRequest(format!("the request body is not JSON: {e}")))?;
    parse_value(entry, &json)
}

/// Reads an execute request, already JSON, for `entry`'s process.
fn parse_value(entry: &Entry, json: &serde_json::Value) -> Result<ExecuteRequest> {
    entry
        .parser
        .parse(json)
        .map_err(|e| Error::InvalidParameter(e.to_string()))
}

/// Starts a job of `entry` (process `id`) for `who`: async (201 + status)
/// or sync (200 + results) by the process's options and the `Prefer`
/// header, answering in the `response` form asked for.
pub async fn start(
    app: &AppState,
    who: &Principal,
    id: &str,
    entry: &Entry,
    response: Option<ResponseForm>,
    job_request: JobRequest,
    headers: &HeaderMap,
) -> Result<Response> {
    let prefer = Prefer::from_headers(headers);
    start_with(app, who, id, entry, response, job_request, prefer).await
}

/// [`start`] with the preferences already read (KVP execute also takes
/// them from the query).
async fn start_with(
    app: &AppState,
    who: &Principal,
    id: &str,
    entry: &Entry,
    response: Option<ResponseForm>,
    job_request: JobRequest,
    prefer: Prefer,
) -> Result<Response> {
    let description = &entry.description;
    let can_sync = description
        .job_control_options
        .contains(&JobControl::SyncExecute);
    let can_async = description
        .job_control_options
        .contains(&JobControl::AsyncExecute);
    // Part 1: with no preference a process that can do both runs sync.
    let run_async = (prefer.respond_async && can_async) || !can_sync;
    let form = match (response.as_ref(), prefer.minimal) {
        (Some(ResponseForm::Raw), _) => Form::Raw,
        (Some(ResponseForm::Document), _) => Form::Document,
        (None, Some(true)) => Form::Document,
        (None, Some(false)) => Form::Raw,
        (None, None) => Form::Default,
    };
    let mut applied = Vec::new();
    if let Some(m) = prefer.minimal {
        applied.push(if m {
            "return=minimal".to_string()
        } else {
            "return=representation".to_string()
        });
    }
    if run_async {
        let job = app.jobs.submit(id, job_request, &who.tenant).await?;
        if prefer.respond_async {
            applied.push("respond-async".into());
        }
        let job = match prefer.wait {
            Some(w) => {
                applied.push(format!("wait={}", w.as_secs()));
                app.jobs.wait(&job.id, Some(w)).await?
            }
            None => job,
        };
        let location = format!("{}/jobs/{}", app.base, job.id);
        let status = crate::ogc::status::status_info(&job, &app.base);
        let mut response = (StatusCode::CREATED, axum::Json(status)).into_response();
        response
            .headers_mut()
            .insert(header::LOCATION, header_value(&location)?);
        add_applied(&mut response, &applied)?;
        return Ok(response);
    }
    let job = app.jobs.run_sync(id, job_request, &who.tenant).await?;
    let mut response = results::render(app, &job, form)?;
    response.headers_mut().append(
        header::LINK,
        header_value(&format!("<{}/jobs/{}>; rel=\"monitor\"", app.base, job.id))?,
    );
    add_applied(&mut response, &applied)?;
    Ok(response)
}

fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s).map_err(|e| Error::Internal(e.to_string()))
}

fn add_applied(response: &mut Response, applied: &[String]) -> Result<()> {
    if !applied.is_empty() {
        response
            .headers_mut()
            .insert("preference-applied", header_value(&applied.join(", "))?);
    }
    Ok(())
}
