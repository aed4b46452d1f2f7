//! The process list and process descriptions.

use super::html::{form_fields, respond, Format};
use super::AppState;
use crate::error::{Error, Result};
use crate::model::Principal;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{json, Value};

/// Paging parameters shared by the list endpoints.
pub struct Page {
    /// Page size.
    pub limit: u32,
    /// Items skipped.
    pub offset: u32,
}

/// Reads `limit` (1..=max, default `default`) and `offset`.
pub fn page(pairs: &[(String, String)], default: u32, max: u32) -> Result<Page> {
    // Any non-negative integer is a valid page request: a limit beyond the
    // maximum gets the maximum, an offset beyond the end an empty page.
    let number = |key: &str| -> Result<Option<u32>> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| {
                let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                match v.parse::<u32>() {
                    Ok(n) => Ok(n),
                    Err(_) if digits => Ok(u32::MAX),
                    Err(_) => Err(Error::InvalidParameter(format!(
                        "{key} must be a non-negative integer, not '{v}'"
                    ))),
                }
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(default);
    if limit == 0 {
        return Err(Error::InvalidParameter("limit must be at least 1".into()));
    }
    Ok(Page {
        limit: limit.min(max),
        offset: number("offset")?.unwrap_or(0),
    })
}

/// Query pairs, repeated keys kept.
pub fn pairs(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A link to the same path with another offset.
fn page_link(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    rel: &str,
    offset: u32,
    limit: u32,
) -> Value {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "offset" && k != "limit") {
        q.append_pair(k, v);
    }
    q.append_pair("limit", &limit.to_string());
    q.append_pair("offset", &offset.to_string());
    json!({"href": format!("{base}{path}?{}", q.finish()), "rel": rel, "type": "application/json"})
}

/// `self`, and `next`/`prev` where there are more items that way.
pub fn page_links(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    page: &Page,
    more: bool,
) -> Vec<Value> {
    let mut links =
        vec![json!({"href": format!("{base}{path}"), "rel": "self", "type": "application/json"})];
    if more {
        links.push(page_link(
            base,
            path,
            pairs,
            "next",
            page.offset.saturating_add(page.limit),
            page.limit,
        ));
    }
    if page.offset > 0 {
        links.push(page_link(
            base,
            path,
            pairs,
            "prev",
            page.offset.saturating_sub(page.limit),
            page.limit,
        ));
    }
    links
}

/// `GET /processes`.
pub async fn list(
    State(app): State<AppState>,
    who: Principal,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs = pairs(query);
    let page = page(&pairs, 100, 10_000)?;
    let all = app.registry.list_for(&who);
    let b = &app.base;
    let summaries: Vec<Value> = all
        .iter()
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(|e| crate::ogc::description::process_summary(&e.description, b, e.mutable))
        .collect();
    let more = (page.offset + page.limit) < all.len() as u32;
    let links = page_links(b, "/processes", &pairs, &page, more);
    let doc = json!({"processes": summaries, "links": links});
    respond(&app, format, "processes.html", doc, json!({}))
}

/// `GET /processes/{id}`.
pub async fn describe(
    State(app): State<AppState>,
    who: Principal,
    format: Format,
    Path(id): Path<String>,
) -> Result<Response> {
    let e = app.registry.get_for(&id, &who)?;
    let doc = crate::ogc::description::process_document(&e.description, &app.base, e.mutable);
    let fields = match format {
        Format::Html => serde_json::to_value(form_fields(&doc)).unwrap_or_default(),
        Format::Json => Value::Null,
    };
    respond(&app, format, "process.html", doc, json!({"fields": fields}))
}
