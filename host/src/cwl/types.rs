//! CWL's type algebra, and checking values against it.
//!
//! The loader resolves shorthands (`string[]?`), `SchemaDefRequirement`
//! names and `stdout`/`stderr` outputs, so the runner only ever sees these
//! variants.

use serde_json::Value;

/// A CWL type.
#[derive(Debug, Clone, PartialEq)]
pub enum CwlType {
    /// `null`: only the JSON null.
    Null,
    /// `boolean`.
    Boolean,
    /// `int` (32 bits in CWL; we accept any JSON integer).
    Int,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// A `File` object.
    File,
    /// A `Directory` object.
    Directory,
    /// `Any`: every value except null.
    Any,
    /// An array; the binding, if any, applies to each item.
    Array(Box<ArrayType>),
    /// A record of named fields.
    Record(Box<RecordType>),
    /// An enumeration of strings.
    Enum(Box<EnumType>),
    /// One of several types; the first that fits a value is the one used.
    Union(Vec<CwlType>),
}

/// `{type: array, items: ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayType {
    /// The type of every item.
    pub items: CwlType,
    /// The array schema's own `inputBinding`, applied to each item.
    pub binding: Option<Binding>,
}

/// `{type: record, fields: [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordType {
    /// The record's name, when it was given one.
    pub name: Option<String>,
    /// The fields, in declaration order.
    pub fields: Vec<Field>,
}

/// One field of a record type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name (short form).
    pub name: String,
    /// Its type.
    pub ty: CwlType,
    /// Its `inputBinding`.
    pub binding: Option<Binding>,
    /// Its `outputBinding` (in output records).
    pub output_binding: Option<crate::cwl::model::OutputBinding>,
    /// Secondary files required next to a File value.
    pub secondary_files: Vec<SecondaryFile>,
    /// Format of a File value (string or expression).
    pub format: Option<Value>,
    /// Whether a File value's first 64 KiB are read into `contents`.
    pub load_contents: bool,
}

/// `{type: enum, symbols: [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumType {
    /// The enum's name, when it was given one.
    pub name: Option<String>,
    /// The allowed strings (short forms).
    pub symbols: Vec<String>,
    /// The enum schema's own `inputBinding`.
    pub binding: Option<Binding>,
}

/// A `CommandLineBinding`: how a value turns into command line words.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Binding {
    /// Sort position: an integer or an expression giving one.
    pub position: Option<Value>,
    /// Word put before the value.
    pub prefix: Option<String>,
    /// Whether prefix and value are separate words (default true).
    pub separate: bool,
    /// Join array items into one word with this separator.
    pub item_separator: Option<String>,
    /// Expression (or constant) replacing the value.
    pub value_from: Option<Value>,
    /// Quote the words under `ShellCommandRequirement` (default true).
    pub shell_quote: bool,
    /// Read a File's first 64 KiB into `contents` (v1.0 placement).
    pub load_contents: bool,
}

/// A secondary file pattern: `.bai`, `^.bai`, or an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryFile {
    /// The pattern or expression.
    pub pattern: String,
    /// Whether it must exist: a boolean, an expression, or unspecified
    /// (true for inputs, false for outputs).
    pub required: Option<Value>,
}

impl CwlType {
    /// Whether null is an acceptable value of this type.
    pub fn accepts_null(&self) -> bool {
        match self {
            CwlType::Null => true,
            CwlType::Union(ts) => ts.iter().any(|t| t.accepts_null()),
            _ => false,
        }
    }

    /// Whether `value` fits this type. Integers fit float types; extra keys
    /// in records are allowed (CWL records are open for inputs).
    pub fn matches(&self, value: &Value) -> bool {
        match self {
            CwlType::Null => value.is_null(),
            CwlType::Boolean => value.is_boolean(),
            CwlType::Int | CwlType::Long => value.is_i64() || value.is_u64(),
            CwlType::Float | CwlType::Double => value.is_number(),
            CwlType::String => value.is_string(),
            CwlType::File => class_of(value) == Some("File"),
            CwlType::Directory => class_of(value) == Some("Directory"),
            CwlType::Any => !value.is_null(),
            CwlType::Array(a) => value
                .as_array()
                .is_some_and(|items| items.iter().all(|v| a.items.matches(v))),
            CwlType::Record(r) => value.as_object().is_some_and(|o| {
                class_of(value).is_none()
                    && r.fields
                        .iter()
                        .all(|f| f.ty.matches(o.get(&f.name).unwrap_or(&Value::Null)))
            }),
            CwlType::Enum(e) => value
                .as_str()
                .is_some_and(|s| e.symbols.iter().any(|sym| sym == s)),
            CwlType::Union(ts) => ts.iter().any(|t| t.matches(value)),
        }
    }

    /// The member of a union that `value` fits (the type itself when it is
    /// not a union and fits).
    pub fn member_for(&self, value: &Value) -> Option<&CwlType> {
        match self {
            CwlType::Union(ts) => ts.iter().find_map(|t| t.member_for(value)),
            t if t.matches(value) => Some(t),
            _ => None,
        }
    }

    /// Whether this type (or a member of it) is an array.
    pub fn is_array(&self) -> bool {
        match self {
            CwlType::Array(_) => true,
            CwlType::Union(ts) => ts.iter().any(|t| t.is_array()),
            _ => false,
        }
    }

    /// Whether a File or Directory can appear anywhere in a value of this type.
    pub fn may_hold_files(&self) -> bool {
        match self {
            CwlType::File | CwlType::Directory | CwlType::Any => true,
            CwlType::Array(a) => a.items.may_hold_files(),
            CwlType::Record(r) => r.fields.iter().any(|f| f.ty.may_hold_files()),
            CwlType::Union(ts) => ts.iter().any(|t| t.may_hold_files()),
            _ => false,
        }
    }

    /// A short human description, for error messages.
    pub fn describe(&self) -> String {
        match self {
            CwlType::Null => "null".into(),
            CwlType::Boolean => "boolean".into(),
            CwlType::Int => "int".into(),
            CwlType::Long => "long".into(),
            CwlType::Float => "float".into(),
            CwlType::Double => "double".into(),
            CwlType::String => "string".into(),
            CwlType::File => "File".into(),
            CwlType::Directory => "Directory".into(),
            CwlType::Any => "Any".into(),
            CwlType::Array(a) => format!("{}[]", a.items.describe()),
            CwlType::Record(r) => format!("record {}", r.name.as_deref().unwrap_or("")),
            CwlType::Enum(e) => format!("enum {:?}", e.symbols),
            CwlType::Union(ts) => ts
                .iter()
                .map(|t| t.describe())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }
}

/// The `class` of a File or Directory object, if `value` is one.
pub fn class_of(value: &Value) -> Option<&str> {
    match value.get("class")?.as_str()? {
        c @ ("File" | "Directory") => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching() {
        let t = CwlType::Union(vec![
            CwlType::Null,
            CwlType::Array(Box::new(ArrayType {
                items: CwlType::String,
                binding: None,
            })),
        ]);
        assert!(t.matches(&json!(null)));
        assert!(t.matches(&json!(["a"])));
        assert!(!t.matches(&json!([1])));
        assert!(!CwlType::Any.matches(&json!(null)));
        assert!(CwlType::Float.matches(&json!(1)));
        assert!(!CwlType::Int.matches(&json!(1.5)));
        assert!(CwlType::File.matches(&json!({"class": "File"})));
    }
}
