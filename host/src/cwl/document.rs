//! CWL documents that clients deploy: text from a request body or a
//! package, loaded without touching the server's files.
//!
//! The loader ([`super::load`]) follows `$import`, `$include`, step `run`
//! references and File `location`s on the local disk, as a command-line
//! runner must. A deployed document comes from a client, so here every
//! such reference is refused before anything is loaded: a deployed
//! document is self-contained (a packed `$graph` for several processes),
//! and File literals carry `contents`, never a place on the server.

use super::load::{load_document, shortname};
use super::model::Process;
use std::sync::Arc;
use yaml_rust2::{Yaml, YamlLoader};

/// Keys that make the loader read other files.
const REFERENCE_KEYS: &[&str] = &["$import", "$include", "$mixin"];

/// Keys that name a place on disk in File and Directory literals.
const LOCATION_KEYS: &[&str] = &["location", "path"];

/// The name the document gets while it is loaded; a process without an
/// `id` would be named after it.
const FILE_NAME: &str = "deployed.cwl";

/// Why a deployed document cannot be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// `w` names no process of the document.
    #[error("{0}")]
    WorkflowNotFound(String),
    /// The document is not CWL this server accepts.
    #[error("{0}")]
    Invalid(String),
}

/// A loaded deployed document.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The process chosen (by `w`, else `#main` or the only one).
    pub process: Arc<Process>,
    /// Its id, as the process id to deploy it under; `None` when the
    /// document gives it none.
    pub id: Option<String>,
}

/// Loads the process `w` (or the document's main one) from CWL `text`
/// (YAML or JSON).
pub fn load_deployed(text: &str, w: Option<&str>) -> Result<Deployed, DocumentError> {
    let invalid = |m: String| DocumentError::Invalid(m);
    // YAML forbids tabs for indentation, which JSON allows: JSON that is
    // not YAML is written back compactly, which is.
    let text = match YamlLoader::load_from_str(text) {
        Ok(_) => text.to_string(),
        Err(yaml) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => json.to_string(),
            Err(_) => {
                return Err(invalid(format!(
                    "the CWL document is not YAML or JSON: {yaml}"
                )))
            }
        },
    };
    let docs = YamlLoader::load_from_str(&text)
        .map_err(|e| invalid(format!("the CWL document is not YAML: {e}")))?;
    let Some(doc) = docs.first() else {
        return Err(invalid("the CWL document is empty".into()));
    };
    self_contained(doc, false)?;
    let fragment = choose(doc, w)?;
    let dir = tempfile::Builder::new()
        .prefix("wades-deploy-")
        .tempdir()
        .map_err(|e| invalid(format!("cannot load the document: {e}")))?;
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, &text).map_err(|e| invalid(format!("cannot load the document: {e}")))?;
    let reference = match &fragment {
        Some(f) => format!("{}#{f}", path.display()),
        None => path.display().to_string(),
    };
    let process = load_document(&reference).map_err(|e| invalid(e.to_string()))?;
    let id = Some(process.id.clone()).filter(|id| id != FILE_NAME);
    Ok(Deployed { process, id })
}

/// Why `process` (or a process it runs) can never run here, if it cannot:
/// a requirement this runner does not know, or an abstract `Operation`.
/// Refused at deploy rather than failing every job.
pub fn unrunnable(process: &Process) -> Option<String> {
    use super::model::ProcessKind;
    if let Err(e) = super::runner::check_requirements(&process.requirements) {
        return Some(format!("{}: {e}", process.label()));
    }
    match &process.kind {
        ProcessKind::Operation => Some(format!(
            "{} is abstract (an Operation) and cannot run",
            process.label()
        )),
        ProcessKind::Workflow(wf) => wf.steps.iter().find_map(|step| {
            match super::runner::check_requirements(&step.requirements) {
                Err(e) => Some(format!("step '{}': {e}", step.id)),
                Ok(()) => unrunnable(&step.run),
            }
        }),
        _ => None,
    }
}

/// Whether the document's `$graph` has a process with this id (or the
/// document itself has it).
pub fn has_process(text: &str, id: &str) -> bool {
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|j| YamlLoader::load_from_str(&j.to_string()).ok())
            .and_then(|d| d.into_iter().next())
            .is_some_and(|d| ids(&d).iter().any(|i| i == id));
    };
    docs.first().is_some_and(|d| ids(d).iter().any(|i| i == id))
}

/// The ids of the processes a document offers: its `$graph` entries, or
/// the document itself.
fn ids(doc: &Yaml) -> Vec<String> {
    let id_of = |node: &Yaml| node["id"].as_str().map(shortname);
    match doc["$graph"].as_vec() {
        Some(graph) => graph.iter().filter_map(id_of).collect(),
        None => id_of(doc).into_iter().collect(),
    }
}

/// The `$graph` fragment to load for `w`: an unknown `w` is an error of
/// its own (Part 2's `workflow-not-found`).
fn choose(doc: &Yaml, w: Option<&str>) -> Result<Option<String>, DocumentError> {
    let Some(w) = w
        .map(|w| w.trim_start_matches('#'))
        .filter(|w| !w.is_empty())
    else {
        return Ok(None);
    };
    let known = ids(doc);
    if !known.iter().any(|id| id == w) {
        return Err(DocumentError::WorkflowNotFound(format!(
            "the CWL document has no process '{w}' (it has: {})",
            if known.is_empty() {
                "none with an id".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    Ok(doc["$graph"].as_vec().map(|_| w.to_string()))
}

/// Refuses references to other files: `$import`, `$include`, a step `run`
/// that is not `#id` in the same `$graph`, and File or Directory literals
/// with a `location` or `path`. Inside `default` values only the latter
/// matter, but they are refused everywhere: no other CWL field has those
/// names.
fn self_contained(node: &Yaml, in_data: bool) -> Result<(), DocumentError> {
    let refuse = |what: String| {
        Err(DocumentError::Invalid(format!(
            "{what}: a deployed CWL document must be self-contained (pack several processes into one `$graph`, give files as `contents`)"
        )))
    };
    match node {
        Yaml::Array(items) => items.iter().try_for_each(|i| self_contained(i, in_data)),
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = k.as_str().unwrap_or_default();
                if REFERENCE_KEYS.contains(&key) {
                    return refuse(format!("'{key}' refers to another file"));
                }
                if LOCATION_KEYS.contains(&key) && v.as_str().is_some() {
                    return refuse(format!(
                        "a File or Directory with a '{key}' ({}) names a place on the server",
                        v.as_str().unwrap_or_default()
                    ));
                }
                if key == "run" && !in_data {
                    if let Some(r) = v.as_str() {
                        if !r.starts_with('#') {
                            return refuse(format!("step run '{r}' refers to another file"));
                        }
                    }
                }
                self_contained(v, in_data || key == "default")?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: &str = "cwlVersion: v1.2\nclass: CommandLineTool\nid: echo\nbaseCommand: echo\ninputs:\n  x: string\noutputs: []\n";

    #[test]
    fn loads_yaml_and_json_and_takes_the_id() {
        let d = load_deployed(TOOL, None).unwrap();
        assert_eq!(d.id.as_deref(), Some("echo"));
        let json = r#"{"cwlVersion": "v1.2", "class": "ExpressionTool", "inputs": {}, "outputs": {},
	"expression": "${return {};}", "requirements": [{"class": "InlineJavascriptRequirement"}]}"#;
        let d = load_deployed(json, None).unwrap();
        assert_eq!(d.id, None);
    }

    #[test]
    fn picks_from_a_graph_and_knows_unknown_ids() {
        let packed = "cwlVersion: v1.2\n$graph:\n- class: CommandLineTool\n  id: a\n  baseCommand: x\n  inputs: []\n  outputs: []\n- class: CommandLineTool\n  id: '#b'\n  baseCommand: y\n  inputs: []\n  outputs: []\n";
        assert_eq!(
            load_deployed(packed, Some("b")).unwrap().id.as_deref(),
            Some("b")
        );
        assert!(matches!(
            load_deployed(packed, Some("c")),
            Err(DocumentError::WorkflowNotFound(m)) if m.contains("a, b")
        ));
        assert!(matches!(
            load_deployed(TOOL, Some("other")),
            Err(DocumentError::WorkflowNotFound(_))
        ));
        assert!(has_process(packed, "b") && !has_process(packed, "main"));
    }

    #[test]
    fn knows_what_can_never_run() {
        let mpi = TOOL.replace(
            "inputs:",
            "requirements:\n  MPIRequirement: {processes: 2}\ninputs:",
        );
        let d = load_deployed(&mpi, None).unwrap();
        assert!(unrunnable(&d.process).is_some_and(|m| m.contains("MPIRequirement")));
        assert_eq!(
            unrunnable(&load_deployed(TOOL, None).unwrap().process),
            None
        );
    }

    #[test]
    fn refuses_references_to_the_servers_files() {
        for bad in [
            "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: cat\ninputs:\n  f:\n    type: File\n    default: {class: File, location: /etc/passwd}\noutputs: []\n",
            "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: cat\ninputs:\n  f:\n    type: File\n    default: {class: File, path: ../x}\noutputs: []\n",
            "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps:\n  s:\n    run: /etc/tool.cwl\n    in: []\n    out: []\n",
            "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: cat\ninputs:\n  $import: /etc/inputs.yml\noutputs: []\n",
            "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: {$include: /etc/hostname}\ninputs: []\noutputs: []\n",
        ] {
            assert!(
                matches!(load_deployed(bad, None), Err(DocumentError::Invalid(m)) if m.contains("self-contained")),
                "{bad}"
            );
        }
    }
}
