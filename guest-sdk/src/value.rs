//! Conversions between Rust types and the contract's values.

use crate::bindings::wades::process::types as wit;
use crate::ProcessError;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value as JsonValue};

pub use wit::Value;

/// A Rust type that can be one process input or output value.
pub trait ProcessValue: Sized {
    /// JSON Schema of one value of this type.
    fn schema() -> JsonValue;
    /// Builds the type from a value the host passed.
    fn from_value(value: Value) -> Result<Self, String>;
    /// Turns the type into a value for the host.
    fn into_value(self) -> Value;
}

/// Bounding box: `[minx, miny, maxx, maxy]` or the 3D form with 6 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct BBox {
    /// Lower corner first, then upper corner.
    pub coordinates: Vec<f64>,
    /// CRS URI; `None` is OGC CRS84.
    pub crs: Option<String>,
}

/// Inline bytes with their media type.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// The bytes.
    pub data: Vec<u8>,
    /// Their media type, e.g. `image/png`.
    pub media_type: Option<String>,
}

/// A link, passed to the process untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The URL.
    pub href: String,
    /// The media type of what it points to.
    pub media_type: Option<String>,
}

/// Any serde type carried as a complex (JSON) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Integer(_) => "integer",
        Value::Boolean(_) => "boolean",
        Value::Json(_) => "complex value",
        Value::Bbox(_) => "bounding box",
        Value::Binary(_) => "binary value",
        Value::Reference(_) => "reference",
        Value::File(_) => "file",
    }
}

fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {}", kind(got))
}

fn parse_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("expected {what}: {e}"))
}

impl ProcessValue for String {
    fn schema() -> JsonValue {
        json!({"type": "string"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            Value::Json(t) => parse_json(&t, "a string"),
            other => Err(expected("a string", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

impl ProcessValue for f64 {
    fn schema() -> JsonValue {
        json!({"type": "number"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Number(n) => Ok(n),
            Value::Integer(i) => Ok(i as f64),
            Value::Json(t) => parse_json(&t, "a number"),
            other => Err(expected("a number", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Number(self)
    }
}

impl ProcessValue for f32 {
    fn schema() -> JsonValue {
        f64::schema()
    }
    fn from_value(value: Value) -> Result<Self, String> {
        f64::from_value(value).map(|n| n as f32)
    }
    fn into_value(self) -> Value {
        Value::Number(self as f64)
    }
}

impl ProcessValue for i64 {
    fn schema() -> JsonValue {
        json!({"type": "integer"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(i),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
                Ok(n as i64)
            }
            Value::Json(t) => parse_json(&t, "an integer"),
            other => Err(expected("an integer", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Integer(self)
    }
}

macro_rules! narrow_integer {
    ($($t:ty),*) => {$(
        impl ProcessValue for $t {
            fn schema() -> JsonValue {
                json!({"type": "integer", "minimum": <$t>::MIN, "maximum": <$t>::MAX})
            }
            fn from_value(value: Value) -> Result<Self, String> {
                let wide = i64::from_value(value)?;
                <$t>::try_from(wide).map_err(|_| format!("{wide} is out of range for {}", stringify!($t)))
            }
            fn into_value(self) -> Value {
                Value::Integer(self as i64)
            }
        }
    )*};
}
narrow_integer!(i32, u32, u8, u16);

impl ProcessValue for bool {
    fn schema() -> JsonValue {
        json!({"type": "boolean"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Boolean(b) => Ok(b),
            Value::Json(t) => parse_json(&t, "a boolean"),
            other => Err(expected("a boolean", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Boolean(self)
    }
}

impl ProcessValue for JsonValue {
    fn schema() -> JsonValue {
        json!({"type": "object"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(to_json(value))
    }
    fn into_value(self) -> Value {
        from_json(self)
    }
}

impl<T: Serialize + DeserializeOwned> ProcessValue for Json<T> {
    fn schema() -> JsonValue {
        json!({"type": "object"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        serde_json::from_value(to_json(value))
            .map(Json)
            .map_err(|e| e.to_string())
    }
    fn into_value(self) -> Value {
        match serde_json::to_value(self.0) {
            Ok(v) => Value::Json(v.to_string()),
            Err(e) => Value::Json(json!({"error": e.to_string()}).to_string()),
        }
    }
}

impl<T: ProcessValue> ProcessValue for Vec<T> {
    fn schema() -> JsonValue {
        json!({"type": "array", "items": T::schema()})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match to_json(value) {
            JsonValue::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    T::from_value(from_json(item)).map_err(|e| format!("item {i}: {e}"))
                })
                .collect(),
            _ => Err("expected an array".into()),
        }
    }
    fn into_value(self) -> Value {
        let items = self.into_iter().map(|v| to_json(v.into_value())).collect();
        Value::Json(JsonValue::Array(items).to_string())
    }
}

impl ProcessValue for BBox {
    fn schema() -> JsonValue {
        json!({
            "type": "object",
            "required": ["bbox"],
            "properties": {
                "bbox": {"type": "array", "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}], "items": {"type": "number"}},
                "crs": {"type": "string", "format": "uri", "default": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
            },
            "format": "ogc-bbox"
        })
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bbox(b) if matches!(b.coordinates.len(), 4 | 6) => Ok(BBox {
                coordinates: b.coordinates,
                crs: b.crs,
            }),
            Value::Bbox(b) => Err(format!(
                "a bounding box has 4 or 6 coordinates, not {}",
                b.coordinates.len()
            )),
            other => Err(expected("a bounding box", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Bbox(wit::Bbox {
            coordinates: self.coordinates,
            crs: self.crs,
        })
    }
}

impl ProcessValue for Binary {
    fn schema() -> JsonValue {
        json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "application/octet-stream"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Binary(b) => Ok(Binary {
                data: b.data,
                media_type: b.media_type,
            }),
            Value::String(s) => Ok(Binary {
                data: s.into_bytes(),
                media_type: None,
            }),
            other => Err(expected("binary data", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Binary(wit::Binary {
            data: self.data,
            media_type: self.media_type,
        })
    }
}

impl ProcessValue for Reference {
    fn schema() -> JsonValue {
        json!({"type": "string", "format": "uri"})
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Reference(r) => Ok(Reference {
                href: r.href,
                media_type: r.media_type,
            }),
            Value::String(href) => Ok(Reference {
                href,
                media_type: None,
            }),
            other => Err(expected("a reference", &other)),
        }
    }
    fn into_value(self) -> Value {
        Value::Reference(wit::Reference {
            href: self.href,
            media_type: self.media_type,
        })
    }
}

/// JSON view of any value, used for arrays and complex values.
pub(crate) fn to_json(value: Value) -> JsonValue {
    match value {
        Value::String(s) => JsonValue::String(s),
        Value::Number(n) => json!(n),
        Value::Integer(i) => json!(i),
        Value::Boolean(b) => json!(b),
        Value::Json(t) => serde_json::from_str(&t).unwrap_or(JsonValue::String(t)),
        Value::Bbox(b) => match b.crs {
            Some(crs) => json!({"bbox": b.coordinates, "crs": crs}),
            None => json!({"bbox": b.coordinates}),
        },
        Value::Binary(b) => json!({"value": b.data, "mediaType": b.media_type}),
        Value::Reference(r) => json!({"href": r.href, "type": r.media_type}),
        Value::File(f) => json!({"path": f.path, "type": f.media_type}),
    }
}

/// The most specific value for a JSON document.
pub(crate) fn from_json(json: JsonValue) -> Value {
    match json {
        JsonValue::String(s) => Value::String(s),
        JsonValue::Bool(b) => Value::Boolean(b),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        other => Value::Json(other.to_string()),
    }
}

/// Input values by id, consumed by the derived `Inputs` impl.
pub struct ValueBag {
    values: Vec<Option<wit::NamedValue>>,
}

/// How many times an input or output may occur.
#[derive(Debug, Clone, Copy)]
pub struct Occurs {
    /// At least this many.
    pub min: u32,
    /// At most this many; `None` is unbounded.
    pub max: Option<u32>,
}

impl ValueBag {
    /// Wraps what the host passed.
    pub fn new(values: Vec<wit::NamedValue>) -> Self {
        ValueBag {
            values: values.into_iter().map(Some).collect(),
        }
    }

    /// Takes every occurrence of `id`, in order.
    pub fn take_all(&mut self, id: &str) -> Vec<Value> {
        self.values
            .iter_mut()
            .filter(|slot| slot.as_ref().is_some_and(|v| v.id == id))
            .filter_map(|slot| slot.take().map(|v| v.value))
            .collect()
    }

    /// A required single input.
    pub fn required<T: ProcessValue>(&mut self, id: &str) -> Result<T, ProcessError> {
        self.optional(id)?
            .ok_or_else(|| ProcessError::invalid_input(format!("input '{id}' is required")))
    }

    /// An optional single input.
    pub fn optional<T: ProcessValue>(&mut self, id: &str) -> Result<Option<T>, ProcessError> {
        let mut all = self.take_all(id);
        if all.len() > 1 {
            return Err(ProcessError::invalid_input(format!(
                "input '{id}' takes one value, got {}",
                all.len()
            )));
        }
        all.pop().map(|v| convert(id, v)).transpose()
    }

    /// An input with several occurrences.
    pub fn many<T: ProcessValue>(
        &mut self,
        id: &str,
        occurs: Occurs,
    ) -> Result<Vec<T>, ProcessError> {
        let all = self.take_all(id);
        let n = all.len() as u32;
        if n < occurs.min || occurs.max.is_some_and(|max| n > max) {
            let max = occurs
                .max
                .map_or("unbounded".to_string(), |m| m.to_string());
            return Err(ProcessError::invalid_input(format!(
                "input '{id}' takes {} to {max} values, got {n}",
                occurs.min
            )));
        }
        all.into_iter().map(|v| convert(id, v)).collect()
    }

    /// Fails on any input the process does not declare.
    pub fn reject_unknown(&self) -> Result<(), ProcessError> {
        match self.values.iter().flatten().next() {
            Some(v) => Err(ProcessError::invalid_input(format!(
                "unknown input '{}'",
                v.id
            ))),
            None => Ok(()),
        }
    }
}

fn convert<T: ProcessValue>(id: &str, v: Value) -> Result<T, ProcessError> {
    T::from_value(v).map_err(|e| ProcessError::invalid_input(format!("input '{id}': {e}")))
}
