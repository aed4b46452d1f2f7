//! Process list entries and process descriptions (`/processes`,
//! `/processes/{id}`).

use super::{link, schema, trim_base, REL_EXECUTE};
use crate::model::{InputDescription, OutputDescription, ProcessDescription};
use serde_json::{json, Map, Value};

/// The OGC `processSummary` of a process, as listed by `GET /processes`.
///
/// `mutable` is the Part 2 flag telling clients whether the process may be
/// replaced or undeployed (built-in processes are not). Both transmission
/// modes are offered for every process because the server, not the guest,
/// turns outputs into references.
pub fn process_summary(d: &ProcessDescription, base: &str, mutable: bool) -> Value {
    let base = trim_base(base);
    let mut m = Map::new();
    m.insert("id".into(), json!(d.id));
    m.insert("version".into(), json!(d.version));
    describe(&mut m, &d.title, &d.description, &d.keywords);
    m.insert("jobControlOptions".into(), json!(d.job_control_options));
    m.insert("outputTransmission".into(), json!(["value", "reference"]));
    m.insert("mutable".into(), json!(mutable));
    m.insert(
        "links".into(),
        json!([
            link(
                format!("{base}/processes/{}", d.id),
                "self",
                "application/json",
                "Process description"
            ),
            link(
                format!("{base}/processes/{}/execution", d.id),
                REL_EXECUTE,
                "application/json",
                "Execute the process"
            ),
        ]),
    );
    Value::Object(m)
}

/// The OGC `process` document of `GET /processes/{id}`: the summary plus
/// inputs and outputs keyed by id.
pub fn process_document(d: &ProcessDescription, base: &str, mutable: bool) -> Value {
    let mut doc = process_summary(d, base, mutable);
    let m = doc.as_object_mut().expect("a summary is an object");
    let inputs: Map<String, Value> = d.inputs.iter().map(|i| (i.id.clone(), input(i))).collect();
    let outputs: Map<String, Value> = d
        .outputs
        .iter()
        .map(|o| (o.id.clone(), output(o)))
        .collect();
    m.insert("inputs".into(), Value::Object(inputs));
    m.insert("outputs".into(), Value::Object(outputs));
    doc
}

/// The `descriptionType` members. Absent texts are left out rather than
/// sent as `null`: the schemas type them as strings and reject `null`.
fn describe(
    m: &mut Map<String, Value>,
    title: &Option<String>,
    description: &Option<String>,
    keywords: &[String],
) {
    if let Some(t) = title {
        m.insert("title".into(), json!(t));
    }
    if let Some(t) = description {
        m.insert("description".into(), json!(t));
    }
    m.insert("keywords".into(), json!(keywords));
}

fn input(i: &InputDescription) -> Value {
    let mut m = Map::new();
    describe(&mut m, &i.title, &i.description, &i.keywords);
    m.insert(
        "schema".into(),
        public(schema::described(&i.schema, &i.formats)),
    );
    m.insert("minOccurs".into(), json!(i.min_occurs));
    m.insert(
        "maxOccurs".into(),
        match i.max_occurs {
            Some(n) => json!(n),
            None => json!("unbounded"),
        },
    );
    Value::Object(m)
}

fn output(o: &OutputDescription) -> Value {
    let mut m = Map::new();
    describe(&mut m, &o.title, &o.description, &o.keywords);
    m.insert(
        "schema".into(),
        public(schema::described(&o.schema, &o.formats)),
    );
    Value::Object(m)
}

/// Prefix of the host's own schema annotations (e.g. `x-wades-staging`,
/// which the guest SDK sets on file inputs and outputs).
const PRIVATE_KEYWORD: &str = "x-wades-";

/// `schema` without the host's private annotations: they are for the host,
/// and the 1.0 `schema.yaml` closes the keyword set
/// (`additionalProperties: false`), so a description carrying them is
/// invalid. Walks every place a subschema can sit; the names under
/// `properties` are data, not keywords, and are kept.
fn public(mut schema: Value) -> Value {
    fn strip(v: &mut Value) {
        let Value::Object(m) = v else { return };
        m.retain(|k, _| !k.starts_with(PRIVATE_KEYWORD));
        for (k, sub) in m.iter_mut() {
            match (k.as_str(), sub) {
                ("items" | "additionalProperties" | "not", s) => strip(s),
                ("allOf" | "anyOf" | "oneOf", Value::Array(list)) => {
                    list.iter_mut().for_each(strip)
                }
                ("properties", Value::Object(props)) => props.values_mut().for_each(strip),
                _ => {}
            }
        }
    }
    strip(&mut schema);
    schema
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Format, JobControl, Limits};
    use crate::ogc::testing::validate;

    fn input(
        id: &str,
        schema: Value,
        min: u32,
        max: Option<u32>,
        formats: Vec<Format>,
    ) -> InputDescription {
        InputDescription {
            id: id.into(),
            title: Some(format!("{id} title")),
            description: None,
            keywords: vec![],
            schema,
            min_occurs: min,
            max_occurs: max,
            formats,
        }
    }

    fn format(t: &str, encoding: Option<&str>) -> Format {
        Format {
            media_type: t.into(),
            encoding: encoding.map(Into::into),
            schema: None,
        }
    }

    /// A description with an input of every kind the wire format knows.
    pub(crate) fn every_kind() -> ProcessDescription {
        ProcessDescription {
            id: "echo".into(),
            version: "1.0.0".into(),
            title: Some("Echo".into()),
            description: Some("Returns its inputs.".into()),
            keywords: vec!["test".into()],
            inputs: vec![
                input(
                    "string",
                    json!({"type": "string", "enum": ["a", "b", "hello"]}),
                    1,
                    Some(1),
                    vec![],
                ),
                input("text", json!({"type": "string"}), 0, Some(1), vec![]),
                input(
                    "number",
                    json!({"type": "number", "minimum": 0, "maximum": 100}),
                    0,
                    Some(1),
                    vec![],
                ),
                input("integer", json!({"type": "integer"}), 0, Some(1), vec![]),
                input("boolean", json!({"type": "boolean"}), 0, Some(1), vec![]),
                input(
                    "array",
                    json!({"type": "array", "items": {"type": "number"}, "minItems": 2}),
                    0,
                    Some(1),
                    vec![],
                ),
                input("multi", json!({"type": "string"}), 0, None, vec![]),
                input("few", json!({"type": "integer"}), 0, Some(3), vec![]),
                input("pair", json!({"type": "integer"}), 0, Some(3), vec![]),
                input(
                    "object",
                    json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}),
                    0,
                    Some(1),
                    vec![],
                ),
                input(
                    "bbox",
                    json!({"type": "object", "format": "ogc-bbox", "required": ["bbox"], "properties": {
                        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
                        "crs": {"type": "string"}}}),
                    0,
                    Some(1),
                    vec![],
                ),
                input(
                    "binary",
                    json!({"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"}),
                    0,
                    Some(1),
                    vec![],
                ),
                input(
                    "image",
                    json!({"type": "string"}),
                    0,
                    Some(1),
                    vec![
                        format("image/tiff", Some("binary")),
                        format("image/png", None),
                    ],
                ),
                input(
                    "file",
                    json!({"type": "string", "format": "uri"}),
                    0,
                    Some(1),
                    vec![format("text/csv", None)],
                ),
                input(
                    "pause",
                    json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}),
                    0,
                    Some(1),
                    vec![],
                ),
            ],
            outputs: vec![
                OutputDescription {
                    id: "result".into(),
                    title: None,
                    description: Some("Everything".into()),
                    keywords: vec![],
                    schema: json!({"type": "object"}),
                    formats: vec![format("application/json", None)],
                },
                OutputDescription {
                    id: "image".into(),
                    title: Some("Image".into()),
                    description: None,
                    keywords: vec!["raster".into()],
                    schema: json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"}),
                    formats: vec![],
                },
            ],
            job_control_options: vec![
                JobControl::SyncExecute,
                JobControl::AsyncExecute,
                JobControl::Dismiss,
            ],
            limits: Limits::default(),
        }
    }

    #[test]
    fn summary_has_the_ogc_members_and_links() {
        let s = process_summary(&every_kind(), "https://h.example/ogc/", true);
        assert_eq!(s["id"], "echo");
        assert_eq!(s["version"], "1.0.0");
        assert_eq!(
            s["jobControlOptions"],
            json!(["sync-execute", "async-execute", "dismiss"])
        );
        assert_eq!(s["outputTransmission"], json!(["value", "reference"]));
        assert_eq!(s["mutable"], true);
        assert_eq!(
            s["links"][0]["href"],
            "https://h.example/ogc/processes/echo"
        );
        assert_eq!(s["links"][0]["rel"], "self");
        assert_eq!(
            s["links"][1]["href"],
            "https://h.example/ogc/processes/echo/execution"
        );
        assert_eq!(s["links"][1]["rel"], REL_EXECUTE);
        assert!(s.get("inputs").is_none());
        validate("processSummary.yaml", &s);
    }

    #[test]
    fn summary_without_texts_omits_them() {
        let mut d = every_kind();
        d.title = None;
        d.description = None;
        let s = process_summary(&d, "http://x", false);
        assert!(s.get("title").is_none() && s.get("description").is_none());
        assert_eq!(s["mutable"], false);
        validate("processSummary.yaml", &s);
    }

    #[test]
    fn document_describes_inputs_and_outputs() {
        let doc = process_document(&every_kind(), "http://x", false);
        validate("process.yaml", &doc);
        let inputs = &doc["inputs"];
        assert_eq!(inputs.as_object().unwrap().len(), 15);
        assert_eq!(inputs["string"]["minOccurs"], 1);
        assert_eq!(inputs["string"]["maxOccurs"], 1);
        assert_eq!(inputs["multi"]["maxOccurs"], "unbounded");
        assert!(inputs["text"].get("description").is_none());
        assert_eq!(
            inputs["image"]["schema"],
            json!({"anyOf": [
                {"type": "string", "contentMediaType": "image/tiff", "contentEncoding": "binary"},
                {"type": "string", "contentMediaType": "image/png"}]})
        );
        assert_eq!(inputs["file"]["schema"]["contentMediaType"], "text/csv");
        assert_eq!(
            doc["outputs"]["result"]["schema"]["contentMediaType"],
            "application/json"
        );
        assert_eq!(
            doc["outputs"]["image"]["schema"]["contentMediaType"],
            "image/tiff"
        );
        // Each input and output also stands alone against its own schema.
        for (_, i) in inputs.as_object().unwrap() {
            validate("inputDescription.yaml", i);
        }
        for (_, o) in doc["outputs"].as_object().unwrap() {
            validate("outputDescription.yaml", o);
        }
    }

    #[test]
    fn private_annotations_stay_out_of_descriptions() {
        // What the guest SDK declares for a staged `File`.
        let file = json!({"type": "string", "contentEncoding": "binary",
                          "contentMediaType": "image/tiff", "x-wades-staging": "file"});
        let mut d = every_kind();
        d.inputs[0].schema = file.clone();
        d.inputs[1].schema = json!({"type": "array", "items": file.clone()});
        d.inputs[2].schema =
            json!({"type": "object", "properties": {"x-wades-staging": file.clone()}});
        d.outputs[1].schema = file.clone();
        d.outputs[0].formats = vec![];
        d.outputs[0].schema = json!({"anyOf": [file.clone(), {"type": "integer"}]});
        let doc = process_document(&d, "http://x", false);
        validate("process.yaml", &doc);
        let text = doc.to_string();
        assert!(!text.contains("\"x-wades-staging\":\"file\""), "{text}");
        assert_eq!(
            doc["inputs"]["string"]["schema"],
            json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"})
        );
        assert!(
            doc["inputs"]["number"]["schema"]["properties"]["x-wades-staging"].is_object(),
            "a property of that name is data, not an annotation"
        );
        // The model keeps them: the host stages files by them.
        assert_eq!(d.inputs[0].schema["x-wades-staging"], "file");
    }

    #[test]
    fn the_1_0_schema_rejects_json_schema_keywords_outside_openapi_3_0() {
        // schema.yaml closes the keyword set (additionalProperties: false), so
        // e.g. `const` or `$defs` in a process's schema make its 1.0
        // description invalid: authors should stick to the OpenAPI subset.
        let mut d = every_kind();
        d.inputs[0].schema = json!({"type": "string", "const": "a"});
        assert!(!crate::ogc::testing::is_valid_strict(
            "process.yaml",
            &process_document(&d, "http://x", false)
        ));
    }
}
