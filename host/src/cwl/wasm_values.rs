//! CWL values to a wades process's inputs, and its outputs back to CWL
//! values: the mapping rule of [`super::wasm`]'s process steps.

use super::files;
use super::{fail, CwlError, Result};
use crate::model::{InputDescription, NamedValue, ProcessDescription, Value as Ogc};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The process's inputs from the CWL input object: each CWL input whose id
/// the process declares, in the order of its description. Files are placed
/// under `inputs_dir` (mounted at `/inputs`), each in a folder of its own
/// so that basenames stay as they were.
pub(crate) fn to_process(
    inputs: &Value,
    description: &ProcessDescription,
    inputs_dir: &Path,
) -> Result<Vec<NamedValue>> {
    let mut placed = 0usize;
    let mut out = Vec::new();
    for d in &description.inputs {
        let v = match inputs.get(&d.id) {
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let schema_type = d.schema.get("type").and_then(Value::as_str);
        let occurrences: Vec<&Value> = match v {
            // An input whose one value is an array takes it whole.
            Value::Array(items) if schema_type != Some("array") => items.iter().collect(),
            other => vec![other],
        };
        for item in occurrences {
            let value = one(item, d, inputs_dir, &mut placed)?;
            out.push(NamedValue::new(d.id.clone(), value));
        }
    }
    Ok(out)
}

fn one(v: &Value, d: &InputDescription, inputs_dir: &Path, placed: &mut usize) -> Result<Ogc> {
    let schema_type = d.schema.get("type").and_then(Value::as_str);
    Ok(match v {
        Value::Bool(b) => Ogc::Boolean { value: *b },
        Value::Number(n) => match (schema_type, n.as_i64()) {
            (Some("number"), _) | (_, None) => Ogc::Number {
                value: n.as_f64().unwrap_or(f64::NAN),
            },
            (_, Some(i)) => Ogc::Integer { value: i },
        },
        Value::String(s) => Ogc::string(s.clone()),
        Value::Object(o) => match o.get("class").and_then(Value::as_str) {
            Some("File") => {
                *placed += 1;
                Ogc::File {
                    path: place(o, &inputs_dir.join(placed.to_string()), *placed)?,
                    media_type: d.formats.first().map(|f| f.media_type.clone()),
                }
            }
            Some("Directory") => {
                return Err(CwlError::Unsupported(format!(
                    "input '{}' is a Directory, which a wades process cannot take",
                    d.id
                )))
            }
            _ => Ogc::Json { value: v.clone() },
        },
        Value::Array(_) => Ogc::Json { value: v.clone() },
        Value::Null => Ogc::Json { value: Value::Null },
    })
}

/// Links (else copies) a staged File into `dir` and returns its guest path.
fn place(file: &Map<String, Value>, dir: &Path, n: usize) -> Result<String> {
    let source = file
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| fail!("a File input has no path"))?;
    let source = std::fs::canonicalize(source).map_err(|e| fail!("input {source}: {e}"))?;
    let basename = file
        .get("basename")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| source.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "file".into());
    std::fs::create_dir_all(dir)?;
    let target = dir.join(&basename);
    if std::fs::hard_link(&source, &target).is_err() {
        std::fs::copy(&source, &target).map_err(|e| fail!("{}: {e}", source.display()))?;
    }
    Ok(format!("/inputs/{n}/{basename}"))
}

/// The process's outputs as CWL values by id; an output given several
/// times becomes an array. Files are found in `outdir`, which the process
/// saw as `/outputs`.
pub(crate) fn to_cwl(outputs: Vec<NamedValue>, outdir: &Path) -> Result<Map<String, Value>> {
    let mut by_id: Vec<(String, Vec<Value>)> = Vec::new();
    for o in outputs {
        let v = match o.value {
            Ogc::String { value } => Value::String(value),
            Ogc::Number { value } => json!(value),
            Ogc::Integer { value } => json!(value),
            Ogc::Boolean { value } => json!(value),
            Ogc::Json { value } => value,
            Ogc::BBox { coordinates, crs } => json!({"bbox": coordinates, "crs": crs}),
            Ogc::Binary { data, media_type } => json!({
                "value": base64::engine::general_purpose::STANDARD.encode(data),
                "mediaType": media_type,
            }),
            Ogc::Reference { href, .. } => Value::String(href),
            Ogc::File { path, .. } => {
                // The runtime checked that it is a regular file under /outputs.
                let rel = path.strip_prefix("/outputs/").unwrap_or(&path);
                files::describe_path(&outdir.join(rel), false)?
            }
        };
        match by_id.iter_mut().find(|(id, _)| *id == o.id) {
            Some((_, vs)) => vs.push(v),
            None => by_id.push((o.id, vec![v])),
        }
    }
    Ok(by_id
        .into_iter()
        .map(|(id, mut vs)| {
            let v = if vs.len() == 1 {
                vs.remove(0)
            } else {
                Value::Array(vs)
            };
            (id, v)
        })
        .collect())
}
