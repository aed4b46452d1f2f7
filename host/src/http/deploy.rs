//! Part 2: `POST /processes`, `PUT` and `DELETE /processes/{id}`,
//! `GET /processes/{id}/package`, and the Testbed-14 visibility of a
//! process (`GET`/`PUT /processes/{id}/visibility`).

use super::execute::body;
use super::processes::pairs;
use super::AppState;
use crate::error::{Error, Result};
use crate::model::{Principal, Visibility};
use crate::ogc::package::{self, WASM};
use crate::registry::Deployable;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Media types of application packages. Plain JSON is one too, because
/// real clients send that.
const PACKAGE_TYPES: &[&str] = &["application/ogcapppkg+json", "application/json"];

/// `POST /processes`: 201, `Location` of the new process, its summary.
pub async fn deploy(
    State(app): State<AppState>,
    who: Principal,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    raw: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let query = pairs(query);
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let what = deployable(&headers, body(raw)?, param("id"), param("w"))?;
    let entry = app.registry.deploy(what, &who).await?;
    let location = format!("{}/processes/{}", app.base, entry.description.id);
    let summary = crate::ogc::process_summary(&entry.description, &app.base, entry.mutable);
    let mut response = (StatusCode::CREATED, Json(summary)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `PUT /processes/{id}`: 204.
pub async fn replace(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    raw: std::result::Result<Bytes, BytesRejection>,
) -> Result<StatusCode> {
    let w = pairs(query)
        .into_iter()
        .find(|(k, _)| k == "w")
        .map(|(_, v)| v);
    let what = deployable(&headers, body(raw)?, None, w)?;
    app.registry.replace(&id, what, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /processes/{id}`: 204.
pub async fn undeploy(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    app.registry.undeploy(&id, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /processes/{id}/package`: the package as deployed, or the component
/// itself with `Accept: application/wasm` (or `?f=wasm`), or a CWL
/// process's document with `Accept: application/cwl…` (or `?f=cwl`).
pub async fn package(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let (package, digest) = app.registry.package(&id, &who).await?;
    let f = pairs(query)
        .into_iter()
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v);
    if let Some(other) = f
        .as_deref()
        .filter(|f| !matches!(*f, "json" | "wasm" | "cwl"))
    {
        return Err(Error::InvalidParameter(format!(
            "f must be json, wasm or cwl, not '{other}'"
        )));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let cwl_type = package::stored_cwl_media_type(&package);
    if let Some(media_type) = &cwl_type {
        if f.as_deref() == Some("cwl") || (f.is_none() && accept.contains(package::CWL)) {
            let bytes = app.registry.module(&digest)?;
            return Ok(([(header::CONTENT_TYPE, media_type.clone())], bytes).into_response());
        }
    }
    if cwl_type.is_none()
        && (f.as_deref() == Some("wasm") || (f.is_none() && accept.contains(WASM)))
    {
        let bytes = app.registry.module(&digest)?;
        return Ok(([(header::CONTENT_TYPE, WASM)], bytes).into_response());
    }
    Ok((
        [(header::CONTENT_TYPE, "application/ogcapppkg+json")],
        package.to_string(),
    )
        .into_response())
}

/// `GET /processes/{id}/visibility`: `{"visibility": "private" | "public"}`,
/// or `{"visibility": "shared", "tenants": [...]}`; for its owner only.
pub async fn visibility(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Visibility>> {
    Ok(Json(app.registry.visibility(&id, &who)?))
}

/// `PUT /processes/{id}/visibility` with the document `GET` returns: 204.
pub async fn set_visibility(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    raw: std::result::Result<Bytes, BytesRejection>,
) -> Result<StatusCode> {
    let bytes = body(raw)?;
    let visibility: Visibility = serde_json::from_slice(&bytes).map_err(|e| {
        Error::InvalidParameter(format!(
            "a visibility is {{\"visibility\": \"private\" | \"public\"}} or {{\"visibility\": \"shared\", \"tenants\": [...]}}: {e}"
        ))
    })?;
    app.registry.set_visibility(&id, visibility, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the body deploys, by its media type; `w` picks a process of a CWL
/// `$graph`.
fn deployable(
    headers: &HeaderMap,
    bytes: Bytes,
    id: Option<String>,
    w: Option<String>,
) -> Result<Deployable> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media == WASM {
        return Ok(Deployable::Component {
            bytes: bytes.to_vec(),
            id,
        });
    }
    if package::is_cwl(&media) {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::BadRequest("the CWL document is not UTF-8 text".into()))?;
        return Ok(Deployable::Cwl {
            text,
            media_type: media,
            w,
            id,
        });
    }
    if PACKAGE_TYPES.contains(&media.as_str()) {
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::BadRequest(format!("the package is not JSON: {e}")))?;
        return Ok(Deployable::Package(doc));
    }
    let shown = if media.is_empty() {
        "no Content-Type"
    } else {
        media.as_str()
    };
    Err(Error::UnsupportedMediaType(format!(
        "cannot deploy a body of {shown}; send a component as {WASM}, a CWL document as application/cwl+yaml or application/cwl+json, or an application package as application/ogcapppkg+json"
    )))
}
