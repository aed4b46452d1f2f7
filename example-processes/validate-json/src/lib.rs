//! `validate-json`: validates a JSON document against a JSON Schema.
//!
//! A real process with a lot of code: the `jsonschema` crate brings every
//! draft from 4 to 2020-12, format checks (ECMA-262 regular expressions
//! through `fancy-regex` and `regex`, e-mail addresses, IDN host names,
//! URIs, dates, ...), which makes this component about 2 MB. `cargo xtask
//! bench deploy` deploys it to time what compiling a component of that size
//! costs.

use serde_json::{json, Value};
use wades_guest::{process, Inputs, Outputs, ProcessError};

/// Inputs of the validation.
#[derive(Inputs)]
pub struct Validate {
    /// Document
    ///
    /// The JSON document to validate, e.g. a STAC item.
    #[wades(schema = r#"{"type": ["object", "array"]}"#)]
    document: Value,
    /// Schema
    ///
    /// The JSON Schema to validate it against. Its `$schema` picks the draft
    /// (2020-12 when absent). `$ref`s must point inside the schema.
    #[wades(schema = r#"{"type": ["object", "boolean"]}"#)]
    schema: Value,
    /// Check formats
    ///
    /// Whether `format` keywords (date-time, email, ipv4, uri, regex, ...)
    /// are checked. Defaults to true.
    #[wades(id = "checkFormats")]
    check_formats: Option<bool>,
    /// Maximum errors
    ///
    /// How many errors to report at most. Defaults to 100.
    #[wades(
        id = "maxErrors",
        schema = r#"{"type": "integer", "minimum": 1, "maximum": 10000}"#
    )]
    max_errors: Option<i64>,
}

/// Outputs of the validation.
#[derive(Outputs)]
pub struct Report {
    /// Valid
    ///
    /// Whether the document is valid against the schema.
    valid: bool,
    /// Errors
    ///
    /// Why it is not: for each error, the JSON pointer of the offending
    /// value (`instancePath`), of the schema keyword it failed
    /// (`schemaPath`), and a message.
    #[wades(
        schema = r#"{"type": "array", "items": {"type": "object", "required": ["instancePath", "schemaPath", "message"]}}"#
    )]
    errors: Value,
}

/// Validate JSON
///
/// Validates a JSON document against a JSON Schema (drafts 4, 6, 7,
/// 2019-09 and 2020-12, formats included) and reports every error with
/// where it is in the document and in the schema.
#[process(
    id = "validate-json",
    version = "1.0.0",
    keywords = ["json", "json schema", "validation"],
    memory = "256 MiB"
)]
fn validate(input: Validate) -> Result<Report, ProcessError> {
    let max = input.max_errors.unwrap_or(100).clamp(1, 10_000) as usize;
    let validator = jsonschema::options()
        .should_validate_formats(input.check_formats.unwrap_or(true))
        .build(&input.schema)
        .map_err(|e| {
            ProcessError::invalid_input(format!("input 'schema' is not a valid JSON Schema: {e}"))
        })?;
    let errors: Vec<Value> = validator
        .iter_errors(&input.document)
        .take(max)
        .map(|e| {
            json!({
                "instancePath": e.instance_path.to_string(),
                "schemaPath": e.schema_path.to_string(),
                "message": e.to_string(),
            })
        })
        .collect();
    Ok(Report {
        valid: errors.is_empty(),
        errors: Value::Array(errors),
    })
}
