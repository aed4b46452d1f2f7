//! KVP execute (Part 1 2.0 draft, "Execute using KVP"): the query string of
//! `GET /processes/{id}/execution` turned into the JSON execute body that
//! [`super::ExecuteParser`] already knows, so both routes validate alike.
//!
//! - `name=value`: a string input as it is; any other input JSON-decoded
//!   (numbers, booleans, arrays, objects), falling back to the text;
//!   a repeated key gives several occurrences;
//! - a bounding box as `name=x1,y1,x2,y2` with `name-crs=…` or `name[crs]=…`;
//! - a link as `name[href]=…` with `name[type]=…`;
//! - a qualified (binary) value as `name[value]=…` with `name[mediaType]=…`
//!   and `name[encoding]=…`;
//! - outputs as `out[include]=true`, with `out[mediaType]=…` and
//!   `out[transmissionMode]=…`;
//! - `f` (the response format), `prefer` (as the `Prefer` header) and
//!   `response` (the 1.0 member) are the request's own.

use super::schema;
use super::ExecuteError;
use crate::model::{InputDescription, ProcessDescription};
use serde_json::{json, Map, Value as Json};

/// An execute request read from a query string.
#[derive(Debug, Clone, PartialEq)]
pub struct KvpRequest {
    /// The equivalent JSON execute body.
    pub body: Json,
    /// `f`, lower-cased.
    pub format: Option<String>,
    /// Every `prefer` value, read as `Prefer` headers are.
    pub prefer: Vec<String>,
}

/// What the query says about one input or output id.
#[derive(Default)]
struct Entry {
    /// Plain `name=value` occurrences, in order.
    values: Vec<String>,
    /// `name[attr]=value` (and `name-crs=value`), last one wins.
    attributes: Vec<(String, String)>,
}

impl Entry {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `name[attr]` and `name-crs` keys.
fn split_key<'a>(key: &'a str, d: &ProcessDescription) -> (&'a str, Option<&'a str>) {
    if let Some(open) = key.find('[') {
        if let Some(attr) = key[open + 1..].strip_suffix(']') {
            return (&key[..open], Some(attr));
        }
    }
    let is_input = |n: &str| d.inputs.iter().any(|i| i.id == n);
    match key.strip_suffix("-crs") {
        Some(name) if !is_input(key) && is_input(name) => (name, Some("crs")),
        _ => (key, None),
    }
}

/// Reads a query string's pairs for the process `d`.
pub fn parse_kvp(
    pairs: &[(String, String)],
    d: &ProcessDescription,
) -> Result<KvpRequest, ExecuteError> {
    let mut format = None;
    let mut prefer = Vec::new();
    let mut response = None;
    // Keyed by id, in order of first appearance.
    let mut entries: Vec<(String, Entry)> = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "f" => {
                format = Some(value.to_ascii_lowercase());
                continue;
            }
            "prefer" => {
                prefer.push(value.clone());
                continue;
            }
            "response" => {
                response = Some(value.clone());
                continue;
            }
            _ => {}
        }
        let (name, attr) = split_key(key, d);
        let at = match entries.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                entries.push((name.to_string(), Entry::default()));
                entries.len() - 1
            }
        };
        let entry = &mut entries[at].1;
        match attr {
            Some(a) => entry.attributes.push((a.to_string(), value.clone())),
            None => entry.values.push(value.clone()),
        }
    }
    let mut inputs = Map::new();
    let mut outputs = Map::new();
    for (name, entry) in &entries {
        let input = d.inputs.iter().find(|i| &i.id == name);
        let is_output = d.outputs.iter().any(|o| &o.id == name);
        // Output attributes only ever come with `include` (or on an id that
        // is no input): `name[mediaType]` is otherwise an input's.
        let output_only = input.is_none()
            || (entry.values.is_empty()
                && entry
                    .attributes
                    .iter()
                    .all(|(a, _)| ["include", "transmissionMode"].contains(&a.as_str()))
                && entry.attribute("include").is_some());
        if is_output && output_only {
            if let Some(spec) = output(name, entry, entry.attribute("mediaType"))? {
                outputs.insert(name.clone(), spec);
            }
            continue;
        }
        if is_output && entry.attribute("include").is_some() {
            // `name=value&name[include]=true`: both an input and an output;
            // a `[mediaType]` then belongs to the input's value.
            if let Some(spec) = output(name, entry, None)? {
                outputs.insert(name.clone(), spec);
            }
        }
        let Some(input) = input else {
            return Err(ExecuteError::UnknownInput(name.clone()));
        };
        inputs.insert(name.clone(), input_value(input, entry)?);
    }
    let mut body = json!({ "inputs": inputs });
    if !outputs.is_empty() {
        body["outputs"] = Json::Object(outputs);
    }
    if let Some(r) = response {
        body["response"] = Json::String(r);
    }
    Ok(KvpRequest {
        body,
        format,
        prefer,
    })
}

/// An output's request, or `None` for `include=false`.
fn output(
    name: &str,
    entry: &Entry,
    media_type: Option<&str>,
) -> Result<Option<Json>, ExecuteError> {
    let include = match entry.attribute("include") {
        None | Some("true") | Some("1") | Some("") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(ExecuteError::Malformed(format!(
                "{name}[include] must be true or false, not \"{other}\""
            )))
        }
    };
    if !include {
        return Ok(None);
    }
    let mut spec = Map::new();
    if let Some(t) = media_type {
        spec.insert("format".into(), json!({ "mediaType": t }));
    }
    if let Some(t) = entry.attribute("transmissionMode") {
        spec.insert("transmissionMode".into(), json!(t));
    }
    Ok(Some(Json::Object(spec)))
}

/// The JSON of one input: a link, a qualified value, or plain occurrences.
fn input_value(input: &InputDescription, entry: &Entry) -> Result<Json, ExecuteError> {
    // `include` and `transmissionMode` are the output's of the same id.
    let known = [
        "href",
        "type",
        "value",
        "mediaType",
        "encoding",
        "crs",
        "include",
        "transmissionMode",
    ];
    if let Some((a, _)) = entry
        .attributes
        .iter()
        .find(|(a, _)| !known.contains(&a.as_str()))
    {
        return Err(ExecuteError::InvalidInput {
            input: input.id.clone(),
            detail: format!("unknown attribute [{a}]"),
        });
    }
    let mut occurrences = Vec::new();
    if let Some(href) = entry.attribute("href") {
        let mut link = json!({ "href": href });
        if let Some(t) = entry.attribute("type") {
            link["type"] = json!(t);
        }
        occurrences.push(link);
    }
    if let Some(value) = entry.attribute("value") {
        let mut qualified = json!({ "value": value });
        if let Some(t) = entry.attribute("mediaType") {
            qualified["mediaType"] = json!(t);
        }
        if let Some(e) = entry.attribute("encoding") {
            qualified["encoding"] = json!(e);
        }
        occurrences.push(qualified);
    }
    let crs = entry.attribute("crs");
    for v in &entry.values {
        occurrences.push(plain(input, v, crs)?);
    }
    if occurrences.is_empty() {
        return Err(ExecuteError::InvalidInput {
            input: input.id.clone(),
            detail: "no value given".into(),
        });
    }
    Ok(match occurrences.len() {
        1 => occurrences.remove(0),
        _ => Json::Array(occurrences),
    })
}

/// One plain `name=value` occurrence.
fn plain(input: &InputDescription, v: &str, crs: Option<&str>) -> Result<Json, ExecuteError> {
    if schema::is_bbox(&input.schema) && !v.trim_start().starts_with('{') {
        let bbox = v
            .split(',')
            .map(|n| n.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| ExecuteError::InvalidInput {
                input: input.id.clone(),
                detail: format!("a bounding box is 4 or 6 comma-separated numbers, not \"{v}\""),
            })?;
        let mut b = json!({ "bbox": bbox });
        if let Some(crs) = crs {
            b["crs"] = json!(crs);
        }
        return Ok(b);
    }
    let text_only = schema::types(&input.schema) == ["string"];
    if text_only {
        return Ok(Json::String(v.to_string()));
    }
    Ok(serde_json::from_str(v).unwrap_or_else(|_| Json::String(v.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::description::tests::every_kind;

    fn kvp(q: &str) -> Result<KvpRequest, ExecuteError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        parse_kvp(&pairs, &every_kind())
    }

    #[test]
    fn reads_every_value_form() {
        let r = kvp(
            "string=hello&number=3.5&boolean=true&array=[1,2]&multi=a&multi=b\
                     &f=JSON&prefer=respond-async",
        )
        .unwrap();
        assert_eq!(r.format.as_deref(), Some("json"));
        assert_eq!(r.prefer, ["respond-async"]);
        let i = &r.body["inputs"];
        assert_eq!(i["string"], "hello");
        assert_eq!(i["number"], 3.5);
        assert_eq!(i["boolean"], true);
        assert_eq!(i["array"], json!([1, 2]));
        assert_eq!(i["multi"], json!(["a", "b"]));
        // What the JSON route accepts, this is.
        let parsed = crate::ogc::parse_execute(&r.body, &every_kind()).unwrap();
        assert_eq!(parsed.inputs.len(), 6);
    }

    #[test]
    fn reads_bboxes_links_binaries_and_outputs() {
        let r = kvp(
            "string=a&bbox=1,2,3,4&bbox-crs=EPSG:4326&file[href]=http://example.org/a.csv\
                     &file[type]=text/csv&binary[value]=iVBORw==&binary[mediaType]=image/png\
                     &result[include]=true&result[mediaType]=application/json&image[include]=false",
        )
        .unwrap();
        let i = &r.body["inputs"];
        assert_eq!(
            i["bbox"],
            json!({"bbox": [1.0, 2.0, 3.0, 4.0], "crs": "EPSG:4326"})
        );
        assert_eq!(
            i["file"],
            json!({"href": "http://example.org/a.csv", "type": "text/csv"})
        );
        assert_eq!(
            i["binary"],
            json!({"value": "iVBORw==", "mediaType": "image/png"})
        );
        assert_eq!(
            r.body["outputs"],
            json!({"result": {"format": {"mediaType": "application/json"}}})
        );
        let parsed = crate::ogc::parse_execute(&r.body, &every_kind()).unwrap();
        assert_eq!(parsed.outputs.len(), 1);
        let r = kvp("string=a&bbox[crs]=EPSG:3857&bbox=0,0,1,1").unwrap();
        assert_eq!(r.body["inputs"]["bbox"]["crs"], "EPSG:3857");
        assert!(kvp("string=a&bbox=1,2,x,4").is_err());
    }

    #[test]
    fn a_string_that_looks_like_a_number_stays_a_string() {
        let r = kvp("string=a&text=42").unwrap();
        assert_eq!(r.body["inputs"]["text"], "42");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(matches!(
            kvp("string=a&nope=1"),
            Err(ExecuteError::UnknownInput(n)) if n == "nope"
        ));
        assert!(kvp("string=a&text[bogus]=1").is_err());
    }
}
