//! The job list, job status, dismissal, results and logs.

use super::html::{respond, Format};
use super::processes::{page, page_links, pairs};
use super::results::{self, Form};
use super::AppState;
use crate::error::{Error, Result};
use crate::model::{JobFilter, JobStatus, Principal};
use crate::ogc::status::{job_list, status_info};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::Value;

fn time(s: &str) -> Result<Option<DateTime<Utc>>> {
    if s.is_empty() || s == ".." {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| Error::InvalidParameter(format!("datetime '{s}' is not an RFC 3339 instant")))
}

fn seconds(key: &str, v: &str) -> Result<f64> {
    v.parse::<f64>().ok().filter(|s| *s >= 0.0).ok_or_else(|| {
        Error::InvalidParameter(format!("{key} must be a non-negative number of seconds"))
    })
}

/// Values of a repeatable parameter; each value may also be a comma list.
fn many<'a>(pairs: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `GET /jobs` with `type`, `processID`, `status`, `datetime`,
/// `minDuration`, `maxDuration`, `limit` and `offset`.
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs = pairs(query);
    let page = page(&pairs, 10, 1000)?;
    let mut filter = JobFilter {
        limit: page.limit,
        offset: page.offset,
        // Admins see every tenant's jobs, everyone else their own.
        owner: (!who.is_admin()).then(|| who.tenant.clone()),
        ..JobFilter::default()
    };
    filter.process_ids = many(&pairs, "processID").map(String::from).collect();
    for s in many(&pairs, "status") {
        filter.statuses.push(
            JobStatus::parse(s)
                .ok_or_else(|| Error::InvalidParameter(format!("unknown status '{s}'")))?,
        );
    }
    if let Some((_, dt)) = pairs.iter().find(|(k, _)| k == "datetime") {
        match dt.split_once('/') {
            Some((from, to)) => {
                filter.created_from = time(from)?;
                filter.created_to = time(to)?;
            }
            None => {
                // Only an interval has open ends.
                let instant = time(dt)?.ok_or_else(|| {
                    Error::InvalidParameter(format!(
                        "datetime '{dt}' is neither an RFC 3339 instant nor an interval"
                    ))
                })?;
                filter.created_from = Some(instant);
                filter.created_to = filter.created_from;
            }
        }
    }
    for (k, v) in &pairs {
        match k.as_str() {
            "minDuration" => filter.min_duration = Some(seconds(k, v)?),
            "maxDuration" => filter.max_duration = Some(seconds(k, v)?),
            _ => {}
        }
    }
    // Every job here runs a process; asking for another type finds nothing.
    let only_other_types =
        many(&pairs, "type").next().is_some() && !many(&pairs, "type").any(|t| t == "process");
    let (jobs, more) = if only_other_types {
        (Vec::new(), false)
    } else {
        app.jobs.list(&filter).await?
    };
    let b = &app.base;
    let links = page_links(b, "/jobs", &pairs, &page, more);
    respond(
        &app,
        format,
        "jobs.html",
        job_list(&jobs, b, links),
        Value::Null,
    )
}

/// `GET /jobs/{id}`; its page also shows the results or the error, and
/// the log.
pub async fn status(
    State(app): State<AppState>,
    who: Principal,
    format: Format,
    Path(id): Path<String>,
) -> Result<Response> {
    let job = app.jobs.get_for(&id, &who).await?;
    let doc = status_info(&job, &app.base);
    if format == Format::Json {
        return respond(&app, format, "job.html", doc, Value::Null);
    }
    let (results, error) = match app.jobs.outputs(&job) {
        Ok(outputs) => {
            let request = app.jobs.request(&job);
            let doc = crate::ogc::results::results_document(
                &outputs,
                &request.outputs,
                &job.id,
                &app.base,
            );
            (doc, Value::Null)
        }
        Err(Error::ResultNotReady(_)) => (Value::Null, Value::Null),
        Err(e) => {
            let (status, kind, title) = crate::ogc::exception::for_error(&e);
            let exception = crate::ogc::exception(&kind, title, status, &e.to_string());
            (Value::Null, exception)
        }
    };
    let logs: Vec<String> = app
        .jobs
        .logs(&id, &who)
        .await?
        .iter()
        .map(log_line)
        .collect();
    let extra = serde_json::json!({"results": results, "error": error, "logs": logs});
    respond(&app, format, "job.html", doc, extra)
}

/// `DELETE /jobs/{id}`: stops the job and deletes its results.
pub async fn dismiss(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(status_info(
        &app.jobs.dismiss(&id, &who).await?,
        &app.base,
    )))
}

/// `GET /jobs/{id}/results`: the results document; for a browser, the
/// job's page, which shows them.
pub async fn results(
    State(app): State<AppState>,
    who: Principal,
    format: Format,
    Path(id): Path<String>,
) -> Result<Response> {
    if format == Format::Html {
        return status(State(app), who, format, Path(id)).await;
    }
    let job = app.jobs.get_for(&id, &who).await?;
    results::render(&app, &job, Form::Document)
}

/// `GET /jobs/{id}/results/{output}`: one output, raw.
pub async fn result(
    State(app): State<AppState>,
    who: Principal,
    Path((id, output)): Path<(String, String)>,
) -> Result<Response> {
    let job = app.jobs.get_for(&id, &who).await?;
    results::single(&app, &job, &output)
}

/// `GET /jobs/{id}/results/{output}/{path}`: a file inside a Directory
/// output.
pub async fn result_inside(
    State(app): State<AppState>,
    who: Principal,
    Path((id, output, path)): Path<(String, String, String)>,
) -> Result<Response> {
    let job = app.jobs.get_for(&id, &who).await?;
    results::inside(&app, &job, &output, &path)
}

/// One log line as text.
fn log_line(l: &crate::model::LogLine) -> String {
    format!(
        "{} {:5} {}",
        l.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        l.level.to_uppercase(),
        l.message
    )
}

/// `GET /jobs/{id}/logs`: what the guest logged, as text.
pub async fn logs(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    let lines = app.jobs.logs(&id, &who).await?;
    let text: String = lines.iter().map(|l| log_line(l) + "\n").collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
