//! Jobs of CWL processes: OGC inputs become a CWL job object (files
//! fetched or written into the job's `inputs` folder), the runner runs the
//! process with the server's backends only ([`placement::server_runner`]:
//! never a host command), and the CWL outputs become job results (Files
//! copied into the job's `outputs` folder and served by reference, other
//! values inline). Steps are logged to the job's log ([`LoggedSteps`]).
//! Dismissing the job drops the run, which kills and removes its
//! containers.

use super::cwl_log::LoggedSteps;
use super::{usage, Inner, JobRequest};
use crate::cwl::backend::StepBackend;
use crate::cwl::describe::{by_extension, media_type};
use crate::cwl::docker::{DockerBackend, DockerConfig};
use crate::cwl::placement;
use crate::cwl::types::CwlType;
use crate::cwl::wasm::WasmBackend;
use crate::cwl::{files, CwlError, RunnerOptions};
use crate::model::{JobRecord, NamedValue, Usage, Value};
use crate::ogc::results::{stored_from_value, StoredOutput};
use crate::registry::{CwlProcess, DeployedComponents};
use crate::runtime::RunError;
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The step backends of CWL jobs, made when the first job needs them.
pub(super) struct CwlBackends {
    docker: Option<DockerConfig>,
    connected: tokio::sync::OnceCell<Arc<DockerBackend>>,
}

impl CwlBackends {
    /// Container steps run on the Docker engine when `docker` is set (the
    /// operator's `[cwl.docker]`); without it they fail.
    pub(super) fn new(docker: Option<DockerConfig>) -> Self {
        CwlBackends {
            docker,
            connected: tokio::sync::OnceCell::new(),
        }
    }

    /// The Docker backend, connected once; an engine that does not answer
    /// fails the job and is tried again for the next one.
    async fn docker(&self) -> Result<Option<Arc<DockerBackend>>, RunError> {
        let Some(config) = &self.docker else {
            return Ok(None);
        };
        let backend = self
            .connected
            .get_or_try_init(|| async {
                DockerBackend::connect(config.clone()).await.map(Arc::new)
            })
            .await
            .map_err(|e| RunError::Host(e.to_string()))?;
        Ok(Some(backend.clone()))
    }
}

/// Runs a job of CWL process `cwl`, in the job's folder.
pub(super) async fn execute(
    inner: &Inner,
    job: &JobRecord,
    cwl: &CwlProcess,
    request: JobRequest,
    cancel: CancellationToken,
    used: &mut Usage,
) -> Result<Vec<(String, StoredOutput)>, RunError> {
    // Absolute: the Docker engine mounts these paths.
    let root = std::path::absolute(inner.dir.join(&job.id))
        .map_err(|e| RunError::Host(format!("job folders: {e}")))?;
    let (inputs_dir, outputs_dir) = (root.join("inputs"), root.join("outputs"));
    for d in [&inputs_dir, &outputs_dir] {
        std::fs::create_dir_all(d).map_err(|e| RunError::Host(format!("job folders: {e}")))?;
    }
    let invalid = |message: String| RunError::Guest {
        code: "invalid-input".into(),
        message,
    };
    let cwl_job = stage_in(inner, &cwl.process, request.inputs, &inputs_dir)
        .await
        .map_err(invalid)?;
    let quota = inner
        .quotas
        .of(&job.owner)
        .await
        .map_err(|e| RunError::Host(e.to_string()))?;
    let logs_dir = root.join("logs");
    std::fs::create_dir_all(&logs_dir).map_err(|e| RunError::Host(format!("job folders: {e}")))?;
    let (events, drain) = super::events::sink(inner.store.clone(), job.id.clone());
    let docker = inner.cwl.docker().await?.map(|d| {
        Arc::new(LoggedSteps::new(d, events.clone(), logs_dir.clone())) as Arc<dyn StepBackend>
    });
    let catalog = DeployedComponents::for_owner(inner.registry.clone(), &job.owner);
    let wasm = WasmBackend::new(inner.runtime.clone(), Arc::new(catalog));
    let wasm = Arc::new(LoggedSteps::new(
        Arc::new(wasm),
        events.clone(),
        logs_dir.clone(),
    )) as Arc<dyn StepBackend>;
    let runner = placement::server_runner(
        RunnerOptions {
            tmp_root: Some(root.join("work")),
            confine: Some(root.clone()),
            max_parallel: 2,
            ..RunnerOptions::default()
        },
        wasm,
        docker,
    )
    .map_err(|e| RunError::Host(e.to_string()))?;
    let limit = inner
        .runtime
        .config()
        .job_limits
        .lowered_by(quota.job_limits())
        .timeout;
    let run = runner.run_to_outdir(&cwl.process, cwl_job, &inputs_dir, &outputs_dir);
    // Dropping the run (dismissal, time limit) kills its containers.
    let outcome = tokio::select! {
        out = run => out.map_err(failure),
        _ = cancel.cancelled() => Err(RunError::Cancelled),
        _ = sleep_for(limit) => Err(RunError::Timeout { limit: limit.unwrap_or_default() }),
    };
    // The log is complete once every holder of the sink is gone.
    drop((runner, events));
    let _ = drain.await;
    super::remove_dir(&logs_dir);
    let out = outcome?;
    let stored = stage_out(&cwl.process, out, &outputs_dir);
    let bytes = usage::result_bytes(Some(&outputs_dir), &stored);
    if let Err(e) = usage::admit_results(inner, &job.owner, &quota, bytes).await {
        super::remove_dir(&outputs_dir);
        return Err(e);
    }
    used.result_bytes = bytes;
    Ok(stored)
}

async fn sleep_for(limit: Option<std::time::Duration>) {
    match limit {
        Some(l) => tokio::time::sleep(l).await,
        None => std::future::pending().await,
    }
}

/// How a run's failure is told: the input's fault is a 400, the rest the
/// process's.
fn failure(e: CwlError) -> RunError {
    let code = match &e {
        CwlError::InvalidValue(_) => "invalid-input",
        CwlError::Unsupported(_) => "unsupported",
        CwlError::InvalidDocument(_) => "invalid-document",
        CwlError::Expression(_) => "expression-failed",
        CwlError::PermanentFail(_) => "permanent-failure",
    };
    RunError::Guest {
        code: code.into(),
        message: e.to_string(),
    }
}

/// The CWL job object of the OGC inputs: each input's occurrences (an
/// array for a repeatable one), Files fetched or written under `dir`.
async fn stage_in(
    inner: &Inner,
    process: &crate::cwl::Process,
    inputs: Vec<NamedValue>,
    dir: &Path,
) -> Result<Map<String, Json>, String> {
    let mut job = Map::new();
    let mut n = 0;
    for p in &process.inputs {
        let given: Vec<Value> = inputs
            .iter()
            .filter(|i| i.id == p.id)
            .map(|i| i.value.clone())
            .collect();
        if given.is_empty() {
            continue;
        }
        let ty = without_null(&p.ty);
        let (item, repeatable) = match ty {
            CwlType::Array(a) if !matches!(without_null(&a.items), CwlType::Array(_)) => {
                (without_null(&a.items), true)
            }
            other => (other, false),
        };
        let mut values = Vec::with_capacity(given.len());
        for v in given {
            n += 1;
            values.push(to_cwl(inner, &p.id, v, item, &dir.join(n.to_string())).await?);
        }
        let value = if repeatable {
            Json::Array(values)
        } else {
            values.swap_remove(0)
        };
        job.insert(p.id.clone(), value);
    }
    Ok(job)
}

/// One OGC value as a CWL value of type `ty`; a File goes to `dir`.
async fn to_cwl(
    inner: &Inner,
    id: &str,
    value: Value,
    ty: &CwlType,
    dir: &Path,
) -> Result<Json, String> {
    if *ty == CwlType::Directory {
        return Err(format!(
            "input '{id}': Directory inputs cannot be given through the API"
        ));
    }
    if *ty == CwlType::File {
        let (bytes, name) = match value {
            Value::Reference { href, .. } => {
                let fetched = inner
                    .fetcher
                    .fetch(&href)
                    .await
                    .map_err(|e| e.to_string())?;
                (
                    fetched.bytes,
                    name_from_url(&href).unwrap_or_else(|| id.to_string()),
                )
            }
            Value::Binary { data, .. } => (data, id.to_string()),
            Value::String { value } => (value.into_bytes(), id.to_string()),
            other => {
                return Err(format!(
                    "input '{id}' is a file: give it by reference (href) or as content, not {}",
                    kind(&other)
                ))
            }
        };
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        let mut file = Map::new();
        file.insert("class".into(), "File".into());
        file.insert("location".into(), files::file_uri(&path).into());
        return Ok(Json::Object(file));
    }
    Ok(match value {
        Value::String { value } => Json::String(value),
        Value::Integer { value } => value.into(),
        Value::Number { value } => serde_json::Number::from_f64(value)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Boolean { value } => Json::Bool(value),
        Value::Json { value } => {
            if names_files(&value) {
                return Err(format!(
                    "input '{id}': File and Directory objects cannot be given inside values; give files as inputs of type File"
                ));
            }
            value
        }
        Value::Reference { href, .. } => {
            let fetched = inner
                .fetcher
                .fetch(&href)
                .await
                .map_err(|e| e.to_string())?;
            let value = serde_json::from_slice(&fetched.bytes).unwrap_or_else(|_| {
                Json::String(String::from_utf8_lossy(&fetched.bytes).into_owned())
            });
            if names_files(&value) {
                return Err(format!(
                    "input '{id}': the value at {href} holds File or Directory objects; give files as inputs of type File"
                ));
            }
            value
        }
        other => {
            return Err(format!(
                "input '{id}' cannot take {} as a CWL value",
                kind(&other)
            ))
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::String { .. } => "a string",
        Value::Number { .. } | Value::Integer { .. } => "a number",
        Value::Boolean { .. } => "a boolean",
        Value::Json { .. } => "a JSON value",
        Value::BBox { .. } => "a bounding box",
        Value::Binary { .. } => "binary content",
        Value::Reference { .. } => "a link",
        Value::File { .. } => "a file",
    }
}

/// Whether a value holds a CWL File or Directory object, which could name
/// any file of the server.
fn names_files(v: &Json) -> bool {
    match v {
        Json::Object(o) => {
            matches!(
                o.get("class").and_then(Json::as_str),
                Some("File" | "Directory")
            ) || o.values().any(names_files)
        }
        Json::Array(a) => a.iter().any(names_files),
        _ => false,
    }
}

/// The last path segment of a URL, if it makes a plain file name.
fn name_from_url(href: &str) -> Option<String> {
    let url = reqwest::Url::parse(href).ok()?;
    let last = url.path_segments()?.next_back()?.to_string();
    let plain = !last.is_empty()
        && last != "."
        && last != ".."
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    plain.then_some(last)
}

fn without_null(ty: &CwlType) -> &CwlType {
    match ty {
        CwlType::Union(ts) => {
            let rest: Vec<&CwlType> = ts.iter().filter(|t| **t != CwlType::Null).collect();
            match rest.as_slice() {
                [one] => one,
                _ => ty,
            }
        }
        other => other,
    }
}

/// The media type of a Directory output: what `GET` of it answers (its
/// listing).
const DIRECTORY_LISTING: &str = "application/json";

/// The job results of a CWL output object whose files are in `outputs`:
/// a File or Directory by reference, anything else inline, without the
/// server's paths.
fn stage_out(
    process: &crate::cwl::Process,
    mut out: Map<String, Json>,
    outputs: &Path,
) -> Vec<(String, StoredOutput)> {
    let mut stored = Vec::new();
    for o in &process.outputs {
        let Some(v) = out.remove(&o.id).filter(|v| !v.is_null()) else {
            continue;
        };
        let file = v
            .as_object()
            .and_then(|f| Some((f, f.get("class")?.as_str()?)))
            .filter(|(_, class)| matches!(*class, "File" | "Directory"))
            .and_then(|(f, class)| Some((f, class, relative(f.get("path")?.as_str()?, outputs)?)));
        if let Some((f, class, rel)) = file {
            // A Directory is served as its listing, each entry by its URL.
            let media = match class {
                "Directory" => DIRECTORY_LISTING.to_string(),
                _ => f
                    .get("format")
                    .and_then(Json::as_str)
                    .and_then(media_type)
                    .unwrap_or_else(|| by_extension(&rel).to_string()),
            };
            stored.push((
                o.id.clone(),
                StoredOutput::File {
                    file: rel,
                    media_type: Some(media),
                },
            ));
            continue;
        }
        let value = match without_paths(v) {
            Json::String(s) => Value::String { value: s },
            Json::Bool(b) => Value::Boolean { value: b },
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer { value: i },
                None => Value::Number {
                    value: n.as_f64().unwrap_or(f64::NAN),
                },
            },
            other => Value::Json { value: other },
        };
        stored.push((o.id.clone(), stored_from_value(&value)));
    }
    stored
}

/// `path` relative to the outputs folder, if it is inside.
fn relative(path: &str, outputs: &Path) -> Option<String> {
    let rel: PathBuf = Path::new(path).strip_prefix(outputs).ok()?.to_path_buf();
    Some(rel.to_str()?.to_string())
}

/// A value without the host paths of its Files and Directories.
fn without_paths(v: Json) -> Json {
    match v {
        Json::Object(o) => Json::Object(
            o.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "location" | "path" | "dirname"))
                .map(|(k, v)| (k, without_paths(v)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.into_iter().map(without_paths).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_inside_values_are_refused() {
        assert!(names_files(
            &serde_json::json!({"a": [{"class": "File", "location": "/etc/passwd"}]})
        ));
        assert!(!names_files(&serde_json::json!({"class": "Other"})));
    }

    #[test]
    fn file_names_come_from_plain_url_paths() {
        assert_eq!(
            name_from_url("http://h/a/b.tif?x=1").as_deref(),
            Some("b.tif")
        );
        assert_eq!(name_from_url("http://h/"), None);
        assert_eq!(name_from_url("http://h/a%2F..%2Fb"), None);
    }

    #[test]
    fn inline_outputs_lose_server_paths() {
        let v = serde_json::json!({"class": "Directory", "path": "/x", "location": "file:///x", "listing": [{"basename": "a", "path": "/x/a"}]});
        assert_eq!(
            without_paths(v),
            serde_json::json!({"class": "Directory", "listing": [{"basename": "a"}]})
        );
        assert_eq!(by_extension("out/x.TIF"), "image/tiff");
    }
}
