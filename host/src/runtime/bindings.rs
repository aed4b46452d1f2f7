//! The `wades:process` world as wasmtime sees it, and conversions to the model.

use crate::model::{self, Limits};
use std::time::Duration;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "process",
    exports: { default: async },
});

use self::wades::process::types as wit;

impl From<model::Value> for wit::Value {
    fn from(v: model::Value) -> Self {
        use model::Value as M;
        match v {
            M::String { value } => wit::Value::String(value),
            M::Number { value } => wit::Value::Number(value),
            M::Integer { value } => wit::Value::Integer(value),
            M::Boolean { value } => wit::Value::Boolean(value),
            M::Json { value } => wit::Value::Json(value.to_string()),
            M::BBox { coordinates, crs } => wit::Value::Bbox(wit::Bbox { coordinates, crs }),
            M::Binary { data, media_type } => wit::Value::Binary(wit::Binary { data, media_type }),
            M::Reference { href, media_type } => {
                wit::Value::Reference(wit::Reference { href, media_type })
            }
            M::File { path, media_type } => wit::Value::File(wit::File { path, media_type }),
        }
    }
}

/// A guest value; complex values must be JSON.
pub(crate) fn value_from_guest(v: wit::Value) -> Result<model::Value, String> {
    use model::Value as M;
    Ok(match v {
        wit::Value::String(value) => M::String { value },
        wit::Value::Number(value) => M::Number { value },
        wit::Value::Integer(value) => M::Integer { value },
        wit::Value::Boolean(value) => M::Boolean { value },
        wit::Value::Json(text) => M::Json {
            value: serde_json::from_str(&text)
                .map_err(|e| format!("complex value is not JSON: {e}"))?,
        },
        wit::Value::Bbox(b) => M::BBox {
            coordinates: b.coordinates,
            crs: b.crs,
        },
        wit::Value::Binary(b) => M::Binary {
            data: b.data,
            media_type: b.media_type,
        },
        wit::Value::Reference(r) => M::Reference {
            href: r.href,
            media_type: r.media_type,
        },
        wit::Value::File(f) => M::File {
            path: f.path,
            media_type: f.media_type,
        },
    })
}

impl From<model::NamedValue> for wit::NamedValue {
    fn from(v: model::NamedValue) -> Self {
        wit::NamedValue {
            id: v.id,
            value: v.value.into(),
        }
    }
}

fn schema(owner: &str, text: &str) -> Result<serde_json::Value, String> {
    let schema: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("schema of '{owner}' is not JSON: {e}"))?;
    if !schema.is_object() && !schema.is_boolean() {
        return Err(format!("schema of '{owner}' is not a JSON Schema object"));
    }
    Ok(schema)
}

fn formats(fs: Vec<wit::Format>) -> Vec<model::Format> {
    fs.into_iter()
        .map(|f| model::Format {
            media_type: f.media_type,
            encoding: f.encoding,
            schema: f.schema,
        })
        .collect()
}

/// Checks and converts what `describe` returned.
pub(crate) fn description_from_guest(
    d: wit::ProcessDescription,
) -> Result<model::ProcessDescription, String> {
    if d.id.is_empty() {
        return Err("the process id is empty".into());
    }
    let mut seen = std::collections::HashSet::new();
    let mut inputs = Vec::with_capacity(d.inputs.len());
    for i in d.inputs {
        if i.id.is_empty() || !seen.insert(("in", i.id.clone())) {
            return Err(format!("input id '{}' is empty or repeated", i.id));
        }
        if i.max_occurs.is_some_and(|max| max < i.min_occurs.max(1)) {
            return Err(format!("input '{}' has maxOccurs below minOccurs", i.id));
        }
        inputs.push(model::InputDescription {
            schema: schema(&i.id, &i.schema)?,
            id: i.id,
            title: i.title,
            description: i.description,
            keywords: i.keywords,
            min_occurs: i.min_occurs,
            max_occurs: i.max_occurs,
            formats: formats(i.formats),
        });
    }
    let mut outputs = Vec::with_capacity(d.outputs.len());
    for o in d.outputs {
        if o.id.is_empty() || !seen.insert(("out", o.id.clone())) {
            return Err(format!("output id '{}' is empty or repeated", o.id));
        }
        outputs.push(model::OutputDescription {
            schema: schema(&o.id, &o.schema)?,
            id: o.id,
            title: o.title,
            description: o.description,
            keywords: o.keywords,
            formats: formats(o.formats),
        });
    }
    Ok(model::ProcessDescription {
        id: d.id,
        version: d.version,
        title: d.title,
        description: d.description,
        keywords: d.keywords,
        inputs,
        outputs,
        job_control_options: d
            .job_control_options
            .into_iter()
            .map(|c| match c {
                wit::JobControl::SyncExecute => model::JobControl::SyncExecute,
                wit::JobControl::AsyncExecute => model::JobControl::AsyncExecute,
                wit::JobControl::Dismiss => model::JobControl::Dismiss,
            })
            .collect(),
        limits: Limits {
            fuel: d.limits.fuel,
            memory_bytes: d.limits.memory_bytes,
            timeout: d.limits.timeout_ms.map(Duration::from_millis),
        },
    })
}
