//! The normalised CWL document model the runner works on.
//!
//! Ids are short names (`input`, `step/out`), types are resolved
//! [`CwlType`]s, map forms have become lists. Requirements and hints stay
//! JSON objects keyed by `class`, because which of them apply depends on
//! where a process runs (a step inherits its workflow's), and the runner
//! only reads the few fields it acts on.

use super::types::{Binding, CwlType, SecondaryFile};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A CWL process: CommandLineTool, ExpressionTool or Workflow.
#[derive(Debug, Clone)]
pub struct Process {
    /// The process id (short form), or the file name when it has none.
    pub id: String,
    /// `cwlVersion` (inherited from the enclosing document when absent).
    pub cwl_version: String,
    /// Input parameters.
    pub inputs: Vec<InputParameter>,
    /// Output parameters.
    pub outputs: Vec<OutputParameter>,
    /// `requirements`: each a JSON object with a `class`.
    pub requirements: Vec<Value>,
    /// `hints`: like requirements, but unknown ones are ignored.
    pub hints: Vec<Value>,
    /// Directory of the file the process came from: relative locations in
    /// defaults resolve against it.
    pub base_dir: PathBuf,
    /// `$namespaces`: prefix to URI, used to expand `format`s.
    pub namespaces: BTreeMap<String, String>,
    /// `$schemas`: the ontologies formats are defined in.
    pub schemas: Vec<String>,
    /// `label` and `doc`: what the OGC description calls title and
    /// description.
    pub texts: Texts,
    /// What the process does.
    pub kind: ProcessKind,
}

/// The human-readable `label` and `doc` of a process or parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Texts {
    /// `label`: a short title.
    pub label: Option<String>,
    /// `doc`: a description (a list of strings is joined by new lines).
    pub doc: Option<String>,
}

/// The class-specific part of a [`Process`].
#[derive(Debug, Clone)]
pub enum ProcessKind {
    /// A command line program.
    CommandLineTool(CommandLineTool),
    /// A JavaScript expression computing the outputs from the inputs.
    ExpressionTool {
        /// The expression (`${...}` or `$(...)`).
        expression: String,
    },
    /// Steps connected by their inputs and outputs.
    Workflow(Workflow),
    /// An abstract `Operation`: described, never runnable.
    Operation,
}

/// An input parameter of any process class.
#[derive(Debug, Clone)]
pub struct InputParameter {
    /// Short id.
    pub id: String,
    /// Declared type.
    pub ty: CwlType,
    /// Where the value goes on the command line (CommandLineTool only).
    pub binding: Option<Binding>,
    /// Value used when the input is missing or null.
    pub default: Option<Value>,
    /// Secondary files that must accompany a File value.
    pub secondary_files: Vec<SecondaryFile>,
    /// Expected format (string, list, or expression).
    pub format: Option<Value>,
    /// Read a File's first 64 KiB into `contents`.
    pub load_contents: bool,
    /// `no_listing`, `shallow_listing` or `deep_listing` for Directories.
    pub load_listing: Option<String>,
    /// `label` and `doc`.
    pub texts: Texts,
}

/// An output parameter of any process class.
#[derive(Debug, Clone)]
pub struct OutputParameter {
    /// Short id.
    pub id: String,
    /// Declared type (`stdout`/`stderr` already turned into File).
    pub ty: CwlType,
    /// How a CommandLineTool finds the value.
    pub binding: Option<OutputBinding>,
    /// Secondary files to collect next to a File value.
    pub secondary_files: Vec<SecondaryFile>,
    /// Format to attach to File values (string or expression).
    pub format: Option<Value>,
    /// Workflow outputs: where the value comes from (`input` or `step/out`).
    pub output_source: Vec<String>,
    /// Workflow outputs: `merge_nested` or `merge_flattened`.
    pub link_merge: Option<String>,
    /// Workflow outputs: `first_non_null`, `the_only_non_null`, `all_non_null`.
    pub pick_value: Option<String>,
    /// `label` and `doc`.
    pub texts: Texts,
}

/// A `CommandOutputBinding`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutputBinding {
    /// Glob pattern(s) or expression, relative to the output directory.
    pub glob: Option<Value>,
    /// Read each matched File's first 64 KiB into `contents`.
    pub load_contents: bool,
    /// Listing depth for matched Directories.
    pub load_listing: Option<String>,
    /// Expression computing the output from the matched files (`self`).
    pub output_eval: Option<String>,
}

/// The CommandLineTool-specific fields.
#[derive(Debug, Clone, Default)]
pub struct CommandLineTool {
    /// Program and leading arguments.
    pub base_command: Vec<String>,
    /// Extra arguments, literal or bound.
    pub arguments: Vec<Argument>,
    /// File (expression) fed to standard input.
    pub stdin: Option<String>,
    /// File name (expression) standard output is captured to.
    pub stdout: Option<String>,
    /// File name (expression) standard error is captured to.
    pub stderr: Option<String>,
    /// Exit codes meaning success (default `[0]`).
    pub success_codes: Vec<i64>,
    /// Exit codes meaning a temporary failure.
    pub temporary_fail_codes: Vec<i64>,
    /// Exit codes meaning a permanent failure.
    pub permanent_fail_codes: Vec<i64>,
}

/// One entry of `arguments`.
#[derive(Debug, Clone)]
pub enum Argument {
    /// A plain string (may hold expressions).
    Literal(String),
    /// A full binding, usually with `valueFrom`.
    Bound(Binding),
}

/// The Workflow-specific fields.
#[derive(Debug, Clone, Default)]
pub struct Workflow {
    /// The steps, in document order.
    pub steps: Vec<Step>,
}

/// A workflow step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short id.
    pub id: String,
    /// Step inputs.
    pub inputs: Vec<StepInput>,
    /// Ids of the outputs the step exposes.
    pub outputs: Vec<String>,
    /// The process the step runs.
    pub run: Arc<Process>,
    /// Step-level requirements (override the workflow's).
    pub requirements: Vec<Value>,
    /// Step-level hints.
    pub hints: Vec<Value>,
    /// Ids of the step inputs scattered over.
    pub scatter: Vec<String>,
    /// `dotproduct` (default), `nested_crossproduct` or `flat_crossproduct`.
    pub scatter_method: Option<String>,
    /// Condition (expression) deciding whether the step runs.
    pub when: Option<String>,
}

/// A step input: sources, default, valueFrom.
#[derive(Debug, Clone)]
pub struct StepInput {
    /// Short id (matches an input of the step's process, or is extra).
    pub id: String,
    /// Where values come from (`input` or `step/out`).
    pub source: Vec<String>,
    /// Whether `source` was written as a list. Informational: like the
    /// reference runner, one source only merges with an explicit `linkMerge`.
    pub source_is_list: bool,
    /// `merge_nested` or `merge_flattened`.
    pub link_merge: Option<String>,
    /// `first_non_null`, `the_only_non_null`, `all_non_null`.
    pub pick_value: Option<String>,
    /// Used when there is no source or it gives null.
    pub default: Option<Value>,
    /// Expression (or constant) computing the value.
    pub value_from: Option<Value>,
    /// Read a File's first 64 KiB into `contents`.
    pub load_contents: bool,
    /// Listing depth for Directories.
    pub load_listing: Option<String>,
}

impl Process {
    /// The requirement of this class among `requirements` (last wins).
    pub fn requirement(&self, class: &str) -> Option<&Value> {
        find_class(&self.requirements, class)
    }

    /// The input parameter with this id.
    pub fn input(&self, id: &str) -> Option<&InputParameter> {
        self.inputs.iter().find(|i| i.id == id)
    }

    /// A short name for log and error messages: the process id and class.
    pub fn label(&self) -> String {
        let class = match self.kind {
            ProcessKind::CommandLineTool(_) => "CommandLineTool",
            ProcessKind::ExpressionTool { .. } => "ExpressionTool",
            ProcessKind::Workflow(_) => "Workflow",
            ProcessKind::Operation => "Operation",
        };
        format!("{class} '{}'", self.id)
    }
}

/// The last entry of `list` whose `class` is `class` (later entries
/// override earlier ones, which is how inherited requirements are merged).
pub fn find_class<'a>(list: &'a [Value], class: &str) -> Option<&'a Value> {
    list.iter()
        .rev()
        .find(|r| r.get("class").and_then(Value::as_str) == Some(class))
}

/// Requirements and hints in force for a process: inherited from enclosing
/// workflows and steps, then the process's own. Requirements beat hints.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// Requirements, outermost first.
    pub requirements: Vec<Value>,
    /// Hints, outermost first.
    pub hints: Vec<Value>,
    /// Requirements given with the job (`cwl:requirements`): they beat
    /// everything in the documents.
    pub overrides: Vec<Value>,
}

impl Effective {
    /// Adds a level (a step, or a process) inside the current one.
    pub fn nested(&self, requirements: &[Value], hints: &[Value]) -> Effective {
        let mut e = self.clone();
        e.requirements.extend(requirements.iter().cloned());
        e.hints.extend(hints.iter().cloned());
        e
    }

    /// The requirement of this class, if required.
    pub fn requirement(&self, class: &str) -> Option<&Value> {
        find_class(&self.overrides, class).or_else(|| find_class(&self.requirements, class))
    }

    /// The requirement of this class, else the hint.
    pub fn get(&self, class: &str) -> Option<&Value> {
        self.requirement(class)
            .or_else(|| find_class(&self.hints, class))
    }
}

/// A JSON object with the given entries, for building CWL values.
pub fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}
