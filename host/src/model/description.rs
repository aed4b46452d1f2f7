//! What a process says about itself.

use super::Limits;
use serde::{Deserialize, Serialize};

/// The OGC description of a process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessDescription {
    /// Process id.
    pub id: String,
    /// Process version.
    pub version: String,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Inputs, in declaration order.
    pub inputs: Vec<InputDescription>,
    /// Outputs, in declaration order.
    pub outputs: Vec<OutputDescription>,
    /// How the process may be executed.
    pub job_control_options: Vec<JobControl>,
    /// Limits the process asks for; they can only lower the operator's.
    pub limits: Limits,
}

impl ProcessDescription {
    /// Whether any input or output travels as a file (the SDK's `File`,
    /// marked `"x-wades-staging": "file"` in its schema). Only such
    /// processes get the `/inputs` and `/outputs` folders: making and
    /// removing folders for every job costs more than running a small
    /// guest.
    pub fn stages_files(&self) -> bool {
        let file = |schema: &serde_json::Value| {
            schema.get("x-wades-staging").and_then(|v| v.as_str()) == Some("file")
        };
        self.inputs.iter().any(|i| file(&i.schema)) || self.outputs.iter().any(|o| file(&o.schema))
    }
}

/// One input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDescription {
    /// Input id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// JSON Schema of one occurrence.
    pub schema: serde_json::Value,
    /// Minimum number of occurrences.
    pub min_occurs: u32,
    /// Maximum number of occurrences; `None` is unbounded.
    pub max_occurs: Option<u32>,
    /// Accepted media types.
    pub formats: Vec<Format>,
}

/// One output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDescription {
    /// Output id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// JSON Schema of the output.
    pub schema: serde_json::Value,
    /// Produced media types.
    pub formats: Vec<Format>,
}

/// A media type with optional encoding and schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    /// Media type.
    pub media_type: String,
    /// Encoding, e.g. `base64`.
    pub encoding: Option<String>,
    /// Schema URI.
    pub schema: Option<String>,
}

/// OGC job control options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobControl {
    /// The process can run while the client waits.
    SyncExecute,
    /// The process can run as a job the client polls.
    AsyncExecute,
    /// A running job can be dismissed.
    Dismiss,
}
