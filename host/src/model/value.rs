//! OGC input and output values.

use serde::{Deserialize, Serialize};

/// One input or output value, as the OGC standard allows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Value {
    /// Text.
    String {
        /// The text.
        value: String,
    },
    /// A floating-point number.
    Number {
        /// The number.
        value: f64,
    },
    /// An integer.
    Integer {
        /// The integer.
        value: i64,
    },
    /// A boolean.
    Boolean {
        /// The boolean.
        value: bool,
    },
    /// A complex value: a JSON object or array.
    Json {
        /// The document.
        value: serde_json::Value,
    },
    /// A bounding box.
    BBox {
        /// 4 or 6 numbers, lower corner first.
        coordinates: Vec<f64>,
        /// CRS URI; none means CRS84.
        crs: Option<String>,
    },
    /// Inline bytes.
    Binary {
        /// The bytes (base64 when serialized).
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        /// Their media type.
        media_type: Option<String>,
    },
    /// A link.
    Reference {
        /// The URL.
        href: String,
        /// The media type it points to.
        media_type: Option<String>,
    },
    /// A file in the job's sandbox, by its path as the guest sees it
    /// (`/inputs/...` or `/outputs/...`).
    File {
        /// Guest path.
        path: String,
        /// Media type.
        media_type: Option<String>,
    },
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Value::String { value: s.into() }
    }

    /// Bytes this value holds inline; a file or link counts as its text.
    pub fn inline_size(&self) -> usize {
        match self {
            Value::String { value } => value.len(),
            Value::Number { .. } | Value::Integer { .. } | Value::Boolean { .. } => 8,
            Value::Json { value } => value.to_string().len(),
            Value::BBox { coordinates, crs } => {
                coordinates.len() * 8 + crs.as_ref().map_or(0, String::len)
            }
            Value::Binary { data, .. } => data.len(),
            Value::Reference { href, .. } => href.len(),
            Value::File { path, .. } => path.len(),
        }
    }
}

/// A value with the id of its input or output. An input with several
/// occurrences appears once per occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedValue {
    /// Input or output id.
    pub id: String,
    /// The value.
    pub value: Value,
}

impl NamedValue {
    /// Pairs an id with a value.
    pub fn new(id: impl Into<String>, value: Value) -> Self {
        NamedValue {
            id: id.into(),
            value,
        }
    }
}

/// Bytes as base64 text: a JSON array of numbers would be four times larger.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}
