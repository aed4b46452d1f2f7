//! `id=value` arguments: the inputs of `wades run` and `wades execute`.

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// Splits `id=value`; the value is JSON when it parses as JSON (`n=3`,
/// `flag=true`, `o={"a":1}`), else a string (`name=World`).
pub fn split(arg: &str) -> Result<(&str, Json)> {
    let Some((id, text)) = arg.split_once('=') else {
        bail!("input '{arg}' is not id=value")
    };
    if id.is_empty() {
        bail!("input '{arg}' has no id before '='");
    }
    let value = serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()));
    Ok((id, value))
}

/// The `inputs` member of an OGC execute request from `id=value`
/// arguments: `id=@FILE` sends a file's bytes (base64, with the media type
/// of its extension), `id=href:URL` a reference the server fetches, and an
/// id given several times an array.
pub fn execute_inputs(args: &[String]) -> Result<Json> {
    let mut given: Vec<(&str, Vec<Json>)> = Vec::new();
    for arg in args {
        let (id, value) = split(arg)?;
        let value = match &value {
            Json::String(s) if s.starts_with('@') => file_value(Path::new(&s[1..]))?,
            Json::String(s) if s.starts_with("href:") => serde_json::json!({"href": &s[5..]}),
            _ => value,
        };
        match given.iter_mut().find(|(i, _)| *i == id) {
            Some((_, values)) => values.push(value),
            None => given.push((id, vec![value])),
        }
    }
    let inputs: Map<String, Json> = given
        .into_iter()
        .map(|(id, mut values)| {
            let value = match values.len() {
                1 => values.pop().expect("one value"),
                _ => Json::Array(values),
            };
            (id.to_string(), value)
        })
        .collect();
    Ok(Json::Object(inputs))
}

/// A file as a qualified input value: JSON files as JSON, others base64.
fn file_value(path: &Path) -> Result<Json> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let media_type = wades::client::media_type_of(path);
    if media_type == "application/json" {
        let value: Json = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        return Ok(value);
    }
    Ok(serde_json::json!({
        "value": base64::engine::general_purpose::STANDARD.encode(bytes),
        "encoding": "base64",
        "mediaType": media_type,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_json_or_strings_and_repeats_make_arrays() {
        let args: Vec<String> = [
            "name=World",
            "n=3",
            "o={\"a\":1}",
            "x=1",
            "x=2",
            "x=3",
            "r=href:http://h/f",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            execute_inputs(&args).unwrap(),
            json!({"name": "World", "n": 3, "o": {"a": 1}, "x": [1, 2, 3], "r": {"href": "http://h/f"}})
        );
        assert!(split("novalue").is_err());
        assert!(split("=3").is_err());
    }

    #[test]
    fn an_array_value_given_once_stays_one_value() {
        let args = vec!["a=[1,2]".to_string(), "a=[3]".to_string()];
        assert_eq!(execute_inputs(&args).unwrap(), json!({"a": [[1, 2], [3]]}));
    }
}
