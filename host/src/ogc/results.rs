//! Job outputs as stored after a job, and the results document
//! (`/jobs/{id}/results`).

use super::{trim_base, OutputRequest, Transmission};
use crate::model::Value;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// One output as stored after a job: inline JSON value, or a file in the
/// job's output folder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StoredOutput {
    /// Small enough to keep in the job record, already in its OGC JSON form
    /// (see [`stored_from_value`]).
    Inline {
        /// The OGC JSON form, ready for a results document.
        value: Json,
        /// Media type of the output's content, for raw responses.
        media_type: Option<String>,
    },
    /// Kept as a file and always served by reference.
    File {
        /// Name inside the job's results folder.
        file: String,
        /// Media type of the file.
        media_type: Option<String>,
    },
}

impl StoredOutput {
    /// The media type of the output's content, if known.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            StoredOutput::Inline { media_type, .. } | StoredOutput::File { media_type, .. } => {
                media_type.as_deref()
            }
        }
    }

    /// The content and media type of an inline output for a `raw` response:
    /// the reverse of [`stored_from_value`] (a string as its text, encoded
    /// bytes decoded, anything else as JSON). `None` for files and links,
    /// which the host serves from where they are.
    pub fn raw_inline(&self) -> Option<(Vec<u8>, String)> {
        let StoredOutput::Inline { value, media_type } = self else {
            return None;
        };
        let media = |default: &str| media_type.clone().unwrap_or_else(|| default.to_string());
        match value {
            Json::String(s) => Some((s.as_bytes().to_vec(), media("text/plain"))),
            Json::Object(m) if m.contains_key("href") => None,
            Json::Object(m) if is_qualified(m) => {
                let declared = m
                    .get("mediaType")
                    .and_then(Json::as_str)
                    .map(str::to_string);
                let inner = &m["value"];
                let base64 = m.get("encoding").and_then(Json::as_str) == Some("base64");
                match inner {
                    Json::String(s) if base64 => Some((
                        base64::engine::general_purpose::STANDARD.decode(s).ok()?,
                        declared.unwrap_or_else(|| media("application/octet-stream")),
                    )),
                    Json::String(s) => Some((
                        s.as_bytes().to_vec(),
                        declared.unwrap_or_else(|| media("text/plain")),
                    )),
                    other => Some((
                        other.to_string().into_bytes(),
                        declared.unwrap_or_else(|| media("application/json")),
                    )),
                }
            }
            other => Some((other.to_string().into_bytes(), media("application/json"))),
        }
    }
}

fn is_qualified(m: &Map<String, Json>) -> bool {
    m.contains_key("value")
        && m.keys()
            .all(|k| matches!(k.as_str(), "value" | "mediaType" | "encoding" | "schema"))
}

/// The stored form of an output value. A [`Value::File`] (a guest path
/// under `/outputs/`) becomes [`StoredOutput::File`] named by its path
/// inside the job's output folder; everything else is inline.
///
/// The JSON forms are the ones `results.yaml` (1.0) accepts for
/// `inlineOrRefData`: a bare JSON object is none of its alternatives, so
/// objects travel as qualified values (`{"value": {...}, "mediaType":
/// "application/json"}`), as do bytes (`{"value": base64, "encoding":
/// "base64", "mediaType": ...}`); bounding boxes use the `bbox` form and
/// links the `href` form.
pub fn stored_from_value(v: &Value) -> StoredOutput {
    let inline = |value: Json, media_type: Option<&str>| StoredOutput::Inline {
        value,
        media_type: media_type.map(str::to_string),
    };
    match v {
        Value::String { value } => inline(json!(value), Some("text/plain")),
        Value::Number { value } => inline(json!(value), Some("application/json")),
        Value::Integer { value } => inline(json!(value), Some("application/json")),
        Value::Boolean { value } => inline(json!(value), Some("application/json")),
        Value::Json {
            value: obj @ Json::Object(_),
        } => inline(
            json!({"value": obj, "mediaType": "application/json"}),
            Some("application/json"),
        ),
        Value::Json { value } => inline(value.clone(), Some("application/json")),
        Value::BBox { coordinates, crs } => {
            let mut m = Map::new();
            m.insert("bbox".into(), json!(coordinates));
            if let Some(crs) = crs {
                m.insert("crs".into(), json!(crs));
            }
            inline(Json::Object(m), Some("application/json"))
        }
        Value::Binary { data, media_type } => {
            let mut m = Map::new();
            m.insert(
                "value".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(data)),
            );
            m.insert("encoding".into(), json!("base64"));
            if let Some(t) = media_type {
                m.insert("mediaType".into(), json!(t));
            }
            inline(Json::Object(m), media_type.as_deref())
        }
        Value::Reference { href, media_type } => {
            let mut m = Map::new();
            m.insert("href".into(), json!(href));
            if let Some(t) = media_type {
                m.insert("type".into(), json!(t));
            }
            inline(Json::Object(m), media_type.as_deref())
        }
        Value::File { path, media_type } => StoredOutput::File {
            file: path.trim_start_matches("/outputs/").to_string(),
            media_type: media_type.clone(),
        },
    }
}

/// The OGC results document of a job: the `wanted` outputs (all when
/// empty), each inline or as a link to `{base}/jobs/{job_id}/results/{id}`.
///
/// Files are always links: they may be large, and the host streams them
/// from that URL. Wanted outputs the job did not produce are left out.
pub fn results_document(
    outputs: &[(String, StoredOutput)],
    wanted: &[OutputRequest],
    job_id: &str,
    base: &str,
) -> Json {
    let base = trim_base(base);
    let chosen: Vec<(&String, &StoredOutput, Transmission)> = if wanted.is_empty() {
        outputs
            .iter()
            .map(|(id, o)| (id, o, Transmission::Value))
            .collect()
    } else {
        wanted
            .iter()
            .filter_map(|w| {
                outputs
                    .iter()
                    .find(|(id, _)| *id == w.id)
                    .map(|(id, o)| (id, o, w.transmission))
            })
            .collect()
    };
    let mut doc = Map::new();
    for (id, output, transmission) in chosen {
        let value = match (output, transmission) {
            (StoredOutput::Inline { value, .. }, Transmission::Value) => value.clone(),
            _ => {
                let mut link = Map::new();
                link.insert(
                    "href".into(),
                    json!(format!("{base}/jobs/{job_id}/results/{id}")),
                );
                if let Some(t) = output.media_type() {
                    link.insert("type".into(), json!(t));
                }
                Json::Object(link)
            }
        };
        doc.insert(id.clone(), value);
    }
    Json::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::testing::{
        is_valid_strict, validate, validate_in, validate_issue350, Mode, OGC_2_0,
    };

    fn every_value() -> Vec<(String, Value)> {
        vec![
            ("string".into(), Value::string("hello world")),
            ("number".into(), Value::Number { value: 2.5 }),
            ("integral".into(), Value::Number { value: 5.0 }),
            ("integer".into(), Value::Integer { value: 7 }),
            ("boolean".into(), Value::Boolean { value: false }),
            (
                "array".into(),
                Value::Json {
                    value: json!([1, "two", {"three": 3}]),
                },
            ),
            (
                "object".into(),
                Value::Json {
                    value: json!({"a": 1, "href": "not a link"}),
                },
            ),
            (
                "bbox".into(),
                Value::BBox {
                    coordinates: vec![51.9, 7.0, 52.0, 7.1],
                    crs: Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84".into()),
                },
            ),
            (
                "bbox3d".into(),
                Value::BBox {
                    coordinates: vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                    crs: None,
                },
            ),
            (
                "binary".into(),
                Value::Binary {
                    data: vec![0, 159, 146, 150],
                    media_type: Some("image/png".into()),
                },
            ),
            (
                "link".into(),
                Value::Reference {
                    href: "https://example.org/x.tif".into(),
                    media_type: Some("image/tiff".into()),
                },
            ),
        ]
    }

    fn stored() -> Vec<(String, StoredOutput)> {
        let mut out: Vec<(String, StoredOutput)> = every_value()
            .into_iter()
            .map(|(id, v)| (id, stored_from_value(&v)))
            .collect();
        out.push((
            "file".into(),
            StoredOutput::File {
                file: "file.tif".into(),
                media_type: Some("image/tiff".into()),
            },
        ));
        out
    }

    #[test]
    fn every_value_kind_has_its_ogc_form() {
        let s: Map<String, Json> = stored()
            .into_iter()
            .filter_map(|(id, o)| match o {
                StoredOutput::Inline { value, .. } => Some((id, value)),
                StoredOutput::File { .. } => None,
            })
            .collect();
        assert_eq!(s["string"], json!("hello world"));
        assert_eq!(s["number"], json!(2.5));
        assert_eq!(s["integer"], json!(7));
        assert_eq!(s["boolean"], json!(false));
        assert_eq!(s["array"], json!([1, "two", {"three": 3}]));
        assert_eq!(
            s["object"],
            json!({"value": {"a": 1, "href": "not a link"}, "mediaType": "application/json"})
        );
        assert_eq!(
            s["bbox"],
            json!({"bbox": [51.9, 7.0, 52.0, 7.1], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"})
        );
        assert_eq!(s["bbox3d"], json!({"bbox": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]}));
        assert_eq!(
            s["binary"],
            json!({"value": "AJ+Slg==", "encoding": "base64", "mediaType": "image/png"})
        );
        assert_eq!(
            s["link"],
            json!({"href": "https://example.org/x.tif", "type": "image/tiff"})
        );
        assert_eq!(
            stored_from_value(&Value::File {
                path: "/outputs/sub/x.tif".into(),
                media_type: Some("image/tiff".into())
            }),
            StoredOutput::File {
                file: "sub/x.tif".into(),
                media_type: Some("image/tiff".into())
            }
        );
    }

    #[test]
    fn results_document_validates_against_1_0() {
        let doc = results_document(&stored(), &[], "j1", "https://h.example/");
        assert_eq!(doc.as_object().unwrap().len(), 12);
        assert_eq!(
            doc["file"],
            json!({"href": "https://h.example/jobs/j1/results/file", "type": "image/tiff"})
        );
        // With the ETS's tolerance for overlapping oneOf branches (issue 350)
        // the whole document is valid...
        validate_issue350("results.yaml", &doc);
        // ...and as published, every output except the ones that fall into
        // those overlaps: strings (string vs format: byte), integers (number
        // vs integer) and base64 values (string vs format: byte, again).
        let mut strict = doc.clone();
        for overlap in ["string", "integer", "binary"] {
            let alone = json!({ overlap: doc[overlap].clone() });
            assert!(
                !is_valid_strict("results.yaml", &alone),
                "{overlap} now validates strictly: schemas fixed?"
            );
            strict.as_object_mut().unwrap().remove(overlap);
        }
        validate("results.yaml", &strict);
    }

    #[test]
    fn inline_values_also_fit_the_2_0_draft() {
        // 2.0 fixed the overlaps (anyOf), so strings, integers and bytes are
        // valid there as published; its link.yaml requires `rel`, so links
        // are checked against 1.0 only.
        let mut doc = results_document(&stored(), &[], "j1", "https://h.example");
        for link in ["link", "file"] {
            doc.as_object_mut().unwrap().remove(link);
        }
        validate_in(
            OGC_2_0,
            "schemas/processes-core/results.yaml",
            &doc,
            Mode::Strict,
        );
    }

    #[test]
    fn references_on_request_and_for_files() {
        let wanted = vec![
            OutputRequest {
                id: "number".into(),
                transmission: Transmission::Reference,
                media_type: None,
            },
            OutputRequest {
                id: "bbox".into(),
                transmission: Transmission::Value,
                media_type: None,
            },
            OutputRequest {
                id: "file".into(),
                transmission: Transmission::Value,
                media_type: None,
            },
            OutputRequest {
                id: "not-produced".into(),
                transmission: Transmission::Value,
                media_type: None,
            },
        ];
        let doc = results_document(&stored(), &wanted, "j1", "https://h.example");
        assert_eq!(
            doc,
            json!({
                "number": {"href": "https://h.example/jobs/j1/results/number", "type": "application/json"},
                "bbox": {"bbox": [51.9, 7.0, 52.0, 7.1], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
                "file": {"href": "https://h.example/jobs/j1/results/file", "type": "image/tiff"},
            })
        );
        validate("results.yaml", &doc);
    }

    #[test]
    fn raw_content_reverses_the_stored_form() {
        let raw = |v: Value| stored_from_value(&v).raw_inline();
        assert_eq!(
            raw(Value::string("hi")),
            Some((b"hi".to_vec(), "text/plain".into()))
        );
        assert_eq!(
            raw(Value::Integer { value: 3 }),
            Some((b"3".to_vec(), "application/json".into()))
        );
        assert_eq!(
            raw(Value::Json {
                value: json!({"a": 1})
            }),
            Some((br#"{"a":1}"#.to_vec(), "application/json".into()))
        );
        assert_eq!(
            raw(Value::Binary {
                data: vec![1, 2, 3],
                media_type: Some("image/png".into())
            }),
            Some((vec![1, 2, 3], "image/png".into()))
        );
        assert_eq!(
            raw(Value::Binary {
                data: vec![1],
                media_type: None
            }),
            Some((vec![1], "application/octet-stream".into()))
        );
        assert_eq!(
            raw(Value::Reference {
                href: "https://x.example/".into(),
                media_type: None
            }),
            None
        );
        assert_eq!(
            StoredOutput::File {
                file: "f".into(),
                media_type: None
            }
            .raw_inline(),
            None
        );
    }

    #[test]
    fn stored_outputs_round_trip_through_serde() {
        for (_, o) in stored() {
            let text = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<StoredOutput>(&text).unwrap(), o);
        }
        assert_eq!(
            serde_json::to_value(StoredOutput::File {
                file: "a".into(),
                media_type: None
            })
            .unwrap(),
            json!({"kind": "file", "file": "a", "media_type": null})
        );
    }
}
