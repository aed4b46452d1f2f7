//! Rendering a job's outputs: a results document, one raw output, or
//! several raw outputs as `multipart/related`.

use super::AppState;
use crate::error::{Error, Result};
use crate::model::JobRecord;
use crate::ogc::results::StoredOutput;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// How the client wants results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form {
    /// The JSON results document.
    Document,
    /// The outputs themselves.
    Raw,
    /// The client did not say: raw for one output, a document for several.
    Default,
}

/// One output's bytes and media type.
pub(super) struct Raw {
    pub(super) bytes: Vec<u8>,
    pub(super) media_type: String,
}

fn raw(app: &AppState, job: &JobRecord, id: &str, output: &StoredOutput) -> Result<Raw> {
    Ok(match output {
        StoredOutput::File { file, .. } if app.jobs.output_path(&job.id, file).is_dir() => {
            let url = format!("{}/jobs/{}/results/{id}", app.base, job.id);
            super::result_dirs::listing(&app.jobs.output_path(&job.id, file), &url)?
        }
        StoredOutput::File { file, media_type } => Raw {
            bytes: std::fs::read(app.jobs.output_path(&job.id, file))?,
            media_type: media_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        },
        inline @ StoredOutput::Inline { value, .. } => match inline.raw_inline() {
            Some((bytes, media_type)) => Raw { bytes, media_type },
            // A link: its JSON form is the best raw answer there is.
            None => Raw {
                bytes: value.to_string().into_bytes(),
                media_type: "application/json".into(),
            },
        },
    })
}

fn selected<'a>(
    outputs: &'a [(String, StoredOutput)],
    wanted: &[crate::ogc::OutputRequest],
) -> Vec<&'a (String, StoredOutput)> {
    outputs
        .iter()
        .filter(|(id, _)| wanted.is_empty() || wanted.iter().any(|w| &w.id == id))
        .collect()
}

/// The results of a successful job in the form asked for, linking to its
/// bill if it executed a quotation.
pub fn render(app: &AppState, job: &JobRecord, form: Form) -> Result<Response> {
    let mut response = render_outputs(app, job, form)?;
    link_bill(app, job, &mut response);
    Ok(response)
}

/// Adds a `Link` to the bill of a quoted job.
fn link_bill(app: &AppState, job: &JobRecord, response: &mut Response) {
    let Some(q) = job.request.get("quotation").and_then(|q| q.as_str()) else {
        return;
    };
    let rel = crate::ogc::billing::REL_BILL;
    if let Ok(v) = HeaderValue::from_str(&format!("<{}/bills/{q}>; rel=\"{rel}\"", app.base)) {
        response.headers_mut().append(header::LINK, v);
    }
}

fn render_outputs(app: &AppState, job: &JobRecord, form: Form) -> Result<Response> {
    let outputs = app.jobs.outputs(job)?;
    let request = app.jobs.request(job);
    let chosen = selected(&outputs, &request.outputs);
    let form = match form {
        Form::Default if chosen.len() == 1 => Form::Raw,
        Form::Default => Form::Document,
        f => f,
    };
    match form {
        Form::Raw if chosen.len() == 1 => {
            let r = raw(app, job, &chosen[0].0, &chosen[0].1)?;
            Ok(([(header::CONTENT_TYPE, r.media_type)], r.bytes).into_response())
        }
        Form::Raw => multipart(app, job, &chosen),
        _ => {
            let owned: Vec<(String, StoredOutput)> = chosen.into_iter().cloned().collect();
            let doc =
                crate::ogc::results::results_document(&owned, &request.outputs, &job.id, &app.base);
            Ok(axum::Json(doc).into_response())
        }
    }
}

/// One output of a job, raw.
pub fn single(app: &AppState, job: &JobRecord, id: &str) -> Result<Response> {
    let outputs = app.jobs.outputs(job)?;
    let (_, output) = outputs
        .iter()
        .find(|(o, _)| o == id)
        .ok_or_else(|| Error::NoSuchOutput {
            job: job.id.clone(),
            output: id.into(),
        })?;
    let r = raw(app, job, id, output)?;
    let mut response = ([(header::CONTENT_TYPE, r.media_type)], r.bytes).into_response();
    link_bill(app, job, &mut response);
    Ok(response)
}

/// A file (or folder listing) inside a Directory output, by its path in
/// that folder.
pub fn inside(app: &AppState, job: &JobRecord, id: &str, path: &str) -> Result<Response> {
    let outputs = app.jobs.outputs(job)?;
    let no_such = || Error::NotFound(format!("job '{}' has no result {id}/{path}", job.id));
    let dir = outputs
        .iter()
        .find_map(|(o, out)| match out {
            StoredOutput::File { file, .. } if o == id => Some(app.jobs.output_path(&job.id, file)),
            _ => None,
        })
        .filter(|d| d.is_dir())
        .ok_or_else(no_such)?;
    let url = format!("{}/jobs/{}/results/{id}", app.base, job.id);
    let r = super::result_dirs::inside(&dir, path, &url)?.ok_or_else(no_such)?;
    Ok(([(header::CONTENT_TYPE, r.media_type)], r.bytes).into_response())
}

fn multipart(
    app: &AppState,
    job: &JobRecord,
    outputs: &[&(String, StoredOutput)],
) -> Result<Response> {
    let boundary = format!("wades-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (id, output) in outputs {
        let r = raw(app, job, id, output)?;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {}\r\nContent-ID: <{id}>\r\n\r\n",
                r.media_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&r.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = HeaderValue::from_str(&format!("multipart/related; boundary={boundary}"))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}
