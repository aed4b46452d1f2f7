//! The execute request body, 1.0 and 2.0 forms, against a process with an
//! input of every kind: parsing never panics, and what it accepts keeps to
//! the description (declared inputs and outputs only, within their
//! occurrences), the same way every time.

use serde_json::{json, Value};
use std::sync::OnceLock;
use wades::model::{Format, InputDescription, JobControl, OutputDescription, ProcessDescription};
use wades::ogc::execute::ExecuteParser;

fn input(
    id: &str,
    schema: Value,
    min: u32,
    max: Option<u32>,
    formats: &[&str],
) -> InputDescription {
    InputDescription {
        id: id.into(),
        title: None,
        description: None,
        keywords: vec![],
        schema,
        min_occurs: min,
        max_occurs: max,
        formats: formats
            .iter()
            .map(|m| Format {
                media_type: m.to_string(),
                encoding: None,
                schema: None,
            })
            .collect(),
    }
}

/// The process the bodies are parsed against.
pub fn description() -> &'static ProcessDescription {
    static D: OnceLock<ProcessDescription> = OnceLock::new();
    D.get_or_init(|| ProcessDescription {
        id: "fuzzed".into(),
        version: "1.0.0".into(),
        title: None,
        description: None,
        keywords: vec![],
        inputs: vec![
            input("name", json!({"type": "string", "maxLength": 64}), 1, Some(1), &[]),
            input("count", json!({"type": "integer", "minimum": 0}), 0, Some(3), &[]),
            input("ratio", json!({"type": "number"}), 0, Some(1), &[]),
            input("flag", json!({"type": "boolean"}), 0, Some(1), &[]),
            input(
                "options",
                json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
                0,
                Some(1),
                &[],
            ),
            input(
                "image",
                json!({"type": "string", "contentEncoding": "base64", "contentMediaType": "image/tiff"}),
                0,
                None,
                &["image/tiff"],
            ),
            input(
                "bbox",
                json!({"type": "object", "format": "ogc-bbox", "required": ["bbox"],
                       "properties": {"bbox": {"type": "array", "items": {"type": "number"}}}}),
                0,
                Some(1),
                &[],
            ),
        ],
        outputs: vec![OutputDescription {
            id: "result".into(),
            title: None,
            description: None,
            keywords: vec![],
            schema: json!({"type": "string"}),
            formats: vec![],
        }],
        job_control_options: vec![JobControl::SyncExecute, JobControl::AsyncExecute],
        limits: Default::default(),
    })
}

fn parser() -> &'static ExecuteParser {
    static P: OnceLock<ExecuteParser> = OnceLock::new();
    P.get_or_init(|| ExecuteParser::new(description()))
}

/// Parses `data` as an execute body.
pub fn check(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let first = parser().parse(&body);
    let again = parser().parse(&body);
    let Ok(request) = first else { return };
    assert_eq!(
        Ok(&request),
        again.as_ref().map_err(|_| ()),
        "parsing is not deterministic"
    );
    let d = description();
    for declared in &d.inputs {
        let n = request
            .inputs
            .iter()
            .filter(|i| i.id == declared.id)
            .count() as u32;
        assert!(
            n <= declared.max_occurs.unwrap_or(u32::MAX),
            "{} occurs {n} times",
            declared.id
        );
        assert!(n >= declared.min_occurs, "{} occurs {n} times", declared.id);
    }
    for i in &request.inputs {
        assert!(
            d.inputs.iter().any(|x| x.id == i.id),
            "undeclared input {}",
            i.id
        );
    }
    for o in &request.outputs {
        assert!(
            d.outputs.iter().any(|x| x.id == o.id),
            "undeclared output {}",
            o.id
        );
    }
}
