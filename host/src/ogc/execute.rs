//! Execute requests (`POST /processes/{id}/execution`): from the JSON body
//! to validated input values and the client's wishes for the outputs.

use super::schema;
use crate::model::{InputDescription, NamedValue, ProcessDescription, Value};
use base64::Engine as _;
use jsonschema::Validator;
use serde_json::{Map, Value as Json};

/// A parsed and validated execute request.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteRequest {
    /// Input values in the order the process declares its inputs, one entry
    /// per occurrence. Links stay [`Value::Reference`]: fetching them is the
    /// host's business, under its own limits.
    pub inputs: Vec<NamedValue>,
    /// The outputs the client asked for, in declaration order; empty means
    /// all of them, by value.
    pub outputs: Vec<OutputRequest>,
    /// The 1.0 `response` member; `None` when the client left it out (2.0
    /// clients use the `Prefer` header instead).
    pub response: Option<ResponseForm>,
    /// Callback URLs (`subscriber`), if any.
    pub subscriber: Option<Subscriber>,
}

/// How the client wants one output. Stored with the job, hence serde.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputRequest {
    /// Output id.
    pub id: String,
    /// By value or by reference.
    pub transmission: Transmission,
    /// The requested `format.mediaType`, unchecked against the output's
    /// formats (the host decides whether it can convert).
    pub media_type: Option<String>,
}

/// OGC `transmissionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Transmission {
    /// Inline in the response.
    #[default]
    Value,
    /// As a link the client follows.
    Reference,
}

/// OGC 1.0 `response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseForm {
    /// The outputs themselves (one body, or `multipart/related`).
    Raw,
    /// A JSON results document.
    Document,
}

/// OGC `subscriber`: where to POST when the job changes. Stored with the
/// job, hence serde.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Subscriber {
    /// Called with the results on success.
    pub success_uri: Option<String>,
    /// Called with the status info while running.
    pub in_progress_uri: Option<String>,
    /// Called with the exception on failure.
    pub failed_uri: Option<String>,
}

/// Why an execute request was refused. Every case is the client's fault
/// (HTTP 400, type [`super::INVALID_PARAMETER`]); the message names the
/// input or output concerned so that it can serve as the `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    /// The body is not an execute request.
    #[error("malformed execute request: {0}")]
    Malformed(String),
    /// An input value does not fit the input's description.
    #[error("input \"{input}\": {detail}")]
    InvalidInput {
        /// Input id.
        input: String,
        /// What is wrong.
        detail: String,
    },
    /// The process has no input of that id.
    #[error("the process has no input \"{0}\"")]
    UnknownInput(String),
    /// The process has no output of that id.
    #[error("the process has no output \"{0}\"")]
    UnknownOutput(String),
    /// A required input is absent.
    #[error("input \"{0}\" is required")]
    MissingInput(String),
    /// An input occurs more or fewer times than allowed.
    #[error("input \"{input}\": {detail}")]
    Occurrences {
        /// Input id.
        input: String,
        /// The counts.
        detail: String,
    },
}

impl ExecuteError {
    /// The exception document for this error.
    pub fn to_exception(&self) -> Json {
        super::exception(
            super::INVALID_PARAMETER,
            "Invalid execute request",
            400,
            &self.to_string(),
        )
    }
}

/// Parses execute bodies for one process, with its input schemas compiled
/// once: compiling a schema costs far more than checking a value with it.
pub struct ExecuteParser {
    description: ProcessDescription,
    /// Per input, in declaration order; `None` for a schema that does not
    /// compile. That is the deployer's fault, caught by `compile_schema` at
    /// deploy; refusing every client for it would help no one, so such an
    /// input is only converted, not validated.
    validators: Vec<Option<Validator>>,
}

impl ExecuteParser {
    /// Compiles the input schemas of `d`.
    pub fn new(d: &ProcessDescription) -> Self {
        ExecuteParser {
            validators: d
                .inputs
                .iter()
                .map(|i| schema::compile_schema(&i.schema).ok())
                .collect(),
            description: d.clone(),
        }
    }

    /// Parses an execute body (1.0 or 2.0 form) against the process's
    /// description.
    ///
    /// Unknown top-level members (1.0 `mode`, 2.0 `process`) are ignored.
    pub fn parse(&self, body: &Json) -> Result<ExecuteRequest, ExecuteError> {
        parse(body, &self.description, &self.validators)
    }
}

/// [`ExecuteParser::parse`] for a one-off parse.
pub fn parse_execute(body: &Json, d: &ProcessDescription) -> Result<ExecuteRequest, ExecuteError> {
    ExecuteParser::new(d).parse(body)
}

fn parse(
    body: &Json,
    d: &ProcessDescription,
    validators: &[Option<Validator>],
) -> Result<ExecuteRequest, ExecuteError> {
    let body = body
        .as_object()
        .ok_or_else(|| malformed("the body must be a JSON object"))?;
    let empty = Map::new();
    let given = match body.get("inputs") {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(m)) => m,
        Some(_) => return Err(malformed("\"inputs\" must be an object keyed by input id")),
    };
    if let Some(id) = given
        .keys()
        .find(|id| !d.inputs.iter().any(|i| &i.id == *id))
    {
        return Err(ExecuteError::UnknownInput(id.clone()));
    }
    let mut inputs = Vec::new();
    for (desc, validator) in d.inputs.iter().zip(validators) {
        match given.get(&desc.id) {
            Some(v) => inputs.extend(parse_input(v, desc, validator.as_ref())?),
            None if desc.min_occurs > 0 => return Err(ExecuteError::MissingInput(desc.id.clone())),
            None => {}
        }
    }
    Ok(ExecuteRequest {
        inputs,
        outputs: parse_outputs(body.get("outputs"), d)?,
        response: match body.get("response") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s == "raw" => Some(ResponseForm::Raw),
            Some(Json::String(s)) if s == "document" => Some(ResponseForm::Document),
            Some(_) => return Err(malformed("\"response\" must be \"raw\" or \"document\"")),
        },
        subscriber: parse_subscriber(body.get("subscriber"))?,
    })
}

fn malformed(s: &str) -> ExecuteError {
    ExecuteError::Malformed(s.to_string())
}

fn invalid(desc: &InputDescription, detail: impl Into<String>) -> ExecuteError {
    ExecuteError::InvalidInput {
        input: desc.id.clone(),
        detail: detail.into(),
    }
}

/// All occurrences of one input.
fn parse_input(
    v: &Json,
    desc: &InputDescription,
    validator: Option<&Validator>,
) -> Result<Vec<NamedValue>, ExecuteError> {
    // An array is a list of occurrences only where that reading is possible
    // (more than one allowed) and the other one is not (one occurrence is
    // not itself an array).
    let several = desc.max_occurs.is_none_or(|m| m > 1) && !schema::has_type(&desc.schema, "array");
    let occurrences: Vec<&Json> = match v {
        Json::Array(items) if several => items.iter().collect(),
        one => vec![one],
    };
    let n = occurrences.len() as u64;
    if n < u64::from(desc.min_occurs) || desc.max_occurs.is_some_and(|m| n > u64::from(m)) {
        let max = desc
            .max_occurs
            .map_or("unbounded".to_string(), |m| m.to_string());
        return Err(ExecuteError::Occurrences {
            input: desc.id.clone(),
            detail: format!("{n} values given, {} to {max} allowed", desc.min_occurs),
        });
    }
    let described = schema::described(&desc.schema, &desc.formats);
    occurrences
        .into_iter()
        .map(|o| {
            let (value, checked) = occurrence(o, desc, &described)?;
            if let (Some(validator), Some(checked)) = (validator, checked) {
                let errors: Vec<String> = validator
                    .iter_errors(checked)
                    .map(|e| describe_error(&e))
                    .collect();
                if !errors.is_empty() {
                    return Err(invalid(desc, errors.join("; ")));
                }
            }
            Ok(NamedValue::new(desc.id.clone(), value))
        })
        .collect()
}

fn describe_error(e: &jsonschema::ValidationError<'_>) -> String {
    let at = e.instance_path.to_string();
    if at.is_empty() {
        e.to_string()
    } else {
        format!("{e} (at {at})")
    }
}

const LINK_KEYS: &[&str] = &["href", "rel", "type", "hreflang", "title", "length"];
const QUALIFIED_KEYS: &[&str] = &["value", "mediaType", "encoding", "schema"];

/// Whether `m` is made of `keys` only and has `key`: an object that merely
/// happens to have a `value` or `href` member is a complex value, not a
/// qualified value or a link.
fn is_shape(m: &Map<String, Json>, key: &str, keys: &[&str]) -> bool {
    m.contains_key(key) && m.keys().all(|k| keys.contains(&k.as_str()))
}

/// One occurrence, and the JSON its schema applies to (`None` for links,
/// whose content is not here to check).
fn occurrence<'a>(
    v: &'a Json,
    desc: &InputDescription,
    described: &Json,
) -> Result<(Value, Option<&'a Json>), ExecuteError> {
    let Json::Object(m) = v else {
        return Ok((plain(v, desc, described)?, Some(v)));
    };
    if is_shape(m, "href", LINK_KEYS) {
        let href = m
            .get("href")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(desc, "\"href\" must be a string"))?;
        if !is_http_url(href) {
            return Err(invalid(
                desc,
                format!("only http and https links are accepted, not \"{href}\""),
            ));
        }
        let media_type = m.get("type").and_then(Json::as_str).map(str::to_string);
        return Ok((
            Value::Reference {
                href: href.to_string(),
                media_type,
            },
            None,
        ));
    }
    if is_shape(m, "value", QUALIFIED_KEYS) {
        let inner = &m["value"];
        let media_type = m.get("mediaType").and_then(Json::as_str);
        let encoding = m.get("encoding").and_then(Json::as_str);
        let base64 = encoding
            .is_some_and(|e| e.eq_ignore_ascii_case("base64") || e.eq_ignore_ascii_case("binary"));
        let schema_binary = schema::binary_media(described);
        // Declared base64 must be a string; otherwise a string is encoded
        // content when the schema or the media type leave no other reading.
        let encoded = match inner {
            Json::String(_) => {
                base64
                    || schema_binary.is_some()
                    || media_type.is_some_and(|t| !schema::is_textual(t))
            }
            _ if base64 => return Err(invalid(desc, "a base64-encoded value must be a string")),
            _ => false,
        };
        if let (true, Json::String(text)) = (encoded, inner) {
            let media_type = media_type.map(str::to_string).or(schema_binary.flatten());
            return Ok((
                Value::Binary {
                    data: decode_base64(text).map_err(|e| invalid(desc, e))?,
                    media_type,
                },
                Some(inner),
            ));
        }
        return Ok((plain(inner, desc, described)?, Some(inner)));
    }
    Ok((plain(v, desc, described)?, Some(v)))
}

/// A value given directly, typed by what the schema says.
fn plain(v: &Json, desc: &InputDescription, described: &Json) -> Result<Value, ExecuteError> {
    Ok(match v {
        Json::String(s) => match schema::binary_media(described) {
            Some(media_type) => Value::Binary {
                data: decode_base64(s).map_err(|e| invalid(desc, e))?,
                media_type,
            },
            None => Value::String { value: s.clone() },
        },
        Json::Number(n) if schema::has_type(&desc.schema, "integer") => {
            let i = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| {
                    invalid(desc, format!("{n} is not an integer in the 64-bit range"))
                })?;
            Value::Integer { value: i }
        }
        Json::Number(n) => Value::Number {
            value: n.as_f64().unwrap_or(f64::NAN),
        },
        Json::Bool(b) => Value::Boolean { value: *b },
        Json::Object(m) if m.contains_key("bbox") && schema::is_bbox(&desc.schema) => {
            bbox(m, desc)?
        }
        other => Value::Json {
            value: other.clone(),
        },
    })
}

fn bbox(m: &Map<String, Json>, desc: &InputDescription) -> Result<Value, ExecuteError> {
    let coordinates: Option<Vec<f64>> = m["bbox"]
        .as_array()
        .map(|a| a.iter().map(Json::as_f64).collect::<Option<Vec<f64>>>())
        .unwrap_or(None);
    let coordinates = coordinates
        .filter(|c| c.len() == 4 || c.len() == 6)
        .ok_or_else(|| invalid(desc, "\"bbox\" must be an array of 4 or 6 numbers"))?;
    let crs = match m.get("crs") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid(desc, "\"crs\" must be a string")),
    };
    Ok(Value::BBox { coordinates, crs })
}

/// Standard base64, tolerating line breaks, missing padding and the
/// URL-safe alphabet, which real clients produce.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(&compact)
        .or_else(|_| STANDARD_NO_PAD.decode(&compact))
        .or_else(|_| URL_SAFE.decode(&compact))
        .or_else(|_| URL_SAFE_NO_PAD.decode(&compact))
        .map_err(|e| format!("not valid base64: {e}"))
}

/// Whether a link is one the host may fetch: `http` or `https` with a host.
/// Other schemes (`file:`, `data:`, ...) could read the server's own files
/// or dodge size limits.
fn is_http_url(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace)
    })
}

fn parse_outputs(
    v: Option<&Json>,
    d: &ProcessDescription,
) -> Result<Vec<OutputRequest>, ExecuteError> {
    // Collected by id, then put in declaration order: JSON object order
    // carries no meaning.
    let mut wanted: Vec<OutputRequest> = Vec::new();
    match v {
        None | Some(Json::Null) => {}
        Some(Json::Object(m)) => {
            for (id, spec) in m {
                wanted.push(output(id, spec, d)?);
            }
        }
        // The array form of pre-1.0 drafts, still sent by some clients.
        Some(Json::Array(a)) => {
            for spec in a {
                let id = spec
                    .get("id")
                    .and_then(Json::as_str)
                    .ok_or_else(|| malformed("each entry of \"outputs\" needs an \"id\""))?;
                wanted.push(output(id, spec, d)?);
            }
        }
        Some(_) => {
            return Err(malformed(
                "\"outputs\" must be an object keyed by output id",
            ))
        }
    }
    Ok(d.outputs
        .iter()
        .filter_map(|o| wanted.iter().find(|w| w.id == o.id).cloned())
        .collect())
}

fn output(id: &str, spec: &Json, d: &ProcessDescription) -> Result<OutputRequest, ExecuteError> {
    if !d.outputs.iter().any(|o| o.id == id) {
        return Err(ExecuteError::UnknownOutput(id.to_string()));
    }
    let spec = match spec {
        Json::Null => &Json::Object(Map::new()),
        Json::Object(_) => spec,
        _ => {
            return Err(ExecuteError::Malformed(format!(
                "output \"{id}\" must be an object"
            )))
        }
    };
    let transmission = match spec.get("transmissionMode") {
        None | Some(Json::Null) => Transmission::Value,
        Some(Json::String(s)) if s == "value" => Transmission::Value,
        Some(Json::String(s)) if s == "reference" => Transmission::Reference,
        Some(_) => {
            return Err(ExecuteError::Malformed(format!(
                "output \"{id}\": \"transmissionMode\" must be \"value\" or \"reference\""
            )))
        }
    };
    let media_type = match spec.get("format") {
        None | Some(Json::Null) => None,
        Some(Json::Object(f)) => match f.get("mediaType") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(ExecuteError::Malformed(format!(
                    "output \"{id}\": \"mediaType\" must be a string"
                )))
            }
        },
        Some(_) => {
            return Err(ExecuteError::Malformed(format!(
                "output \"{id}\": \"format\" must be an object"
            )))
        }
    };
    Ok(OutputRequest {
        id: id.to_string(),
        transmission,
        media_type,
    })
}

fn parse_subscriber(v: Option<&Json>) -> Result<Option<Subscriber>, ExecuteError> {
    let m = match v {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Object(m)) => m,
        Some(_) => return Err(malformed("\"subscriber\" must be an object")),
    };
    let uri = |key: &str| -> Result<Option<String>, ExecuteError> {
        match m.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) if is_http_url(s) => Ok(Some(s.clone())),
            Some(_) => Err(ExecuteError::Malformed(format!(
                "subscriber \"{key}\" must be an http or https URL"
            ))),
        }
    };
    Ok(Some(Subscriber {
        success_uri: uri("successUri")?,
        in_progress_uri: uri("inProgressUri")?,
        failed_uri: uri("failedUri")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::description::tests::every_kind;
    use serde_json::json;

    fn parse(inputs: Json) -> Result<ExecuteRequest, ExecuteError> {
        parse_execute(&json!({"inputs": with_required(inputs)}), &every_kind())
    }

    /// Adds the one required input unless the test sets it.
    fn with_required(mut inputs: Json) -> Json {
        if let Json::Object(m) = &mut inputs {
            m.entry("string").or_insert(json!("a"));
        }
        inputs
    }

    fn values(inputs: Json, id: &str) -> Vec<Value> {
        parse(inputs)
            .unwrap()
            .inputs
            .into_iter()
            .filter(|n| n.id == id)
            .map(|n| n.value)
            .collect()
    }

    fn one(inputs: Json, id: &str) -> Value {
        let mut v = values(inputs, id);
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    fn err(inputs: Json) -> ExecuteError {
        parse(inputs).unwrap_err()
    }

    #[test]
    fn strings_numbers_integers_booleans() {
        assert_eq!(one(json!({"text": "hi"}), "text"), Value::string("hi"));
        assert_eq!(
            one(json!({"number": 2.5}), "number"),
            Value::Number { value: 2.5 }
        );
        assert_eq!(
            one(json!({"number": 5}), "number"),
            Value::Number { value: 5.0 }
        );
        assert_eq!(
            one(json!({"integer": 7}), "integer"),
            Value::Integer { value: 7 }
        );
        assert_eq!(
            one(json!({"integer": 7.0}), "integer"),
            Value::Integer { value: 7 }
        );
        assert_eq!(
            one(json!({"boolean": true}), "boolean"),
            Value::Boolean { value: true }
        );
        assert_eq!(
            one(json!({"pause": 5}), "pause"),
            Value::Number { value: 5.0 }
        );
    }

    #[test]
    fn non_integral_numbers_are_not_integers() {
        assert!(
            matches!(err(json!({"integer": 2.5})), ExecuteError::InvalidInput { input, .. } if input == "integer")
        );
        assert!(matches!(
            err(json!({"integer": 18446744073709551615u64})),
            ExecuteError::InvalidInput { input, .. } if input == "integer"
        ));
    }

    #[test]
    fn an_array_schema_takes_the_array_as_one_occurrence() {
        assert_eq!(
            one(json!({"array": [1, 2, 3]}), "array"),
            Value::Json {
                value: json!([1, 2, 3])
            }
        );
    }

    #[test]
    fn an_array_for_a_repeatable_input_is_several_occurrences() {
        assert_eq!(
            values(json!({"multi": ["x", "y", "z"]}), "multi"),
            vec![Value::string("x"), Value::string("y"), Value::string("z")]
        );
        assert_eq!(
            values(json!({"multi": "x"}), "multi"),
            vec![Value::string("x")]
        );
        assert_eq!(
            values(json!({"few": [1, {"value": 2}]}), "few"),
            vec![Value::Integer { value: 1 }, Value::Integer { value: 2 }]
        );
    }

    #[test]
    fn an_array_for_a_single_input_is_one_value() {
        // maxOccurs 1 and a string schema: the array is one (invalid) value.
        assert!(
            matches!(err(json!({"text": ["a", "b"]})), ExecuteError::InvalidInput { input, .. } if input == "text")
        );
    }

    #[test]
    fn objects_are_complex_values() {
        assert_eq!(
            one(json!({"object": {"a": "x"}}), "object"),
            Value::Json {
                value: json!({"a": "x"})
            }
        );
        // A member named "value" next to others is part of the object.
        let v = json!({"a": "x", "value": 1});
        assert_eq!(
            one(json!({"object": v.clone()}), "object"),
            Value::Json { value: v }
        );
        // As a qualified value.
        assert_eq!(
            one(
                json!({"object": {"value": {"a": "y"}, "mediaType": "application/json"}}),
                "object"
            ),
            Value::Json {
                value: json!({"a": "y"})
            }
        );
    }

    #[test]
    fn bboxes() {
        assert_eq!(
            one(
                json!({"bbox": {"bbox": [51.9, 7, 52, 7.1], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}),
                "bbox"
            ),
            Value::BBox {
                coordinates: vec![51.9, 7.0, 52.0, 7.1],
                crs: Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84".into())
            }
        );
        assert_eq!(
            one(json!({"bbox": {"bbox": [0, 0, 0, 1, 1, 1]}}), "bbox"),
            Value::BBox {
                coordinates: vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                crs: None
            }
        );
        assert!(
            matches!(err(json!({"bbox": {"bbox": [1, 2, 3]}})), ExecuteError::InvalidInput { input, .. } if input == "bbox")
        );
        assert!(matches!(
            err(json!({"bbox": {"bbox": [1, 2, 3, "x"]}})),
            ExecuteError::InvalidInput { .. }
        ));
    }

    #[test]
    fn base64_as_plain_string_when_the_schema_says_binary() {
        assert_eq!(
            one(json!({"binary": "aGVsbG8="}), "binary"),
            Value::Binary {
                data: b"hello".to_vec(),
                media_type: Some("image/png".into())
            }
        );
        // Formats of the description count too (image/tiff or image/png).
        assert_eq!(
            one(json!({"image": "aGVsbG8"}), "image"),
            Value::Binary {
                data: b"hello".to_vec(),
                media_type: None
            }
        );
        assert!(
            matches!(err(json!({"binary": "not base64!"})), ExecuteError::InvalidInput { input, .. } if input == "binary")
        );
    }

    #[test]
    fn base64_as_qualified_value() {
        assert_eq!(
            one(
                json!({"text": {"value": "aGVsbG8=", "encoding": "base64", "mediaType": "application/octet-stream"}}),
                "text"
            ),
            Value::Binary {
                data: b"hello".to_vec(),
                media_type: Some("application/octet-stream".into())
            }
        );
        assert_eq!(
            one(
                json!({"binary": {"value": "aGVsbG8=", "mediaType": "image/png"}}),
                "binary"
            ),
            Value::Binary {
                data: b"hello".to_vec(),
                media_type: Some("image/png".into())
            }
        );
        // A text media type keeps a qualified string a string.
        assert_eq!(
            one(
                json!({"text": {"value": "plain", "mediaType": "text/plain"}}),
                "text"
            ),
            Value::string("plain")
        );
    }

    #[test]
    fn links_stay_references() {
        assert_eq!(
            one(
                json!({"file": {"href": "https://example.org/a.csv", "type": "text/csv"}}),
                "file"
            ),
            Value::Reference {
                href: "https://example.org/a.csv".into(),
                media_type: Some("text/csv".into())
            }
        );
        for bad in [
            "file:///etc/passwd",
            "ftp://x/y",
            "http://",
            "data:text/plain,hi",
            "/relative",
        ] {
            assert!(
                matches!(err(json!({"file": {"href": bad}})), ExecuteError::InvalidInput { ref input, .. } if input == "file"),
                "{bad}"
            );
        }
    }

    #[test]
    fn schema_violations_name_the_input() {
        match err(json!({"string": "zzz"})) {
            ExecuteError::InvalidInput { input, detail } => {
                assert_eq!(input, "string");
                assert!(detail.contains("zzz"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(err(json!({"number": 101})), ExecuteError::InvalidInput { input, .. } if input == "number")
        );
        assert!(matches!(
            err(json!({"number": "1"})),
            ExecuteError::InvalidInput { .. }
        ));
        assert!(
            matches!(err(json!({"pause": 0})), ExecuteError::InvalidInput { input, .. } if input == "pause")
        );
        assert!(matches!(
            err(json!({"array": [1]})),
            ExecuteError::InvalidInput { .. }
        ));
        assert!(matches!(
            err(json!({"object": {"a": 1}})),
            ExecuteError::InvalidInput { .. }
        ));
        assert!(matches!(
            err(json!({"boolean": "true"})),
            ExecuteError::InvalidInput { .. }
        ));
        assert!(
            matches!(err(json!({"multi": ["x", 1]})), ExecuteError::InvalidInput { input, .. } if input == "multi")
        );
    }

    #[test]
    fn unknown_and_missing_inputs() {
        assert_eq!(
            err(json!({"nope": 1})),
            ExecuteError::UnknownInput("nope".into())
        );
        assert_eq!(
            parse_execute(&json!({"inputs": {"text": "x"}}), &every_kind()).unwrap_err(),
            ExecuteError::MissingInput("string".into())
        );
        assert_eq!(
            parse_execute(&json!({}), &every_kind()).unwrap_err(),
            ExecuteError::MissingInput("string".into())
        );
    }

    #[test]
    fn occurrence_counts() {
        assert!(
            matches!(err(json!({"few": [1, 2, 3, 4]})), ExecuteError::Occurrences { input, .. } if input == "few")
        );
        let mut d = every_kind();
        d.inputs[8].min_occurs = 2; // "pair"
        let e = parse_execute(&json!({"inputs": {"string": "a", "pair": [1]}}), &d).unwrap_err();
        assert!(
            matches!(e, ExecuteError::Occurrences { ref input, .. } if input == "pair"),
            "{e:?}"
        );
        let e = parse_execute(&json!({"inputs": {"string": "a", "pair": 1}}), &d).unwrap_err();
        assert!(matches!(e, ExecuteError::Occurrences { .. }));
        assert_eq!(
            parse_execute(&json!({"inputs": {"string": "a", "pair": [1, 2]}}), &d)
                .unwrap()
                .inputs
                .len(),
            3
        );
    }

    #[test]
    fn malformed_bodies() {
        let d = every_kind();
        for body in [
            json!([]),
            json!({"inputs": []}),
            json!({"inputs": {"string": "a"}, "response": "json"}),
            json!({"inputs": {"string": "a"}, "outputs": "all"}),
            json!({"inputs": {"string": "a"}, "outputs": {"result": {"transmissionMode": "inline"}}}),
            json!({"inputs": {"string": "a"}, "outputs": {"result": {"format": "json"}}}),
            json!({"inputs": {"string": "a"}, "subscriber": "http://x"}),
            json!({"inputs": {"string": "a"}, "subscriber": {"successUri": "file:///x"}}),
        ] {
            assert!(
                matches!(parse_execute(&body, &d), Err(ExecuteError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn outputs_response_and_subscriber() {
        let body = json!({
            "inputs": {"string": "a"},
            "outputs": {
                "image": {"transmissionMode": "reference", "format": {"mediaType": "image/tiff"}},
                "result": {}
            },
            "response": "document",
            "mode": "async",
            "subscriber": {"successUri": "https://c.example/ok", "failedUri": "https://c.example/ko"}
        });
        let r = parse_execute(&body, &every_kind()).unwrap();
        assert_eq!(
            r.outputs,
            vec![
                OutputRequest {
                    id: "result".into(),
                    transmission: Transmission::Value,
                    media_type: None
                },
                OutputRequest {
                    id: "image".into(),
                    transmission: Transmission::Reference,
                    media_type: Some("image/tiff".into())
                },
            ]
        );
        assert_eq!(r.response, Some(ResponseForm::Document));
        assert_eq!(
            r.subscriber,
            Some(Subscriber {
                success_uri: Some("https://c.example/ok".into()),
                in_progress_uri: None,
                failed_uri: Some("https://c.example/ko".into()),
            })
        );
        let raw = parse_execute(
            &json!({"inputs": {"string": "a"}, "response": "raw"}),
            &every_kind(),
        )
        .unwrap();
        assert_eq!(raw.response, Some(ResponseForm::Raw));
        assert!(raw.outputs.is_empty() && raw.subscriber.is_none());
        let old = parse_execute(
            &json!({"inputs": {"string": "a"}, "outputs": [{"id": "image", "transmissionMode": "reference"}]}),
            &every_kind(),
        )
        .unwrap();
        assert_eq!(old.outputs[0].transmission, Transmission::Reference);
    }

    #[test]
    fn unknown_outputs() {
        let e = parse_execute(
            &json!({"inputs": {"string": "a"}, "outputs": {"nope": {}}}),
            &every_kind(),
        )
        .unwrap_err();
        assert_eq!(e, ExecuteError::UnknownOutput("nope".into()));
    }

    #[test]
    fn inputs_come_in_declaration_order() {
        let r = parse(json!({"text": "t", "boolean": false, "number": 1})).unwrap();
        let ids: Vec<&str> = r.inputs.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["string", "text", "number", "boolean"]);
    }

    #[test]
    fn an_example_request_validates_against_the_1_0_execute_schema() {
        let body = json!({
            "inputs": {
                "string": "hello",
                "number": 2.5,
                "boolean": true,
                "array": [1.5, 2.5],
                "multi": ["x", "y"],
                "bbox": {"bbox": [51.9, 7, 52, 7.1], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
                "binary": {"value": "aGVsbG8=", "encoding": "base64", "mediaType": "image/png"},
                "file": {"href": "https://example.org/a.csv", "type": "text/csv"},
                "object": {"value": {"a": "x"}}
            },
            "outputs": {"result": {"format": {"mediaType": "application/json"}}},
        });
        crate::ogc::testing::validate_issue350("execute.yaml", &body);
        parse_execute(&body, &every_kind()).unwrap();
    }

    #[test]
    fn errors_become_invalid_parameter_exceptions() {
        let e = ExecuteError::UnknownInput("x".into()).to_exception();
        assert_eq!(e["type"], crate::ogc::INVALID_PARAMETER);
        assert_eq!(e["status"], 400);
        crate::ogc::testing::validate("exception.yaml", &e);
    }
}
