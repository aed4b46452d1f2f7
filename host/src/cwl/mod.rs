//! A runner for Common Workflow Language v1.2 documents (OGC Application
//! Packages).
//!
//! The pieces, in the order a run goes through them:
//!
//! - [`load`] reads a CWL document (YAML or JSON, `$graph` packed documents,
//!   `$import`/`$include`, `SchemaDefRequirement`, shorthand types) into the
//!   normalised [`model`], whose types are in [`types`];
//! - [`runner`] fills defaults, checks inputs against their types and
//!   dispatches on the process class: [`workflow`] (steps, scatter,
//!   conditionals, link merging), [`tool`] for CommandLineTools
//!   (staging, [`command`] line building, [`outputs`] collection) and
//!   ExpressionTools;
//! - [`expr`] evaluates parameter references and, under
//!   `InlineJavascriptRequirement`, JavaScript in a budgeted engine ([`js`]);
//! - [`files`] handles File and Directory values (locations, checksums,
//!   listings, secondary files);
//! - a [`backend::StepBackend`] runs each CommandLineTool invocation:
//!   [`backend::LocalProcessBackend`] runs host commands, which the runner
//!   refuses unless its caller opts in
//!   ([`runner::RunnerOptions::allow_host_commands`]);
//!   [`docker::DockerBackend`] runs tools with a `DockerRequirement` in
//!   hardened containers of the local Docker engine, with paths mapped by
//!   [`docker_paths`] and images built by [`docker_build`] when allowed; [`wasm::WasmBackend`] runs tools with a
//!   `wades:WasmRequirement` in the wasm sandbox, as a wades process
//!   ([`wasm_values`]) or a WASI command, from a [`wasm_catalog`].
//!
//! For the server: [`document`] loads deployed documents without touching
//! the server's files, [`docker_unit`] turns a Part 2 `docker` execution
//! unit into a CommandLineTool, [`describe`] derives the OGC process
//! description, and [`placement`] decides where steps may run (never as
//! host commands).
//!
//! No HTTP types live here: the server wraps this module, the
//! `wades cwl-runner` command line ([`cli`]) drives it directly.

pub mod backend;
pub mod cli;
pub mod command;
pub mod describe;
pub mod docker;
pub mod docker_build;
pub mod docker_paths;
pub mod docker_unit;
pub mod document;
pub mod expr;
pub mod files;
pub mod js;
pub mod load;
pub mod model;
pub mod outputs;
pub mod placement;
pub mod runner;
pub mod tool;
pub mod types;
pub mod wasm;
pub mod wasm_catalog;
pub mod wasm_values;
pub mod workflow;

pub use load::load_document;
pub use model::Process;
pub use runner::{Runner, RunnerOptions};

/// What a CWL run can fail with. The kinds map onto the outcomes a CWL
/// runner reports: an unsupported feature (exit code 33 for cwltest) or a
/// permanent failure (anything else).
#[derive(Debug, thiserror::Error)]
pub enum CwlError {
    /// The document uses a feature this runner (or its configuration) does
    /// not provide, e.g. `DockerRequirement` without a container backend.
    #[error("unsupported feature: {0}")]
    Unsupported(String),
    /// The document is not valid CWL, or not loadable.
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// An input or output value does not fit its declared type.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// An expression failed (syntax, runtime error, budget exceeded).
    #[error("expression failed: {0}")]
    Expression(String),
    /// The tool ran and failed (exit code, missing outputs), or a file
    /// operation failed.
    #[error("permanent failure: {0}")]
    PermanentFail(String),
}

impl CwlError {
    /// The exit code cwltest expects from a runner: 33 for unsupported
    /// features, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            CwlError::Unsupported(_) => 33,
            _ => 1,
        }
    }
}

impl From<std::io::Error> for CwlError {
    fn from(e: std::io::Error) -> Self {
        CwlError::PermanentFail(e.to_string())
    }
}

/// Results of this module.
pub type Result<T, E = CwlError> = std::result::Result<T, E>;

/// Shorthand for a [`CwlError::PermanentFail`] with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => { $crate::cwl::CwlError::PermanentFail(format!($($arg)*)) };
}
/// Shorthand for a [`CwlError::InvalidDocument`] with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => { $crate::cwl::CwlError::InvalidDocument(format!($($arg)*)) };
}
pub(crate) use fail;
pub(crate) use invalid;
