//! Builds the OGC description from what the macros saw in the source.

use crate::bindings::wades::process::types as wit;
use crate::value::ProcessValue;
use serde_json::Value as JsonValue;

pub use wit::{InputDescription, OutputDescription};

/// What `#[process(...)]` and the doc comments say about the process.
pub struct ProcessMeta {
    /// OGC process id.
    pub id: &'static str,
    /// Process version.
    pub version: &'static str,
    /// Title (the first doc line unless given).
    pub title: Option<&'static str>,
    /// Description (the doc comment).
    pub description: Option<&'static str>,
    /// Keywords.
    pub keywords: &'static [&'static str],
    /// `sync-execute`, `async-execute`, `dismiss`; empty means all three.
    pub job_control: &'static [&'static str],
    /// Fuel limit the process asks for.
    pub fuel: Option<u64>,
    /// Memory limit the process asks for, in bytes.
    pub memory_bytes: Option<u64>,
    /// Wall-clock limit the process asks for, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// What the derive saw on one field.
pub struct FieldMeta {
    /// OGC id.
    pub id: &'static str,
    /// Title.
    pub title: Option<&'static str>,
    /// Description.
    pub description: Option<&'static str>,
    /// Schema that replaces the derived one (JSON text).
    pub schema: Option<&'static str>,
    /// Media types.
    pub media_types: &'static [&'static str],
    /// Keywords.
    pub keywords: &'static [&'static str],
    /// Minimum occurrences.
    pub min_occurs: u32,
    /// Maximum occurrences, `None` is unbounded.
    pub max_occurs: Option<u32>,
}

fn schema_of<T: ProcessValue>(meta: &FieldMeta) -> String {
    let mut schema = match meta.schema {
        // A bad override is a bug in the process: fail loudly when it describes itself.
        Some(text) => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("schema of '{}' is not JSON: {e}", meta.id)),
        None => T::schema(),
    };
    if let (Some(first), JsonValue::Object(map)) = (meta.media_types.first(), &mut schema) {
        if map.contains_key("contentMediaType") {
            map.insert(
                "contentMediaType".into(),
                JsonValue::String(first.to_string()),
            );
        }
    }
    schema.to_string()
}

fn formats(meta: &FieldMeta) -> Vec<wit::Format> {
    meta.media_types
        .iter()
        .map(|m| wit::Format {
            media_type: m.to_string(),
            encoding: None,
            schema: None,
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Describes one input of type `T`.
pub fn field_input<T: ProcessValue>(meta: FieldMeta) -> InputDescription {
    InputDescription {
        id: meta.id.into(),
        title: meta.title.map(Into::into),
        description: meta.description.map(Into::into),
        keywords: strings(meta.keywords),
        schema: schema_of::<T>(&meta),
        min_occurs: meta.min_occurs,
        max_occurs: meta.max_occurs,
        formats: formats(&meta),
    }
}

/// Describes one output of type `T`.
pub fn field_output<T: ProcessValue>(meta: FieldMeta) -> OutputDescription {
    OutputDescription {
        id: meta.id.into(),
        title: meta.title.map(Into::into),
        description: meta.description.map(Into::into),
        keywords: strings(meta.keywords),
        schema: schema_of::<T>(&meta),
        formats: formats(&meta),
    }
}

/// The whole description.
pub fn describe_process(
    meta: ProcessMeta,
    inputs: Vec<InputDescription>,
    outputs: Vec<OutputDescription>,
) -> wit::ProcessDescription {
    let job_control = if meta.job_control.is_empty() {
        vec![
            wit::JobControl::SyncExecute,
            wit::JobControl::AsyncExecute,
            wit::JobControl::Dismiss,
        ]
    } else {
        meta.job_control
            .iter()
            .map(|c| match *c {
                "sync-execute" => wit::JobControl::SyncExecute,
                "async-execute" => wit::JobControl::AsyncExecute,
                "dismiss" => wit::JobControl::Dismiss,
                other => panic!("unknown job control option '{other}'"),
            })
            .collect()
    };
    wit::ProcessDescription {
        id: meta.id.into(),
        version: meta.version.into(),
        title: meta.title.map(Into::into),
        description: meta.description.map(Into::into),
        keywords: strings(meta.keywords),
        inputs,
        outputs,
        job_control_options: job_control,
        limits: wit::Limits {
            fuel: meta.fuel,
            memory_bytes: meta.memory_bytes,
            timeout_ms: meta.timeout_ms,
        },
    }
}
