//! The HTML face of the API: the same documents the JSON routes serve,
//! rendered by minijinja templates for people in a browser.
//!
//! Which one a request gets is decided by [`Format`]: `?f=html` or
//! `?f=json` first, then `Accept` (HTML only where the client ranks
//! `text/html` above JSON, as browsers do; clients that send nothing, `*/*`
//! or `application/json` get JSON). Pages are rendered from the very
//! document the JSON answer would hold, so a user sees in a page exactly
//! what the API would tell them, no more.
//!
//! Templates are built in (`host/templates`); an operator's folder
//! (`[html] templates`) replaces any of them by file name.

mod form;
mod negotiate;

pub use form::form_fields;
pub use negotiate::Format;

use crate::error::{Error, Result};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use std::path::PathBuf;

/// The built-in templates, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "landing.html",
        include_str!("../../../templates/landing.html"),
    ),
    (
        "conformance.html",
        include_str!("../../../templates/conformance.html"),
    ),
    (
        "processes.html",
        include_str!("../../../templates/processes.html"),
    ),
    (
        "process.html",
        include_str!("../../../templates/process.html"),
    ),
    ("jobs.html", include_str!("../../../templates/jobs.html")),
    ("job.html", include_str!("../../../templates/job.html")),
];

/// The page renderer.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// The built-in templates, each replaced by a file of the same name in
    /// `overrides` if there is one. Overrides are read when first used and
    /// then kept: editing one takes a restart.
    pub fn new(overrides: Option<PathBuf>) -> Pages {
        let mut env = Environment::new();
        env.set_loader(move |name: &str| {
            // Names come from our own code and templates' `extends`; still,
            // never leave the folder.
            if name.contains(['/', '\\']) || name.starts_with('.') {
                return Ok(None);
            }
            if let Some(dir) = &overrides {
                match std::fs::read_to_string(dir.join(name)) {
                    Ok(text) => return Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("template {name}: {e}"),
                        ))
                    }
                }
            }
            Ok(BUILT_IN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.to_string()))
        });
        // minijinja's HTML escaping also escapes `/`, which leaves every
        // URL in a page unreadable in its source; `&<>"'` are enough.
        env.set_formatter(
            |out, state, value| match (state.auto_escape(), value.as_str()) {
                (minijinja::AutoEscape::Html, Some(text)) if !value.is_safe() => {
                    out.write_str(&escape(text)).map_err(minijinja::Error::from)
                }
                _ => minijinja::escape_formatter(out, state, value),
            },
        );
        env.add_filter("tojson_pretty", |v: minijinja::Value| {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        });
        Pages { env }
    }

    /// Renders `template` with `context` (an object, to which `nonce` is
    /// added) as an HTML response.
    ///
    /// The page's Content-Security-Policy runs only the scripts that carry
    /// this response's nonce, and lets them call this origin only: text a
    /// user put into a job can never run, even if a template forgot to
    /// escape it.
    pub fn render(&self, template: &str, mut context: serde_json::Value) -> Result<Response> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        context["nonce"] = serde_json::Value::String(nonce.clone());
        let page = self
            .env
            .get_template(template)
            .and_then(|t| t.render(context))
            .map_err(|e| Error::Internal(format!("rendering {template}: {e:#}")))?;
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let mut response = (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // A page varies with Accept; caches must not serve one for the other.
                (header::VARY, "Accept"),
            ],
            page,
        )
            .into_response();
        let csp =
            header::HeaderValue::from_str(&csp).map_err(|e| Error::Internal(e.to_string()))?;
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
        Ok(response)
    }
}

/// `text` with the characters that mean something in HTML escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON or a page, as `format` says: the one place handlers choose. The
/// page's context is the JSON `document` (as `doc`), whatever else the
/// template needs (`page`) and the base of links (`base`).
pub fn respond(
    app: &super::AppState,
    format: Format,
    template: &str,
    document: serde_json::Value,
    extra: serde_json::Value,
) -> Result<Response> {
    match format {
        Format::Json => {
            let mut r = axum::Json(document).into_response();
            r.headers_mut()
                .insert(header::VARY, header::HeaderValue::from_static("Accept"));
            Ok(r)
        }
        Format::Html => app.pages.render(
            template,
            serde_json::json!({"doc": document, "page": extra, "base": &*app.base}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_compiles() {
        let pages = Pages::new(None);
        for (name, _) in BUILT_IN {
            pages
                .env
                .get_template(name)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn an_override_replaces_one_template_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("landing.html"),
            "{% extends \"base.html\" %}{% block content %}OURS {{ doc.title }}{% endblock %}",
        )
        .unwrap();
        let pages = Pages::new(Some(dir.path().to_path_buf()));
        let t = pages.env.get_template("landing.html").unwrap();
        let html = t
            .render(serde_json::json!({"doc": {"title": "<b>x</b>", "links": []}, "page": {}}))
            .unwrap();
        assert!(html.contains("OURS &lt;b&gt;x&lt;/b&gt;"), "{html}");
        assert!(html.contains("<html"), "the built-in base is still used");
    }
}
