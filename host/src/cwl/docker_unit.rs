//! The Part 2 `docker` execution unit (`{"type": "docker" | "oci", "image",
//! "config", "bindings"}`) as the one CWL CommandLineTool it amounts to: a
//! container step that runs the image with the inputs on its command line.
//!
//! The package's `processDescription` says what the inputs and outputs
//! are; the unit's `bindings` say where each goes:
//!
//! - an input goes on the command line by its `inputBinding` (`prefix`,
//!   `position`, `valueFrom`, `itemSeparator`, `separate`, `shellQuote`);
//!   one without a binding goes there as a positional argument, in the
//!   order of the input ids (a JSON object keeps no other);
//! - an output is found by its `outputBinding` (`glob`, `loadContents`,
//!   `outputEval`); a File output without one is the file named like it
//!   (`<id>`, `<id>.*`) in the working directory;
//! - `config` gives resources (`cpuMin`/`cpuMax` cores, `memoryMin`/
//!   `memoryMax` GB) and the time limit (`jobTimeout`, seconds);
//! - `command` (a wades extension: the docker class has none) is the
//!   program to run; without it the image's entrypoint gets the arguments.
//!
//! Input and output types come from the JSON schemas: binary content
//! (`contentEncoding`/`contentMediaType`) or a `format: uri` string is a
//! File, arrays and `maxOccurs` > 1 are CWL arrays, `minOccurs: 0` makes a
//! type optional.

use serde_json::{json, Map, Value};

/// The CWL CommandLineTool (as JSON) of a docker unit described by
/// `description` (the package's `processDescription.process`).
pub fn to_cwl(unit: &Map<String, Value>, description: Option<&Value>) -> Result<Value, String> {
    let image = unit
        .get("image")
        .and_then(Value::as_str)
        .filter(|i| !i.trim().is_empty())
        .ok_or("a docker executionUnit needs an `image`")?;
    let description = description.and_then(Value::as_object).ok_or(
        "a docker executionUnit needs a processDescription that describes its inputs and outputs",
    )?;
    let id = description
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the processDescription of a docker executionUnit needs an `id`")?;
    let bindings = unit.get("bindings").and_then(Value::as_object);
    let binding = |kind: &str, id: &str| {
        bindings
            .and_then(|b| b.get(kind))
            .and_then(|b| b.get(id))
            .and_then(Value::as_object)
            .cloned()
    };
    let mut inputs = Vec::new();
    for (n, (input_id, d)) in members(description.get("inputs"))?.iter().enumerate() {
        let mut ty = type_of(d.get("schema").unwrap_or(&Value::Null));
        if d.get("maxOccurs")
            .is_some_and(|m| m == "unbounded" || m.as_u64().is_some_and(|m| m > 1))
        {
            ty = json!({"type": "array", "items": ty});
        }
        if d.get("minOccurs").and_then(Value::as_u64) == Some(0) {
            ty = json!(["null", ty]);
        }
        let mut input = Map::new();
        input.insert("id".into(), json!(input_id));
        input.insert("type".into(), ty);
        if let Some(f) = format(d.get("schema")) {
            input.insert("format".into(), f);
        }
        if let Some(default) = d.get("schema").and_then(|s| s.get("default")) {
            input.insert("default".into(), default.clone());
        }
        let mut b = binding("inputBindings", input_id).unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("position".into(), json!(n));
            m
        });
        // The draft's example spells itemSeparator so.
        if let Some(sep) = b.remove("inputSeparator") {
            b.entry("itemSeparator").or_insert(sep);
        }
        input.insert("inputBinding".into(), Value::Object(b));
        inputs.push(Value::Object(input));
    }
    let mut outputs = Vec::new();
    for (output_id, d) in members(description.get("outputs"))? {
        let ty = type_of(d.get("schema").unwrap_or(&Value::Null));
        let b = match binding("outputBindings", &output_id) {
            Some(b) => b,
            None if ty == json!("File") => {
                let mut m = Map::new();
                m.insert("glob".into(), json!([output_id, format!("{output_id}.*")]));
                m
            }
            None => {
                return Err(format!(
                    "output '{output_id}' is not a file, so it needs an outputBinding in the executionUnit's bindings"
                ))
            }
        };
        let mut output = json!({"id": output_id, "type": ty, "outputBinding": b});
        if let Some(f) = format(d.get("schema")) {
            output["format"] = f;
        }
        outputs.push(output);
    }
    let mut requirements = vec![
        json!({"class": "DockerRequirement", "dockerPull": image}),
        json!({"class": "InlineJavascriptRequirement"}),
    ];
    let config = unit.get("config").and_then(Value::as_object);
    let number = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_f64);
    let mut resources = Map::new();
    resources.insert("class".into(), json!("ResourceRequirement"));
    for (ogc, cwl, factor) in [
        ("cpuMin", "coresMin", 1.0),
        ("cpuMax", "coresMax", 1.0),
        ("memoryMin", "ramMin", 1024.0),
        ("memoryMax", "ramMax", 1024.0),
    ] {
        if let Some(v) = number(ogc) {
            resources.insert(cwl.into(), json!((v * factor).ceil() as u64));
        }
    }
    if resources.len() > 1 {
        requirements.push(Value::Object(resources));
    }
    if let Some(t) = number("jobTimeout") {
        requirements.push(json!({"class": "ToolTimeLimit", "timelimit": t.ceil() as u64}));
    }
    let mut tool = Map::new();
    tool.insert("cwlVersion".into(), json!("v1.2"));
    tool.insert("class".into(), json!("CommandLineTool"));
    tool.insert("id".into(), json!(id));
    if let Some(c) = unit.get("command") {
        tool.insert("baseCommand".into(), c.clone());
    }
    tool.insert("requirements".into(), Value::Array(requirements));
    tool.insert("inputs".into(), Value::Array(inputs));
    tool.insert("outputs".into(), Value::Array(outputs));
    Ok(Value::Object(tool))
}

/// An input or output description, by id.
type Member = (String, Map<String, Value>);

/// The members of an `inputs` or `outputs` object, in order.
fn members(v: Option<&Value>) -> Result<Vec<Member>, String> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Object(d) => Ok((k.clone(), d.clone())),
                _ => Err(format!("processDescription: '{k}' must be an object")),
            })
            .collect(),
        Some(_) => Err("processDescription: inputs and outputs are objects keyed by id".into()),
    }
}

/// The CWL `format` (an IANA IRI) of a schema's `contentMediaType`.
fn format(schema: Option<&Value>) -> Option<Value> {
    let media_type = schema?.get("contentMediaType")?.as_str()?;
    Some(json!(format!(
        "https://www.iana.org/assignments/media-types/{media_type}"
    )))
}

/// The CWL type of values of a JSON schema.
fn type_of(schema: &Value) -> Value {
    let file = schema.get("contentMediaType").is_some()
        || schema.get("contentEncoding").is_some()
        || schema.get("format").and_then(Value::as_str) == Some("uri");
    if file {
        return json!("File");
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match schema.get("enum").and_then(Value::as_array) {
            Some(symbols) => json!({"type": "enum", "symbols": symbols}),
            None => json!("string"),
        },
        Some("integer") => json!("long"),
        Some("number") => json!("double"),
        Some("boolean") => json!("boolean"),
        Some("array") => {
            json!({"type": "array", "items": type_of(schema.get("items").unwrap_or(&Value::Null))})
        }
        _ => json!("Any"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_unit_is_a_container_tool() {
        let unit = json!({
            "type": "docker", "image": "example/ndvi:1", "command": ["ndvi"],
            "config": {"cpuMin": 2, "memoryMax": 1.5, "jobTimeout": 60},
            "bindings": {
                "inputBindings": {"images": {"prefix": "--in=", "separate": false, "inputSeparator": ","}},
                "outputBindings": {"count": {"glob": "n.txt", "loadContents": true, "outputEval": "$(parseInt(self[0].contents))"}}
            }
        });
        let description = json!({
            "id": "ndvi",
            "inputs": {
                "images": {"schema": {"type": "string", "contentMediaType": "image/tiff"}, "maxOccurs": "unbounded"},
                "scale": {"schema": {"type": "number", "default": 1.0}, "minOccurs": 0}
            },
            "outputs": {
                "ndvi": {"schema": {"type": "string", "contentEncoding": "binary"}},
                "count": {"schema": {"type": "integer"}}
            }
        });
        let tool = to_cwl(unit.as_object().unwrap(), Some(&description)).unwrap();
        assert_eq!(tool["id"], "ndvi");
        assert_eq!(tool["baseCommand"], json!(["ndvi"]));
        assert_eq!(
            tool["inputs"][0]["type"],
            json!({"type": "array", "items": "File"})
        );
        assert_eq!(
            tool["inputs"][0]["inputBinding"],
            json!({"prefix": "--in=", "separate": false, "itemSeparator": ","})
        );
        assert_eq!(tool["inputs"][1]["type"], json!(["null", "double"]));
        assert_eq!(tool["inputs"][1]["inputBinding"], json!({"position": 1}));
        // JSON objects keep no order: members come by id.
        assert_eq!(tool["outputs"][0]["id"], "count");
        assert_eq!(
            tool["outputs"][1]["outputBinding"]["glob"],
            json!(["ndvi", "ndvi.*"])
        );
        assert_eq!(
            tool["inputs"][0]["format"],
            "https://www.iana.org/assignments/media-types/image/tiff"
        );
        assert_eq!(tool["requirements"][0]["dockerPull"], "example/ndvi:1");
        assert_eq!(
            tool["requirements"][2],
            json!({"class": "ResourceRequirement", "coresMin": 2, "ramMax": 1536})
        );
        assert_eq!(tool["requirements"][3]["timelimit"], 60);
        let text = tool.to_string();
        let loaded = crate::cwl::document::load_deployed(&text, None).unwrap();
        assert_eq!(loaded.id.as_deref(), Some("ndvi"));
    }

    #[test]
    fn needs_an_image_and_a_description() {
        let unit = json!({"type": "docker"});
        assert!(to_cwl(unit.as_object().unwrap(), Some(&json!({"id": "x"}))).is_err());
        let unit = json!({"type": "docker", "image": "x"});
        assert!(to_cwl(unit.as_object().unwrap(), None).is_err());
        let without_binding = json!({"id": "x", "outputs": {"n": {"schema": {"type": "integer"}}}});
        assert!(to_cwl(unit.as_object().unwrap(), Some(&without_binding))
            .unwrap_err()
            .contains("outputBinding"));
    }
}
