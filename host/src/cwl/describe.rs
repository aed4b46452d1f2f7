//! The OGC process description of a CWL process: its inputs and outputs as
//! JSON schemas, `label` as title and `doc` as description.
//!
//! - scalar types map to their JSON types, `enum` to a string enum,
//!   records to objects, unions to `oneOf`;
//! - an optional type (`T?`) or a default makes `minOccurs` 0;
//! - an array of anything but arrays is a repeatable input (`maxOccurs`
//!   unbounded), an array of arrays one JSON array;
//! - a File is content of the media type its `format` names (binary,
//!   `contentEncoding: binary`, unless it is text), given inline or by
//!   reference; a Directory is a link.

use super::model::{InputParameter, OutputParameter, Process};
use super::types::CwlType;
use crate::model::{
    Format, InputDescription, JobControl, Limits, OutputDescription, ProcessDescription,
};
use serde_json::{json, Map, Value};

/// Where IANA media types live as format IRIs (`iana:image/tiff`).
const IANA: &[&str] = &[
    "https://www.iana.org/assignments/media-types/",
    "http://www.iana.org/assignments/media-types/",
];

/// The media type of File content whose format says nothing usable.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The description of `process`, deployed as `id`.
pub fn describe(process: &Process, id: &str) -> ProcessDescription {
    ProcessDescription {
        id: id.to_string(),
        version: "1.0.0".into(),
        title: process.texts.label.clone(),
        description: process.texts.doc.clone(),
        keywords: vec![],
        inputs: process.inputs.iter().map(|i| input(i, process)).collect(),
        outputs: process.outputs.iter().map(|o| output(o, process)).collect(),
        job_control_options: vec![
            JobControl::SyncExecute,
            JobControl::AsyncExecute,
            JobControl::Dismiss,
        ],
        limits: Limits::default(),
    }
}

fn input(p: &InputParameter, process: &Process) -> InputDescription {
    let (ty, nullable) = without_null(&p.ty);
    let (item, max_occurs) = match ty {
        CwlType::Array(a) if !matches!(without_null(&a.items).0, CwlType::Array(_)) => {
            (&a.items, None)
        }
        other => (other, Some(1)),
    };
    let media_types = media_types(p.format.as_ref(), process);
    let mut schema = schema_of(item, &media_types);
    if let (Some(default), Value::Object(m)) = (&p.default, &mut schema) {
        if !holds_files(default) {
            m.insert("default".into(), default.clone());
        }
    }
    InputDescription {
        id: p.id.clone(),
        title: p.texts.label.clone(),
        description: p.texts.doc.clone(),
        keywords: vec![],
        schema,
        min_occurs: if nullable || p.default.is_some() {
            0
        } else {
            1
        },
        max_occurs,
        formats: formats(item, &media_types),
    }
}

fn output(o: &OutputParameter, process: &Process) -> OutputDescription {
    let (ty, _) = without_null(&o.ty);
    let media_types = media_types(o.format.as_ref(), process);
    OutputDescription {
        id: o.id.clone(),
        title: o.texts.label.clone(),
        description: o.texts.doc.clone(),
        keywords: vec![],
        schema: schema_of(ty, &media_types),
        formats: formats(ty, &media_types),
    }
}

/// The type without its `null` alternative, and whether it had one.
fn without_null(ty: &CwlType) -> (&CwlType, bool) {
    match ty {
        CwlType::Union(ts) if ts.contains(&CwlType::Null) => {
            let rest: Vec<&CwlType> = ts.iter().filter(|t| **t != CwlType::Null).collect();
            match rest.as_slice() {
                [one] => (*one, true),
                // Several others stay a union; the null is allowed by occurrences.
                _ => (ty, true),
            }
        }
        other => (other, false),
    }
}

/// The JSON schema of one value of `ty`; Files are of `media_types` (the
/// first), else of any type.
fn schema_of(ty: &CwlType, media_types: &[String]) -> Value {
    match ty {
        CwlType::Null => json!({"nullable": true, "not": {}}),
        CwlType::Boolean => json!({"type": "boolean"}),
        CwlType::Int | CwlType::Long => json!({"type": "integer"}),
        CwlType::Float | CwlType::Double => json!({"type": "number"}),
        CwlType::String => json!({"type": "string"}),
        CwlType::Any => json!({}),
        CwlType::File => {
            let media_type = media_types.first().map_or(OCTET_STREAM, String::as_str);
            // Text travels as it is in JSON; anything else base64-encoded.
            if crate::ogc::schema::is_textual(media_type) {
                json!({"type": "string", "contentMediaType": media_type})
            } else {
                json!({"type": "string", "contentEncoding": "binary", "contentMediaType": media_type})
            }
        }
        CwlType::Directory => json!({"type": "string", "format": "uri"}),
        CwlType::Enum(e) => json!({"type": "string", "enum": e.symbols}),
        CwlType::Array(a) => json!({"type": "array", "items": schema_of(&a.items, media_types)}),
        CwlType::Record(r) => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for f in &r.fields {
                let (fty, nullable) = without_null(&f.ty);
                properties.insert(f.name.clone(), schema_of(fty, &[]));
                if !nullable {
                    required.push(f.name.clone());
                }
            }
            let mut m = Map::new();
            m.insert("type".into(), json!("object"));
            m.insert("properties".into(), Value::Object(properties));
            // The OGC schema (like JSON Schema draft 4) wants a non-empty list.
            if !required.is_empty() {
                m.insert("required".into(), json!(required));
            }
            Value::Object(m)
        }
        CwlType::Union(ts) => {
            let (rest, nullable) = without_null(ty);
            if !std::ptr::eq(rest, ty) {
                let mut s = schema_of(rest, media_types);
                if let Value::Object(m) = &mut s {
                    m.insert("nullable".into(), json!(true));
                }
                return s;
            }
            let options: Vec<Value> = ts
                .iter()
                .filter(|t| **t != CwlType::Null)
                .map(|t| schema_of(t, media_types))
                .collect();
            let mut m = Map::new();
            m.insert("oneOf".into(), Value::Array(options));
            if nullable {
                m.insert("nullable".into(), json!(true));
            }
            Value::Object(m)
        }
    }
}

/// The `formats` of a value of `ty`: the File's media types.
fn formats(ty: &CwlType, media_types: &[String]) -> Vec<Format> {
    let files = match ty {
        CwlType::File => true,
        CwlType::Array(a) => a.items == CwlType::File,
        _ => false,
    };
    if !files {
        return vec![];
    }
    media_types
        .iter()
        .map(|m| Format {
            media_type: m.clone(),
            encoding: Some("binary".into()),
            schema: None,
        })
        .collect()
}

/// The media type of a file that has no format, by its extension.
pub fn by_extension(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("geojson") => "application/geo+json",
        Some("xml") => "application/xml",
        Some("html" | "htm") => "text/html",
        Some("tif" | "tiff") => "image/tiff",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("zip") => "application/zip",
        _ => OCTET_STREAM,
    }
}

/// The media types a CWL `format` (a string or list; expressions are left
/// out) names: IANA IRIs give theirs, a bare `type/subtype` is one.
pub fn media_types(format: Option<&Value>, process: &Process) -> Vec<String> {
    let names: Vec<&str> = match format {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    names
        .into_iter()
        .filter(|f| !f.contains("$(") && !f.contains("${"))
        .filter_map(|f| media_type(&super::outputs::expand_format(f, process)))
        .collect()
}

/// The media type of one expanded format IRI, if it is one.
pub fn media_type(format: &str) -> Option<String> {
    for prefix in IANA {
        if let Some(rest) = format.strip_prefix(prefix) {
            return Some(rest.to_string());
        }
    }
    let (kind, sub) = format.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    (token(kind) && token(sub) && !format.contains(':')).then(|| format.to_string())
}

fn holds_files(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.contains_key("class") || o.values().any(holds_files),
        Value::Array(a) => a.iter().any(holds_files),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cwl::document::load_deployed;

    #[test]
    fn types_become_schemas_and_occurrences() {
        let cwl = r#"
cwlVersion: v1.2
class: CommandLineTool
id: t
label: A tool
doc: [Does things., Well.]
$namespaces: {iana: "https://www.iana.org/assignments/media-types/"}
requirements: {DockerRequirement: {dockerPull: x}}
baseCommand: 'true'
inputs:
  s: {type: string, label: S, doc: an s}
  n: {type: int, default: 3}
  x: double?
  b: boolean
  e: {type: {type: enum, symbols: [a, b]}}
  many: string[]
  grid: {type: {type: array, items: {type: array, items: int}}}
  r: {type: {type: record, fields: {k: string, v: int?}}}
  f: {type: File, format: iana:image/tiff}
  d: Directory
outputs:
  out: {type: File, format: iana:text/plain, outputBinding: {glob: o.txt}}
  count: {type: int, outputBinding: {outputEval: '$(1)'}}
"#;
        let d = describe(&load_deployed(cwl, None).unwrap().process, "t");
        assert_eq!(d.title.as_deref(), Some("A tool"));
        assert_eq!(d.description.as_deref(), Some("Does things.\nWell."));
        let i = |id: &str| d.inputs.iter().find(|i| i.id == id).unwrap();
        assert_eq!(i("s").schema, json!({"type": "string"}));
        assert_eq!(
            (i("s").title.as_deref(), i("s").description.as_deref()),
            (Some("S"), Some("an s"))
        );
        assert_eq!(i("n").schema, json!({"type": "integer", "default": 3}));
        assert_eq!((i("n").min_occurs, i("n").max_occurs), (0, Some(1)));
        assert_eq!(
            (i("x").min_occurs, i("x").schema.clone()),
            (0, json!({"type": "number"}))
        );
        assert_eq!((i("many").min_occurs, i("many").max_occurs), (1, None));
        assert_eq!(
            (i("grid").max_occurs, i("grid").schema.clone()),
            (
                Some(1),
                json!({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}})
            )
        );
        assert_eq!(i("e").schema, json!({"type": "string", "enum": ["a", "b"]}));
        assert_eq!(
            i("r").schema,
            json!({"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer"}}, "required": ["k"]})
        );
        assert_eq!(
            i("f").schema,
            json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"})
        );
        assert_eq!(i("f").formats[0].media_type, "image/tiff");
        assert_eq!(i("d").schema, json!({"type": "string", "format": "uri"}));
        assert_eq!(
            d.outputs[0].schema,
            json!({"type": "string", "contentMediaType": "text/plain"})
        );
        assert_eq!(d.outputs[1].schema, json!({"type": "integer"}));
    }

    #[test]
    fn formats_name_media_types_only_when_they_are_ones() {
        assert_eq!(
            media_type("https://www.iana.org/assignments/media-types/image/png").as_deref(),
            Some("image/png")
        );
        assert_eq!(media_type("text/csv").as_deref(), Some("text/csv"));
        assert_eq!(media_type("http://edamontology.org/format_3752"), None);
    }
}
