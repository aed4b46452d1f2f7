//! Deploying CWL: documents sent as they are, CWL execution units of
//! packages, and Part 2 `docker` units (turned into a CommandLineTool).
//! The document is kept in the module store by its digest, like a
//! component; the package names it.

use super::deploy::Loaded;
use super::{CwlProcess, Implementation, Registry};
use crate::cwl::describe::describe;
use crate::cwl::document::{has_process, load_deployed, unrunnable, DocumentError};
use crate::cwl::{docker_unit, placement};
use crate::error::{Error, Result};
use crate::model::Digest;
use crate::ogc::package::{self, CwlUnit, CWL};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The media type a generated document is kept as.
const CWL_JSON: &str = "application/cwl+json";

impl Registry {
    /// Loads process `w` (or the main one) of CWL `text`, refusing tools
    /// the server would have to run as host commands. The package kept is
    /// `package` (or a bare one) naming the stored document.
    pub(super) fn load_cwl(
        &self,
        text: String,
        media_type: &str,
        w: Option<&str>,
        package: Option<&Value>,
    ) -> Result<Loaded> {
        self.check_size(text.len(), "CWL document")?;
        let deployed = load_deployed(&text, w).map_err(|e| match e {
            DocumentError::WorkflowNotFound(m) => Error::WorkflowNotFound(m),
            DocumentError::Invalid(m) => Error::InvalidParameter(m),
        })?;
        if let Some(why) = unrunnable(&deployed.process) {
            return Err(Error::InvalidParameter(format!(
                "this server cannot run the CWL process: {why}"
            )));
        }
        let host = placement::host_commands(&deployed.process);
        if !host.is_empty() {
            return Err(Error::InvalidParameter(format!(
                "CommandLineTool {} would run as a plain command on the server, which it never does: give it a DockerRequirement to run it in a container, or a wades:WasmRequirement naming a deployed process or an installed WASI command",
                host.iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let bytes = text.into_bytes();
        let digest = Digest::of(&bytes);
        let described = describe(
            &deployed.process,
            deployed.id.as_deref().unwrap_or_default(),
        );
        let unit = package::stored_cwl_unit(digest, media_type, w);
        let package = match package {
            Some(doc) => package::with_unit(doc, unit),
            None => json!({"executionUnit": unit}),
        };
        Ok(Loaded {
            bytes,
            implementation: Implementation::Cwl(Arc::new(CwlProcess {
                digest,
                process: deployed.process,
            })),
            described,
            package,
        })
    }

    /// A package's CWL unit: fetched, given, or stored before. In a
    /// `$graph`, the process the package describes (by id) is the one
    /// deployed, else the main one.
    pub(super) async fn load_cwl_unit(
        &self,
        unit: CwlUnit,
        doc: &Value,
        description: Option<&Value>,
    ) -> Result<Loaded> {
        let media_type = media_type_of(doc);
        let (text, w) = match unit {
            CwlUnit::Text(text) => (text, None),
            CwlUnit::Href(href) => {
                let fetched = self.fetcher.fetch(&href).await?;
                let text = String::from_utf8(fetched.bytes).map_err(|_| {
                    Error::InvalidParameter(format!("the CWL document at {href} is not UTF-8 text"))
                })?;
                (text, None)
            }
            CwlUnit::Stored { digest, w } => {
                let bytes = self.modules.get(&digest)?.ok_or_else(|| {
                    Error::InvalidParameter(format!(
                        "no CWL document {digest} is stored on this server"
                    ))
                })?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::Internal(format!("CWL document {digest} is not UTF-8")))?;
                (text, w)
            }
        };
        let w = w.or_else(|| {
            description
                .and_then(|d| d.get("id"))
                .and_then(Value::as_str)
                .filter(|id| is_graph(&text) && has_process(&text, id))
                .map(str::to_string)
        });
        self.load_cwl(text, &media_type, w.as_deref(), Some(doc))
    }

    /// A Part 2 `docker` unit, as the CommandLineTool it amounts to. The
    /// package is kept as deployed; the generated document is stored.
    pub(super) fn load_docker_unit(
        &self,
        unit: &Map<String, Value>,
        doc: &Value,
        description: Option<&Value>,
    ) -> Result<Loaded> {
        let tool = docker_unit::to_cwl(unit, description).map_err(Error::InvalidParameter)?;
        let mut loaded = self.load_cwl(tool.to_string(), CWL_JSON, None, None)?;
        loaded.package = doc.clone();
        Ok(loaded)
    }
}

/// The media type a package gives its CWL unit, else plain CWL.
fn media_type_of(doc: &Value) -> String {
    let unit = match doc.get("executionUnit") {
        Some(Value::Array(units)) => units
            .iter()
            .find(|u| unit_media_type(u).is_some_and(package::is_cwl)),
        other => other,
    };
    unit.and_then(unit_media_type)
        .filter(|m| package::is_cwl(m))
        .unwrap_or(CWL)
        .to_string()
}

fn unit_media_type(u: &Value) -> Option<&str> {
    u.get("mediaType")
        .or_else(|| u.get("format").and_then(|f| f.get("mediaType")))
        .or_else(|| u.get("type"))
        .and_then(Value::as_str)
}

fn is_graph(text: &str) -> bool {
    text.contains("$graph")
}
