//! Reading the JSON Schemas of process inputs and outputs: compiling them for
//! validation and answering the questions the wire format depends on (is this
//! a bounding box? binary? an integer? an array?).

use crate::model::Format;
use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::{Map, Value};

/// Refuses every external `$ref`. Default features of `jsonschema` are off,
/// so it could not fetch anyway; saying so here keeps that true even if
/// another crate in the build turns those features on, because a client
/// must never make the server fetch URLs while validating.
struct NoRemote;

impl Retrieve for NoRemote {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "external $ref {} is not fetched; inline it in the schema",
            uri.as_str()
        )
        .into())
    }
}

/// Compiles a process's input or output schema into a validator.
///
/// Schemas that name a draft in `$schema` are read as that draft; others
/// are tried as JSON Schema 2020-12 (what OGC API - Processes 2.0 uses) and
/// then as draft 4, which is how OpenAPI 3.0 schema objects, the dialect of
/// 1.0 descriptions (e.g. boolean `exclusiveMinimum`), behave. Formats are
/// checked so that a `date-time` input is a date-time; unknown formats such
/// as `ogc-bbox` pass. The error is meant for whoever deploys the process.
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    let options = || {
        jsonschema::options()
            .with_retriever(NoRemote)
            .should_validate_formats(true)
    };
    match options().build(schema) {
        Ok(v) => Ok(v),
        Err(first) if schema.get("$schema").is_none() => options()
            .with_draft(Draft::Draft4)
            .build(schema)
            .map_err(|_| first.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The `type` keyword as a list (it may be one name or several).
pub(crate) fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether the schema declares `type` to include `name`.
pub(crate) fn has_type(schema: &Value, name: &str) -> bool {
    types(schema).contains(&name)
}

/// Whether the schema describes an OGC bounding box: `format: ogc-bbox`, a
/// `bbox` property, or a `$ref` to a bbox schema, possibly inside
/// `allOf`/`anyOf`/`oneOf` as the OGC examples write it.
pub(crate) fn is_bbox(schema: &Value) -> bool {
    let Some(m) = schema.as_object() else {
        return false;
    };
    m.get("format").and_then(Value::as_str) == Some("ogc-bbox")
        || m.get("properties").and_then(|p| p.get("bbox")).is_some()
        || m.get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.rsplit('/').next().is_some_and(|f| f.starts_with("bbox.")))
        || ["allOf", "anyOf", "oneOf"].iter().any(|k| {
            m.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(is_bbox))
        })
}

/// Whether a media type is text that a JSON string carries as is; any other
/// type can only travel in JSON encoded (base64).
pub(crate) fn is_textual(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || essence.ends_with("+yaml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/cwl"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-www-form-urlencoded"
        )
}

/// One alternative a schema allows for a string, as far as encoding goes.
struct StringBranch {
    binary: bool,
    media_type: Option<String>,
}

fn string_branches(schema: &Value, inherited: &[&str], out: &mut Vec<StringBranch>) {
    let Some(m) = schema.as_object() else {
        return;
    };
    let own = types(schema);
    let ty: Vec<&str> = if own.is_empty() {
        inherited.to_vec()
    } else {
        own
    };
    // allOf parts constrain the same value, so their content keywords count
    // as the branch's own.
    let mut merged: Map<String, Value> = m.clone();
    if let Some(parts) = m.get("allOf").and_then(Value::as_array) {
        for part in parts.iter().filter_map(Value::as_object) {
            for key in ["contentEncoding", "contentMediaType"] {
                if let Some(v) = part.get(key) {
                    merged.entry(key).or_insert_with(|| v.clone());
                }
            }
        }
    }
    let encoding = merged.get("contentEncoding").and_then(Value::as_str);
    let media = merged.get("contentMediaType").and_then(Value::as_str);
    let mut alternatives = false;
    for key in ["oneOf", "anyOf"] {
        if let Some(a) = m.get(key).and_then(Value::as_array) {
            alternatives = true;
            for branch in a {
                string_branches(branch, &ty, out);
            }
        }
    }
    let stringy =
        ty.contains(&"string") || (ty.is_empty() && (encoding.is_some() || media.is_some()));
    if stringy && !(alternatives && encoding.is_none() && media.is_none()) {
        let binary = encoding
            .is_some_and(|e| e.eq_ignore_ascii_case("base64") || e.eq_ignore_ascii_case("binary"))
            || media.is_some_and(|t| !is_textual(t));
        out.push(StringBranch {
            binary,
            media_type: media.map(str::to_string),
        });
    }
}

/// `Some(media type)` when every string the schema allows is encoded
/// content (`contentEncoding` base64/binary, or a non-text
/// `contentMediaType`), so a JSON string must be base64-decoded. The media
/// type is known only when the schema names exactly one.
pub(crate) fn binary_media(schema: &Value) -> Option<Option<String>> {
    let mut branches = Vec::new();
    string_branches(schema, &[], &mut branches);
    if branches.is_empty() || !branches.iter().all(|b| b.binary) {
        return None;
    }
    let mut media: Vec<&str> = branches
        .iter()
        .filter_map(|b| b.media_type.as_deref())
        .collect();
    media.dedup();
    Some(if media.len() == 1 {
        Some(media[0].to_string())
    } else {
        None
    })
}

fn mentions_content_media_type(schema: &Value) -> bool {
    let Some(m) = schema.as_object() else {
        return false;
    };
    m.contains_key("contentMediaType")
        || ["allOf", "anyOf", "oneOf"].iter().any(|k| {
            m.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(mentions_content_media_type))
        })
}

/// The schema a description shows for an input or output with `formats`.
///
/// OGC 1.0 descriptions have no `formats` member: media types live in the
/// schema as `contentMediaType` (and `contentEncoding`, `contentSchema`),
/// one alternative per type. A schema that already names its media types is
/// the author's word and is shown unchanged. Several formats become `anyOf`,
/// not `oneOf`: the alternatives differ only in annotations, so under
/// `oneOf` every value would match all of them and none would be valid.
pub(crate) fn described(schema: &Value, formats: &[Format]) -> Value {
    if formats.is_empty() || mentions_content_media_type(schema) {
        return schema.clone();
    }
    let base = match schema {
        Value::Object(m) => m.clone(),
        // `true` (anything) is an empty object schema; `false` and other
        // oddities stay as they are.
        Value::Bool(true) => Map::new(),
        other => return other.clone(),
    };
    let branches: Vec<Value> = formats
        .iter()
        .map(|f| {
            let mut m = base.clone();
            m.insert(
                "contentMediaType".into(),
                Value::String(f.media_type.clone()),
            );
            if let Some(enc) = &f.encoding {
                m.insert("contentEncoding".into(), Value::String(enc.clone()));
            }
            if let Some(s) = &f.schema {
                m.insert("contentSchema".into(), Value::String(s.clone()));
            }
            Value::Object(m)
        })
        .collect();
    match <[Value; 1]>::try_from(branches) {
        Ok([one]) => one,
        Err(many) => serde_json::json!({ "anyOf": many }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fmt(t: &str) -> Format {
        Format {
            media_type: t.into(),
            encoding: None,
            schema: None,
        }
    }

    #[test]
    fn recognises_bbox_schemas() {
        assert!(is_bbox(&json!({"type": "object", "format": "ogc-bbox"})));
        assert!(is_bbox(
            &json!({"allOf": [{"format": "ogc-bbox"}, {"$ref": "../../bbox.yaml"}]})
        ));
        assert!(is_bbox(
            &json!({"type": "object", "properties": {"bbox": {"type": "array"}}})
        ));
        assert!(!is_bbox(&json!({"type": "object"})));
    }

    #[test]
    fn recognises_binary_schemas() {
        assert_eq!(binary_media(&json!({"type": "string"})), None);
        assert_eq!(
            binary_media(&json!({"type": "string", "contentEncoding": "base64"})),
            Some(None)
        );
        assert_eq!(
            binary_media(&json!({"type": "string", "contentMediaType": "image/png"})),
            Some(Some("image/png".into()))
        );
        assert_eq!(
            binary_media(&json!({"type": "string", "contentMediaType": "text/plain"})),
            None
        );
        assert_eq!(
            binary_media(&json!({"type": "object", "contentMediaType": "image/png"})),
            None
        );
        // Text or binary: a plain string is text.
        assert_eq!(
            binary_media(&json!({"oneOf": [
                {"type": "string", "contentMediaType": "application/gml+xml"},
                {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"}]})),
            None
        );
        assert_eq!(
            binary_media(&json!({"type": "string", "anyOf": [
                {"contentMediaType": "image/tiff"}, {"contentMediaType": "image/png"}]})),
            Some(None)
        );
    }

    #[test]
    fn formats_become_content_media_types() {
        let s = json!({"type": "string"});
        assert_eq!(described(&s, &[]), s);
        assert_eq!(
            described(&s, &[fmt("image/png")]),
            json!({"type": "string", "contentMediaType": "image/png"})
        );
        assert_eq!(
            described(&s, &[fmt("image/png"), fmt("image/tiff")]),
            json!({"anyOf": [{"type": "string", "contentMediaType": "image/png"},
                             {"type": "string", "contentMediaType": "image/tiff"}]})
        );
        let own = json!({"type": "string", "contentMediaType": "text/csv"});
        assert_eq!(described(&own, &[fmt("image/png")]), own);
    }

    #[test]
    fn compiles_2020_12_and_openapi_3_0_schemas() {
        let modern = compile_schema(&json!({"type": "number", "exclusiveMinimum": 0})).unwrap();
        assert!(!modern.is_valid(&json!(0)));
        let oas30 =
            compile_schema(&json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}))
                .unwrap();
        assert!(!oas30.is_valid(&json!(0)));
        assert!(oas30.is_valid(&json!(1)));
    }

    #[test]
    fn never_fetches_remote_refs() {
        let err = compile_schema(&json!({"$ref": "https://example.org/schema.json"})).unwrap_err();
        assert!(err.contains("example.org"), "{err}");
    }
}
