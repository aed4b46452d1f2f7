//! Puts a job's inputs where its guest expects them: links fetched, large
//! data written to files under `/inputs`.

use crate::error::Result;
use crate::fetch::Fetcher;
use crate::model::{InputDescription, NamedValue, ProcessDescription, Value};
use std::path::Path;

/// What an input's schema asks the host to deliver.
enum Delivery {
    /// A file under `/inputs` (the SDK's `File`).
    File,
    /// The link itself (a `format: uri` string).
    Link,
    /// Bytes (a binary schema).
    Bytes,
    /// A JSON value.
    Json,
}

fn delivery(input: Option<&InputDescription>) -> Delivery {
    let Some(schema) = input.map(|i| &i.schema) else {
        return Delivery::Json;
    };
    if schema.get("x-wades-staging").and_then(|v| v.as_str()) == Some("file") {
        Delivery::File
    } else if schema.get("format").and_then(|v| v.as_str()) == Some("uri") {
        Delivery::Link
    } else if schema.get("contentMediaType").is_some() || schema.get("contentEncoding").is_some() {
        Delivery::Bytes
    } else {
        Delivery::Json
    }
}

/// Fetches links and writes files so that each value has the form its
/// input's schema asks for.
pub(super) async fn stage(
    fetcher: &Fetcher,
    description: &ProcessDescription,
    inputs: Vec<NamedValue>,
    dir: &Path,
) -> Result<Vec<NamedValue>> {
    let mut staged = Vec::with_capacity(inputs.len());
    for (n, NamedValue { id, value }) in inputs.into_iter().enumerate() {
        let how = delivery(description.inputs.iter().find(|i| i.id == id));
        let (data, media_type) = match (value, &how) {
            (Value::Reference { href, media_type }, Delivery::Link) => {
                staged.push(NamedValue::new(id, Value::Reference { href, media_type }));
                continue;
            }
            (Value::Reference { href, media_type }, _) => {
                let fetched = fetcher.fetch(&href).await?;
                (fetched.bytes, media_type.or(fetched.media_type))
            }
            (Value::Binary { data, media_type }, Delivery::File) => (data, media_type),
            (other, _) => {
                staged.push(NamedValue::new(id, other));
                continue;
            }
        };
        let value = match how {
            Delivery::File => {
                // Ids are checked against the description, but keep names plain anyway.
                let safe: String = id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let name = format!("{safe}-{n}");
                std::fs::write(dir.join(&name), &data)?;
                Value::File {
                    path: format!("/inputs/{name}"),
                    media_type,
                }
            }
            Delivery::Bytes | Delivery::Link => Value::Binary { data, media_type },
            Delivery::Json => match serde_json::from_slice::<serde_json::Value>(&data) {
                Ok(serde_json::Value::String(s)) => Value::String { value: s },
                Ok(serde_json::Value::Bool(b)) => Value::Boolean { value: b },
                Ok(serde_json::Value::Number(x)) => match x.as_i64() {
                    Some(i) => Value::Integer { value: i },
                    None => Value::Number {
                        value: x.as_f64().unwrap_or(f64::NAN),
                    },
                },
                Ok(json) => Value::Json { value: json },
                // Not JSON: hand over the text.
                Err(_) => Value::String {
                    value: String::from_utf8_lossy(&data).into_owned(),
                },
            },
        };
        staged.push(NamedValue::new(id, value));
    }
    Ok(staged)
}
