//! The `Prefer` header (RFC 7240) as OGC API – Processes uses it.

use axum::http::HeaderMap;
use std::time::Duration;

/// What the client prefers.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Prefer {
    /// `respond-async`.
    pub respond_async: bool,
    /// `wait=N`: answer within N seconds.
    pub wait: Option<Duration>,
    /// `return=minimal` (true) or `return=representation` (false).
    pub minimal: Option<bool>,
}

impl Prefer {
    /// Reads every `Prefer` header; unknown preferences are ignored, as the RFC says.
    pub fn from_headers(headers: &HeaderMap) -> Prefer {
        Prefer::from_values(
            headers
                .get_all("prefer")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }

    /// Reads `Prefer` values given some other way (KVP execute's `prefer`).
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Prefer {
        let mut p = Prefer::default();
        for value in values {
            for token in value.split(',').map(str::trim) {
                let (name, arg) = match token.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (token, None),
                };
                match (name.to_ascii_lowercase().as_str(), arg) {
                    ("respond-async", _) => p.respond_async = true,
                    ("wait", Some(n)) => p.wait = n.parse::<u64>().ok().map(Duration::from_secs),
                    ("return", Some("minimal")) => p.minimal = Some(true),
                    ("return", Some("representation")) => p.minimal = Some(false),
                    _ => {}
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_preferences_ogc_uses() {
        let mut h = HeaderMap::new();
        h.append("prefer", "respond-async, wait=10".parse().unwrap());
        h.append(
            "prefer",
            "return=\"minimal\", handling=lenient".parse().unwrap(),
        );
        let p = Prefer::from_headers(&h);
        assert!(p.respond_async);
        assert_eq!(p.wait, Some(Duration::from_secs(10)));
        assert_eq!(p.minimal, Some(true));
        assert_eq!(Prefer::from_headers(&HeaderMap::new()), Prefer::default());
    }
}
