//! `f=html|json` and `Accept` negotiation.

use crate::error::Error;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

/// What a request gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The API's JSON document: the default.
    Json,
    /// A page for a person.
    Html,
}

impl Format {
    /// From the query's `f` (`json` or `html`; anything else, or more
    /// than one, is refused), else from `Accept`.
    pub fn of(query: Option<&str>, headers: &HeaderMap) -> Result<Format, Error> {
        let fs: Vec<String> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| k == "f")
                    .map(|(_, v)| v.into_owned())
                    .collect()
            })
            .unwrap_or_default();
        match fs.as_slice() {
            [] => {}
            [f] if f == "html" => return Ok(Format::Html),
            [f] if f == "json" => return Ok(Format::Json),
            _ => {
                return Err(Error::InvalidParameter(format!(
                    "f must be json or html, once, not {fs:?}"
                )))
            }
        }
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Ok(from_accept(&accept))
    }
}

/// HTML only if `text/html` is named, and ranked above anything that
/// stands for JSON (`application/json`, `application/*`, `*/*`): a browser
/// asks `text/html,…,*/*;q=0.8`, while a client asking for `*/*` alone, or
/// for both at the same rank, wants the API's own format.
fn from_accept(accept: &str) -> Format {
    let (mut html, mut json) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let range = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match range.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            "application/json" | "application/*" | "*/*" => json = json.max(q),
            _ => {}
        }
    }
    match html > json {
        true => Format::Html,
        false => Format::Json,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Format, Error> {
        Format::of(parts.uri.query(), &parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(a: &str) -> Format {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, a.parse().unwrap());
        Format::of(None, &h).unwrap()
    }

    #[test]
    fn browsers_get_pages_and_clients_json() {
        // Chromium's and Firefox's navigation Accept headers.
        assert_eq!(
            accept("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
            Format::Html
        );
        assert_eq!(
            accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Format::Html
        );
        for client in [
            "*/*",
            "application/json",
            "application/json, text/html",
            "text/html;q=0.5, application/json",
            "application/geo+json",
        ] {
            assert_eq!(accept(client), Format::Json, "{client}");
        }
        assert_eq!(Format::of(None, &HeaderMap::new()).unwrap(), Format::Json);
    }

    #[test]
    fn f_wins_over_accept() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "text/html".parse().unwrap());
        assert_eq!(Format::of(Some("f=json"), &h).unwrap(), Format::Json);
        assert_eq!(
            Format::of(Some("limit=2&f=html"), &HeaderMap::new()).unwrap(),
            Format::Html
        );
        for bad in ["f=G", "f=null&f=null", "f=json&f=html", "f="] {
            assert!(Format::of(Some(bad), &h).is_err(), "{bad}");
        }
    }
}
