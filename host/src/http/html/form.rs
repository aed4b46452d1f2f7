//! The execute form of a process page, read from the input schemas of its
//! description: one field per input, of a kind a browser can edit.

use crate::ogc::schema;
use serde::Serialize;
use serde_json::Value;

/// One form field.
#[derive(Debug, Serialize, PartialEq)]
pub struct Field {
    /// Input id.
    pub id: String,
    /// What to call it.
    pub label: String,
    /// Its description, if any.
    pub help: Option<String>,
    /// How it is edited: `text`, `enum`, `number`, `integer`, `boolean`,
    /// `array`, `object`, `binary`, `bbox` or `href`.
    pub kind: &'static str,
    /// Whether the process needs it.
    pub required: bool,
    /// Whether it takes several values (a JSON array of them).
    pub repeated: bool,
    /// The choices of an `enum`.
    pub options: Vec<String>,
    /// Bounds of a number.
    pub minimum: Option<f64>,
    /// Bounds of a number.
    pub maximum: Option<f64>,
    /// The default value, as text.
    pub default: Option<String>,
    /// The media type a `binary` value is sent as.
    pub media_type: Option<String>,
}

/// The fields for the `inputs` of a process description document.
pub fn form_fields(description: &Value) -> Vec<Field> {
    let Some(inputs) = description.get("inputs").and_then(Value::as_object) else {
        return Vec::new();
    };
    inputs.iter().map(|(id, input)| field(id, input)).collect()
}

fn field(id: &str, input: &Value) -> Field {
    let schema = input.get("schema").cloned().unwrap_or(Value::Null);
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let max_occurs = input.get("maxOccurs");
    let repeated = match max_occurs {
        Some(Value::Number(n)) => n.as_u64().is_some_and(|n| n > 1),
        Some(Value::String(s)) => s == "unbounded",
        _ => false,
    };
    let binary = schema::binary_media(&schema);
    let kind = if schema::is_bbox(&schema) {
        "bbox"
    } else if binary.is_some() {
        "binary"
    } else if schema.get("enum").and_then(Value::as_array).is_some() {
        "enum"
    } else if matches!(
        schema.get("format").and_then(Value::as_str),
        Some("uri" | "uri-reference" | "url")
    ) {
        "href"
    } else {
        let types = schema::types(&schema);
        match types.as_slice() {
            ["boolean"] => "boolean",
            ["integer"] => "integer",
            ["number"] => "number",
            ["string"] => "text",
            ["array"] => "array",
            _ => "object",
        }
    };
    Field {
        id: id.to_string(),
        label: input
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string(),
        help: input
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        kind,
        required: input.get("minOccurs").and_then(Value::as_u64).unwrap_or(1) > 0,
        repeated,
        options: schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default(),
        minimum: schema.get("minimum").and_then(Value::as_f64),
        maximum: schema.get("maximum").and_then(Value::as_f64),
        default: schema.get("default").map(text),
        media_type: binary
            .flatten()
            .or_else(|| {
                schema
                    .get("contentMediaType")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .or(Some("application/octet-stream".into()))
            .filter(|_| kind == "binary"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::description::tests::every_kind;

    #[test]
    fn every_schema_kind_gets_a_field() {
        let doc = crate::ogc::process_document(&every_kind(), "http://x", false);
        let fields = form_fields(&doc);
        let kind = |id: &str| fields.iter().find(|f| f.id == id).unwrap().kind;
        assert_eq!(kind("string"), "enum");
        assert_eq!(kind("text"), "text");
        assert_eq!(kind("number"), "number");
        assert_eq!(kind("integer"), "integer");
        assert_eq!(kind("boolean"), "boolean");
        assert_eq!(kind("array"), "array");
        assert_eq!(kind("object"), "object");
        assert_eq!(kind("bbox"), "bbox");
        assert_eq!(kind("binary"), "binary");
        assert_eq!(kind("file"), "href");
        let string = fields.iter().find(|f| f.id == "string").unwrap();
        assert_eq!(string.options, ["a", "b", "hello"]);
        assert!(string.required);
        let number = fields.iter().find(|f| f.id == "number").unwrap();
        assert_eq!((number.minimum, number.maximum), (Some(0.0), Some(100.0)));
        assert!(!number.required);
        assert!(fields.iter().find(|f| f.id == "multi").unwrap().repeated);
        let binary = fields.iter().find(|f| f.id == "binary").unwrap();
        assert_eq!(binary.media_type.as_deref(), Some("image/png"));
    }
}
