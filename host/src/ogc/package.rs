//! OGC Application Packages (`application/ogcapppkg+json`, Part 2) whose
//! execution unit is a WebAssembly component, a CWL document (a link, or a
//! qualified value of media type `application/cwl…`) or a Part 2 `docker`
//! unit, and the process description a package may carry to complete what
//! the unit says of itself.

use crate::model::{Digest, JobControl, ProcessDescription};
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// The media type of a component.
pub const WASM: &str = "application/wasm";

/// Where a package's component comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionUnit {
    /// Given inline (`{"value": "<base64>", "encoding": "base64", "mediaType": "application/wasm"}`).
    Inline(Vec<u8>),
    /// To be fetched (`{"href": "https://…", "type": "application/wasm"}`).
    Href(String),
    /// Already in the module store (`{"digest": "sha256:…"}` or `"sha256:…"`).
    Stored(Digest),
    /// A CWL document.
    Cwl(CwlUnit),
    /// A Part 2 `docker` (or `oci`) unit: a container image to run.
    Docker(Map<String, Value>),
}

/// Where a package's CWL document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CwlUnit {
    /// Given in the package (`{"value": <CWL as text or JSON>, "mediaType": "application/cwl+yaml"}`).
    Text(String),
    /// To be fetched (`{"href": "https://…", "type": "application/cwl"}`).
    Href(String),
    /// Deployed before: the document is in the module store, and `w` is
    /// the process of a `$graph` it was deployed as.
    Stored {
        /// The document's digest.
        digest: Digest,
        /// The `$graph` entry.
        w: Option<String>,
    },
}

/// Media types of CWL documents start so (`application/cwl`,
/// `application/cwl+json`, `application/cwl+yaml`).
pub const CWL: &str = "application/cwl";

/// The `type` of a stored CWL execution unit.
pub const CWL_UNIT_TYPE: &str = "cwl";

/// Whether `media_type` is one of CWL's.
pub fn is_cwl(media_type: &str) -> bool {
    let m = media_type.split(';').next().unwrap_or_default().trim();
    m == CWL
        || m.strip_prefix(CWL)
            .is_some_and(|rest| rest.starts_with('+'))
}

/// The execution unit that names a stored CWL document, as packages are
/// kept.
pub fn stored_cwl_unit(digest: Digest, media_type: &str, w: Option<&str>) -> Value {
    let mut unit =
        json!({"type": CWL_UNIT_TYPE, "digest": digest.to_string(), "mediaType": media_type});
    if let Some(w) = w {
        unit["w"] = json!(w);
    }
    unit
}

/// The media type of the CWL document a kept package names, if it names
/// one (a docker unit's generated document is CWL JSON).
pub fn stored_cwl_media_type(package: &Value) -> Option<String> {
    let unit = package.get("executionUnit")?;
    match unit.get("type").and_then(Value::as_str) {
        Some(CWL_UNIT_TYPE) => Some(
            unit.get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or(CWL)
                .to_string(),
        ),
        Some("docker" | "oci") => Some(format!("{CWL}+json")),
        _ => None,
    }
}

/// `package` with its execution unit replaced by `unit`, as kept.
pub fn with_unit(package: &Value, unit: Value) -> Value {
    let mut m = package.as_object().cloned().unwrap_or_default();
    m.insert("executionUnit".into(), unit);
    Value::Object(m)
}

/// Why a package cannot be deployed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PackageError {
    /// The document is not a package this server reads.
    #[error("{0}")]
    Invalid(String),
    /// The execution unit is of a kind this server does not run (yet).
    #[error("{0}")]
    Unsupported(String),
}

/// A parsed application package.
#[derive(Debug, Clone, PartialEq)]
pub struct AppPackage {
    /// The `processDescription` member, if any.
    pub description: Option<Value>,
    /// The component.
    pub unit: ExecutionUnit,
}

impl AppPackage {
    /// Reads an `ogcapppkg` document.
    pub fn parse(doc: &Value) -> Result<Self, PackageError> {
        let invalid = |m: &str| PackageError::Invalid(m.into());
        let doc = doc
            .as_object()
            .ok_or_else(|| invalid("an application package is a JSON object"))?;
        let description = match doc.get("processDescription") {
            None | Some(Value::Null) => None,
            // Early drafts wrapped it as {"process": {...}}.
            Some(Value::Object(d)) => Some(
                d.get("process")
                    .cloned()
                    .unwrap_or(Value::Object(d.clone())),
            ),
            Some(_) => return Err(invalid("processDescription must be an object")),
        };
        let unit = match doc.get("executionUnit") {
            None => return Err(invalid("the package has no executionUnit")),
            Some(Value::Array(units)) => {
                // Several units are alternatives; take the first one we can run.
                let mut last = invalid("executionUnit is an empty array");
                let mut found = None;
                for u in units {
                    match unit(u) {
                        Ok(u) => {
                            found = Some(u);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                found.ok_or(last)?
            }
            Some(u) => unit(u)?,
        };
        Ok(AppPackage { description, unit })
    }
}

fn unit(u: &Value) -> Result<ExecutionUnit, PackageError> {
    let invalid = |m: String| PackageError::Invalid(m);
    if let Some(text) = u.as_str() {
        return digest(text).map(ExecutionUnit::Stored);
    }
    let Some(m) = u.as_object() else {
        return Err(invalid("an executionUnit is an object".into()));
    };
    // `type` is the kind of an executionUnit object, or the media type of a link.
    let kind = m.get("type").and_then(Value::as_str);
    match kind {
        Some("docker" | "oci") => return Ok(ExecutionUnit::Docker(m.clone())),
        Some(CWL_UNIT_TYPE) => {
            let digest = m
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("a stored CWL executionUnit names its digest".into()))
                .and_then(digest)?;
            let w = m.get("w").and_then(Value::as_str).map(str::to_string);
            return Ok(ExecutionUnit::Cwl(CwlUnit::Stored { digest, w }));
        }
        Some(k) if k != UNIT_TYPE && !k.contains('/') => {
            return Err(PackageError::Unsupported(format!(
                "executionUnit of type '{k}' is not supported by this server; deploy a WebAssembly component (type '{UNIT_TYPE}', or media type {WASM})"
            )))
        }
        _ => {}
    }
    let format = m.get("format").and_then(Value::as_object);
    let field = |key: &str| {
        m.get(key)
            .or_else(|| format.and_then(|f| f.get(key)))
            .and_then(Value::as_str)
    };
    let media_type = field("mediaType").or(kind.filter(|k| k.contains('/')));
    if let Some(mt) = media_type.filter(|mt| is_cwl(mt)) {
        return cwl_unit(m, mt);
    }
    if let Some(mt) = media_type {
        if mt.split(';').next().map(str::trim) != Some(WASM) {
            return Err(PackageError::Unsupported(format!(
                "executionUnit of media type '{mt}' is not supported by this server; deploy a WebAssembly component ({WASM}) or a CWL document ({CWL})"
            )));
        }
    }
    if let Some(d) = m.get("digest") {
        let text = d
            .as_str()
            .ok_or_else(|| invalid("digest must be a string".into()))?;
        return digest(text).map(ExecutionUnit::Stored);
    }
    if let Some(href) = m.get("href") {
        let href = href
            .as_str()
            .ok_or_else(|| invalid("href must be a string".into()))?;
        return Ok(ExecutionUnit::Href(href.to_string()));
    }
    if let Some(value) = m.get("value") {
        let text = value
            .as_str()
            .ok_or_else(|| invalid("an inline component is a base64 string".into()))?;
        if !matches!(field("encoding"), Some("base64") | None) {
            return Err(invalid(format!(
                "an inline component is base64-encoded, not '{}'",
                field("encoding").unwrap_or_default()
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| invalid(format!("the inline component is not valid base64: {e}")))?;
        return Ok(ExecutionUnit::Inline(bytes));
    }
    Err(invalid(
        "executionUnit needs one of `value` (base64 component), `href` or `digest`".into(),
    ))
}

/// A CWL unit: a link, or the document as a qualified value (YAML or JSON
/// text, or the JSON document itself).
fn cwl_unit(m: &Map<String, Value>, media_type: &str) -> Result<ExecutionUnit, PackageError> {
    let invalid = |m: String| PackageError::Invalid(m);
    if let Some(href) = m.get("href") {
        let href = href
            .as_str()
            .ok_or_else(|| invalid("href must be a string".into()))?;
        return Ok(ExecutionUnit::Cwl(CwlUnit::Href(href.to_string())));
    }
    match m.get("value") {
        Some(Value::String(text)) => Ok(ExecutionUnit::Cwl(CwlUnit::Text(text.clone()))),
        Some(doc @ Value::Object(_)) => Ok(ExecutionUnit::Cwl(CwlUnit::Text(doc.to_string()))),
        _ => Err(invalid(format!(
            "an executionUnit of media type '{media_type}' needs an `href` or a `value` (the CWL document)"
        ))),
    }
}

fn digest(text: &str) -> Result<Digest, PackageError> {
    match text.strip_prefix("sha256:").map(|_| Digest::parse(text)) {
        Some(Some(d)) => Ok(d),
        _ => Err(PackageError::Invalid(format!(
            "'{text}' is not a module digest (sha256:<64 hex digits>)"
        ))),
    }
}

/// The `type` of an executionUnit object that is a WebAssembly component.
pub const UNIT_TYPE: &str = "wasm";

/// The execution unit that names a stored component, as packages are kept:
/// an `executionUnit` object (Part 2's schema requires its `type`).
pub fn stored_unit(digest: Digest) -> Value {
    json!({"type": UNIT_TYPE, "digest": digest.to_string(), "mediaType": WASM})
}

/// `package` as kept and served back: the same document, with its
/// component named by digest so that its bytes are stored once, in the
/// module store.
pub fn as_stored(package: &Value, digest: Digest) -> Value {
    let mut m = package.as_object().cloned().unwrap_or_default();
    m.insert("executionUnit".into(), stored_unit(digest));
    Value::Object(m)
}

/// Whether `id` can name a process: 1 to 128 ASCII letters, digits, `-`,
/// `_` or `.`, starting with a letter or digit, so it is safe in URLs,
/// file names and logs.
pub fn valid_process_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `described` (what the component says of itself) completed by a
/// package's `processDescription`: its id, version, title, description and
/// keywords win, and so do the texts of the inputs and outputs it names.
/// Its `jobControlOptions` may narrow the component's (a deployer who wants
/// every execution to be a job, say), never widen them.
/// Schemas and occurrences stay the component's, since they are what the
/// component accepts; naming an input or output it does not have is an
/// error rather than a description that lies.
pub fn apply_description(
    described: &ProcessDescription,
    given: Option<&Value>,
) -> Result<ProcessDescription, PackageError> {
    let mut d = described.clone();
    let Some(given) = given else { return Ok(d) };
    let given = given
        .as_object()
        .ok_or_else(|| PackageError::Invalid("processDescription must be an object".into()))?;
    let text = |m: &Map<String, Value>, key: &str| -> Result<Option<String>, PackageError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(PackageError::Invalid(format!(
                "processDescription: {key} must be a string"
            ))),
        }
    };
    let keywords = |m: &Map<String, Value>| -> Result<Option<Vec<String>>, PackageError> {
        match m.get("keywords") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| {
                PackageError::Invalid(
                    "processDescription: keywords must be an array of strings".into(),
                )
            }),
        }
    };
    if let Some(id) = text(given, "id")? {
        d.id = id;
    }
    if let Some(v) = text(given, "version")? {
        d.version = v;
    }
    if let Some(t) = text(given, "title")? {
        d.title = Some(t);
    }
    if let Some(t) = text(given, "description")? {
        d.description = Some(t);
    }
    if let Some(k) = keywords(given)? {
        d.keywords = k;
    }
    if let Some(options) = given.get("jobControlOptions").filter(|v| !v.is_null()) {
        d.job_control_options = narrowed_job_control(&d.job_control_options, options)?;
    }
    for (kind, member) in [("input", "inputs"), ("output", "outputs")] {
        // null is "not given", as for the other members (clients send it).
        let Some(items) = given.get(member).filter(|v| !v.is_null()) else {
            continue;
        };
        let items = items.as_object().ok_or_else(|| {
            PackageError::Invalid(format!(
                "processDescription: {member} must be an object keyed by {kind} id"
            ))
        })?;
        for (id, item) in items {
            let item = item.as_object().ok_or_else(|| {
                PackageError::Invalid(format!(
                    "processDescription: {kind} '{id}' must be an object"
                ))
            })?;
            let texts = (
                text(item, "title")?,
                text(item, "description")?,
                keywords(item)?,
            );
            let target = match kind {
                "input" => d
                    .inputs
                    .iter_mut()
                    .find(|i| &i.id == id)
                    .map(|i| (&mut i.title, &mut i.description, &mut i.keywords)),
                _ => d
                    .outputs
                    .iter_mut()
                    .find(|o| &o.id == id)
                    .map(|o| (&mut o.title, &mut o.description, &mut o.keywords)),
            };
            let Some((title, description, kw)) = target else {
                return Err(PackageError::Invalid(format!(
                    "processDescription names {kind} '{id}', which the component does not have"
                )));
            };
            if let Some(t) = texts.0 {
                *title = Some(t);
            }
            if let Some(t) = texts.1 {
                *description = Some(t);
            }
            if let Some(k) = texts.2 {
                *kw = k;
            }
        }
    }
    Ok(d)
}

/// The job control options of `given` (a package's), which must be some
/// of `supported` (the component's) and allow at least one way to execute.
fn narrowed_job_control(
    supported: &[JobControl],
    given: &Value,
) -> Result<Vec<JobControl>, PackageError> {
    let options: Vec<JobControl> = serde_json::from_value(given.clone()).map_err(|_| {
        PackageError::Invalid(
            "processDescription: jobControlOptions must be an array of \
             sync-execute, async-execute or dismiss"
                .into(),
        )
    })?;
    if let Some(extra) = options.iter().find(|o| !supported.contains(o)) {
        return Err(PackageError::Invalid(format!(
            "processDescription: the component does not support the job control option {}",
            serde_json::to_string(extra).unwrap_or_default()
        )));
    }
    if !options
        .iter()
        .any(|o| matches!(o, JobControl::SyncExecute | JobControl::AsyncExecute))
    {
        return Err(PackageError::Invalid(
            "processDescription: jobControlOptions must allow sync-execute or async-execute".into(),
        ));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_of_execution_unit() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"\0asm");
        let inline =
            json!({"executionUnit": {"value": b64, "encoding": "base64", "mediaType": WASM}});
        assert_eq!(
            AppPackage::parse(&inline).unwrap().unit,
            ExecutionUnit::Inline(b"\0asm".to_vec())
        );
        let qualified = json!({"executionUnit": {"value": b64, "format": {"mediaType": WASM, "encoding": "base64"}}});
        assert_eq!(
            AppPackage::parse(&qualified).unwrap().unit,
            ExecutionUnit::Inline(b"\0asm".to_vec())
        );
        let href = json!({"executionUnit": [{"href": "https://example.org/p.wasm", "type": WASM}]});
        assert_eq!(
            AppPackage::parse(&href).unwrap().unit,
            ExecutionUnit::Href("https://example.org/p.wasm".into())
        );
        let d = Digest::of(b"x");
        let stored = json!({"executionUnit": stored_unit(d)});
        assert_eq!(
            AppPackage::parse(&stored).unwrap().unit,
            ExecutionUnit::Stored(d)
        );
        let bare = json!({"executionUnit": d.to_string()});
        assert_eq!(
            AppPackage::parse(&bare).unwrap().unit,
            ExecutionUnit::Stored(d)
        );
    }

    #[test]
    fn refuses_what_it_cannot_run_and_says_why() {
        let other = json!({"executionUnit": {"type": "jar", "href": "https://x/a.jar"}});
        assert!(
            matches!(AppPackage::parse(&other), Err(PackageError::Unsupported(m)) if m.contains("'jar'"))
        );
        let other = json!({"executionUnit": {"href": "https://x/a.py", "type": "text/x-python"}});
        assert!(
            matches!(AppPackage::parse(&other), Err(PackageError::Unsupported(m)) if m.contains("text/x-python"))
        );
        for bad in [
            json!([]),
            json!({}),
            json!({"executionUnit": {"value": "%%%"}}),
            json!({"executionUnit": "sha256:12"}),
        ] {
            assert!(
                matches!(AppPackage::parse(&bad), Err(PackageError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_cwl_and_docker_units() {
        let cwl = |u: Value| AppPackage::parse(&json!({"executionUnit": u})).map(|p| p.unit);
        assert_eq!(
            cwl(json!({"href": "https://x/a.cwl", "type": "application/cwl"})),
            Ok(ExecutionUnit::Cwl(CwlUnit::Href("https://x/a.cwl".into())))
        );
        assert_eq!(
            cwl(json!({"value": "class: Workflow", "mediaType": "application/cwl+yaml"})),
            Ok(ExecutionUnit::Cwl(CwlUnit::Text("class: Workflow".into())))
        );
        assert_eq!(
            cwl(
                json!({"value": {"class": "Workflow"}, "format": {"mediaType": "application/cwl+json"}})
            ),
            Ok(ExecutionUnit::Cwl(CwlUnit::Text(
                r#"{"class":"Workflow"}"#.into()
            )))
        );
        let d = Digest::of(b"x");
        assert_eq!(
            cwl(stored_cwl_unit(d, "application/cwl+yaml", Some("main"))),
            Ok(ExecutionUnit::Cwl(CwlUnit::Stored {
                digest: d,
                w: Some("main".into())
            }))
        );
        assert!(matches!(
            cwl(json!({"type": "oci", "image": "busybox"})),
            Ok(ExecutionUnit::Docker(m)) if m["image"] == "busybox"
        ));
        assert!(is_cwl("application/cwl+yaml; charset=utf-8") && !is_cwl("application/cwlx"));
    }

    #[test]
    fn a_description_may_leave_members_null() {
        let described = crate::ogc::description::tests::every_kind();
        let given = json!({"title": null, "inputs": null, "outputs": null, "keywords": null});
        assert_eq!(
            apply_description(&described, Some(&given)).unwrap(),
            described
        );
    }

    #[test]
    fn job_control_options_may_narrow_but_not_widen() {
        let mut described = crate::ogc::description::tests::every_kind();
        described.job_control_options = vec![JobControl::SyncExecute, JobControl::AsyncExecute];
        let narrowed = json!({"jobControlOptions": ["async-execute"]});
        assert_eq!(
            apply_description(&described, Some(&narrowed))
                .unwrap()
                .job_control_options,
            vec![JobControl::AsyncExecute]
        );
        for bad in [
            json!({"jobControlOptions": ["dismiss"]}),
            json!({"jobControlOptions": []}),
            json!({"jobControlOptions": ["teleport"]}),
            json!({"jobControlOptions": "async-execute"}),
        ] {
            assert!(apply_description(&described, Some(&bad)).is_err(), "{bad}");
        }
        described.job_control_options = vec![JobControl::SyncExecute];
        assert!(apply_description(&described, Some(&narrowed)).is_err());
    }

    #[test]
    fn process_ids_are_url_and_file_safe() {
        for ok in ["echo", "my.process-2_b", "A"] {
            assert!(valid_process_id(ok), "{ok}");
        }
        for bad in ["", "-x", "a/b", "a b", "..", "é", &"x".repeat(129)] {
            assert!(!valid_process_id(bad), "{bad}");
        }
    }
}
