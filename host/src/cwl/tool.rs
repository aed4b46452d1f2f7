//! Running one CommandLineTool invocation: staging inputs, the initial
//! working directory, the command line, the environment and redirections,
//! then handing the job to a [`StepBackend`](super::backend::StepBackend)
//! and collecting its outputs.

use super::backend::{ContainerRequest, StepJob};
use super::command::{self, CommandContext};
use super::expr::{python_json, Evaluator, Scope};
use super::files::{self, file_uri};
use super::model::{find_class, CommandLineTool, Effective, Process};
use super::runner::{JobDirs, Runner};
use super::types::class_of;
use super::{fail, outputs, CwlError, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs a CommandLineTool with prepared (defaulted, checked) inputs and
/// returns its output object.
pub(crate) async fn run_tool(
    runner: &Runner,
    process: &Process,
    tool: &CommandLineTool,
    inputs: Map<String, Value>,
    effective: &Effective,
) -> Result<Map<String, Value>> {
    let eval = Evaluator::new(effective, runner.options().js_limits);
    let container = effective
        .requirement("DockerRequirement")
        .map(|spec| ContainerRequest {
            spec: spec.clone(),
            required: true,
        })
        .or_else(|| {
            find_class(&effective.hints, "DockerRequirement").map(|spec| ContainerRequest {
                spec: spec.clone(),
                required: false,
            })
        });
    // A container that is required but cannot be had: say so before any
    // work is done.
    if container.as_ref().is_some_and(|c| c.required) {
        runner.backend_for(&StepJob {
            tool_id: process.id.clone(),
            container: container.clone(),
            ..StepJob::default()
        })?;
    }
    let dirs = runner.job_dirs()?;
    let mut inputs = Value::Object(inputs);
    let mut runtime = json!({
        "outdir": dirs.outdir.to_string_lossy(),
        "tmpdir": dirs.tmpdir.to_string_lossy(),
        "cores": 1,
        "ram": 1024,
        "outdirSize": 1024,
        "tmpdirSize": 1024,
    });
    resources(effective, &eval, &inputs, &mut runtime)?;

    runner.check_confined(&inputs)?;
    stage_inputs(&mut inputs, &dirs)?;
    let placed = initial_workdir(
        effective,
        &eval,
        &mut inputs,
        &runtime,
        &dirs.outdir,
        &process.base_dir,
        runner,
    )?;

    let ctx = CommandContext {
        eval: &eval,
        inputs: &inputs,
        runtime: &runtime,
    };
    let words = command::build(tool, &process.inputs, &ctx)?;
    let argv = if effective.requirement("ShellCommandRequirement").is_some() {
        let line = words
            .iter()
            .map(|w| {
                if w.quote {
                    command::shell_quote(&w.text)
                } else {
                    w.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        vec!["/bin/sh".to_string(), "-c".to_string(), line]
    } else {
        words.into_iter().map(|w| w.text).collect()
    };

    let scope = Scope {
        inputs: &inputs,
        self_: &Value::Null,
        runtime: &runtime,
    };
    let stdin = match &tool.stdin {
        Some(s) => {
            let p = PathBuf::from(eval.eval_to_string(s, scope)?);
            Some(if p.is_absolute() {
                p
            } else {
                dirs.outdir.join(p)
            })
        }
        None => None,
    };
    let stream = |s: &Option<String>| -> Result<Option<PathBuf>> {
        match s {
            Some(s) => {
                let name = eval.eval_to_string(s, scope)?;
                Ok(Some(inside(&dirs.outdir, &name)?))
            }
            None => Ok(None),
        }
    };
    let stdout = stream(&tool.stdout)?;
    let stderr = stream(&tool.stderr)?;

    let mut env = BTreeMap::new();
    env.insert(
        "HOME".to_string(),
        dirs.outdir.to_string_lossy().into_owned(),
    );
    env.insert(
        "TMPDIR".to_string(),
        dirs.tmpdir.to_string_lossy().into_owned(),
    );
    env.insert(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    if let Some(req) = effective.get("EnvVarRequirement") {
        for def in req
            .get("envDef")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(value)) = (
                def.get("envName").and_then(Value::as_str),
                def.get("envValue"),
            ) else {
                continue;
            };
            let v = match eval.eval(value, scope)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            env.insert(name.to_string(), v);
        }
    }
    let time_limit = match effective
        .get("ToolTimeLimit")
        .and_then(|r| r.get("timelimit"))
    {
        Some(t) => match eval.eval(t, scope)?.as_i64() {
            Some(0) | None => None,
            Some(s) if s < 0 => return Err(CwlError::InvalidValue("negative timelimit".into())),
            Some(s) => Some(Duration::from_secs(s as u64)),
        },
        None => None,
    };
    let network = match effective
        .get("NetworkAccess")
        .and_then(|r| r.get("networkAccess"))
    {
        Some(n) => eval.eval(n, scope)?.as_bool().unwrap_or(false),
        None => false,
    };

    let job = StepJob {
        tool_id: process.id.clone(),
        argv,
        env,
        outdir: dirs.outdir.clone(),
        tmpdir: dirs.tmpdir.clone(),
        stagedir: dirs.stage.clone(),
        cores: runtime["cores"].as_u64().unwrap_or(1),
        ram_mib: runtime["ram"].as_u64().unwrap_or(1024),
        stdin,
        stdout,
        stderr,
        container,
        time_limit,
        network,
        inputs: inputs.clone(),
        wasm: super::wasm::request(process, effective)?,
    };
    tracing::debug!(tool = %process.id, argv = ?job.argv, "running");
    let backend = runner.backend_for(&job)?;
    let outcome = {
        let _slot = runner.slot().await;
        backend.run(job).await?
    };
    let code = outcome.exit_code as i64;
    if tool.permanent_fail_codes.contains(&code) || !tool.success_codes.contains(&code) {
        let kind = if tool.temporary_fail_codes.contains(&code) {
            "temporary failure"
        } else {
            "permanent failure"
        };
        return Err(fail!(
            "tool '{}' exited with code {code} ({kind})",
            process.id
        ));
    }
    runtime["exitCode"] = Value::from(code);
    let mut out = outputs::collect(process, &eval, &inputs, &runtime, &dirs.outdir, &placed)?;
    for (id, v) in outcome.values.into_iter().flatten() {
        if out.get(&id).is_some_and(Value::is_null) {
            out.insert(id, v);
        }
    }
    Ok(out)
}

/// `ResourceRequirement` (requirement or hint) sets `runtime.cores` and
/// `runtime.ram`, rounding fractional cores up.
fn resources(
    effective: &Effective,
    eval: &Evaluator,
    inputs: &Value,
    runtime: &mut Value,
) -> Result<()> {
    let Some(req) = effective.get("ResourceRequirement").cloned() else {
        return Ok(());
    };
    let rt = runtime.clone();
    let scope = Scope {
        inputs,
        self_: &Value::Null,
        runtime: &rt,
    };
    for (field, min, max) in [
        ("cores", "coresMin", "coresMax"),
        ("ram", "ramMin", "ramMax"),
        ("outdirSize", "outdirMin", "outdirMax"),
        ("tmpdirSize", "tmpdirMin", "tmpdirMax"),
    ] {
        let v = match (req.get(min), req.get(max)) {
            (Some(v), _) | (None, Some(v)) => eval.eval(v, scope)?,
            _ => continue,
        };
        if let Some(f) = v.as_f64() {
            runtime[field] = Value::from(f.ceil() as i64);
        }
    }
    Ok(())
}

/// A relative path inside `dir` (stdout/stderr names, `entryname`s).
fn inside(dir: &Path, name: &str) -> Result<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return match p.strip_prefix(dir) {
            Ok(_) => Ok(p.to_path_buf()),
            Err(_) => Err(CwlError::InvalidValue(format!(
                "'{name}' must be a relative path inside the output directory"
            ))),
        };
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(CwlError::InvalidValue(format!(
            "'{name}' may not contain '..'"
        )));
    }
    Ok(dir.join(p))
}

/// Gives every File and Directory in the inputs a path in a fresh staging
/// folder (`stage/N/basename`), as a symlink to the real one or written out
/// for literals, with secondary files next to their primary. Staging makes
/// `basename` true even when it was renamed, and keeps secondary files side
/// by side wherever they came from.
fn stage_inputs(inputs: &mut Value, dirs: &JobDirs) -> Result<()> {
    let mut counter = 0usize;
    stage_value(inputs, &dirs.stage, &mut counter)
}

fn stage_value(v: &mut Value, stage: &Path, counter: &mut usize) -> Result<()> {
    match v {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|i| stage_value(i, stage, counter)),
        Value::Object(o) if is_entry(o) => {
            *counter += 1;
            let dir = stage.join(counter.to_string());
            std::fs::create_dir_all(&dir)?;
            stage_entry(o, &dir, false)
        }
        Value::Object(o) => o
            .values_mut()
            .try_for_each(|i| stage_value(i, stage, counter)),
        _ => Ok(()),
    }
}

fn is_entry(o: &Map<String, Value>) -> bool {
    matches!(
        o.get("class").and_then(Value::as_str),
        Some("File" | "Directory")
    )
}

/// Places one File or Directory (and its secondary files) in `dir`, by
/// symlink or, when `copy`, by copying; literals are written.
pub(crate) fn stage_entry(o: &mut Map<String, Value>, dir: &Path, copy: bool) -> Result<()> {
    let basename = o
        .get("basename")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(super::load::random_hex);
    let target = dir.join(&basename);
    let is_file = o.get("class").and_then(Value::as_str) == Some("File");
    let source = o.get("path").and_then(Value::as_str).map(PathBuf::from);
    match (&source, is_file) {
        (Some(src), _) => {
            if !src.exists() {
                return Err(fail!("input {} does not exist", src.display()));
            }
            if copy {
                copy_tree(src, &target)?;
            } else {
                symlink(src, &target)?;
            }
            if !is_file {
                if let Some(listing) = o.get_mut("listing") {
                    rebase_paths(listing, src, &target);
                }
            }
        }
        (None, true) => {
            let contents = o.get("contents").and_then(Value::as_str).unwrap_or("");
            std::fs::write(&target, contents)?;
        }
        (None, false) => {
            std::fs::create_dir_all(&target)?;
            if let Some(Value::Array(listing)) = o.get_mut("listing") {
                for entry in listing.iter_mut() {
                    if let Value::Object(e) = entry {
                        stage_entry(e, &target, copy)?;
                    }
                }
            }
        }
    }
    if source.is_none() {
        o.insert("location".into(), Value::String(file_uri(&target)));
    }
    o.insert(
        "path".into(),
        Value::String(target.to_string_lossy().into_owned()),
    );
    if is_file {
        o.insert(
            "dirname".into(),
            Value::String(dir.to_string_lossy().into_owned()),
        );
    }
    if let Some(Value::Array(sfs)) = o.get_mut("secondaryFiles") {
        for sf in sfs.iter_mut() {
            if let Value::Object(s) = sf {
                stage_entry(s, dir, copy)?;
            }
        }
    }
    Ok(())
}

/// Rewrites `path`s under `from` to the same place under `to`.
fn rebase_paths(v: &mut Value, from: &Path, to: &Path) {
    let _ = files::for_each_entry_mut(v, &mut |o| {
        if let Some(p) = o.get("path").and_then(Value::as_str) {
            if let Ok(rest) = Path::new(p).strip_prefix(from) {
                let np = to.join(rest);
                if let Some(parent) = np.parent() {
                    if o.get("class").and_then(Value::as_str) == Some("File") {
                        o.insert(
                            "dirname".into(),
                            Value::String(parent.to_string_lossy().into_owned()),
                        );
                    }
                }
                o.insert(
                    "path".into(),
                    Value::String(np.to_string_lossy().into_owned()),
                );
            }
        }
        Ok(())
    });
}

fn symlink(src: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if target.symlink_metadata().is_ok() {
        std::fs::remove_file(target)?;
    }
    std::os::unix::fs::symlink(src, target).map_err(|e| fail!("staging {}: {e}", src.display()))
}

/// Copies a file or a directory tree, following symlinks.
pub(crate) fn copy_tree(src: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let meta = std::fs::metadata(src).map_err(|e| fail!("{}: {e}", src.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(target)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &target.join(entry.file_name()))?;
        }
    } else {
        if target.symlink_metadata().is_ok() {
            std::fs::remove_file(target)?;
        }
        std::fs::copy(src, target).map_err(|e| fail!("copying {}: {e}", src.display()))?;
    }
    Ok(())
}

/// One thing to put in the working directory.
enum WorkItem {
    /// A file with these contents.
    Contents(String, String),
    /// A File or Directory value, under this name.
    Entry(String, Map<String, Value>),
}

/// `InitialWorkDirRequirement`: evaluates the listing and places it in the
/// output directory; inputs that were placed there get their new path.
/// Returns where the placed entries came from.
fn initial_workdir(
    effective: &Effective,
    eval: &Evaluator,
    inputs: &mut Value,
    runtime: &Value,
    outdir: &Path,
    base_dir: &Path,
    runner: &Runner,
) -> Result<Vec<PathBuf>> {
    let Some(req) = effective.get("InitialWorkDirRequirement") else {
        return Ok(vec![]);
    };
    let Some(listing) = req.get("listing") else {
        return Ok(vec![]);
    };
    // With in-place updates, writable entries are the inputs themselves.
    let in_place = effective
        .get("InplaceUpdateRequirement")
        .and_then(|r| r.get("inplaceUpdate"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let snapshot = inputs.clone();
    let scope = Scope {
        inputs: &snapshot,
        self_: &Value::Null,
        runtime,
    };
    let mut items: Vec<(WorkItem, bool)> = Vec::new();
    let add_value = |v: Value,
                     items: &mut Vec<(WorkItem, bool)>,
                     name: Option<String>,
                     writable: bool|
     -> Result<()> {
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Null => {}
                Value::Array(a) => stack.extend(a.into_iter().rev()),
                Value::Object(o) if is_entry(&o) => {
                    let n = name.clone().unwrap_or_else(|| {
                        o.get("basename")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    });
                    items.push((WorkItem::Entry(n, o), writable));
                }
                other => {
                    return Err(CwlError::InvalidValue(format!(
                    "InitialWorkDirRequirement listing entry is not a File or Directory: {other}"
                )))
                }
            }
        }
        Ok(())
    };
    let entries: Vec<Value> = match listing {
        Value::String(s) => vec![eval.eval_str(s, scope)?],
        // Nested lists of entries count as their items.
        Value::Array(a) => a
            .iter()
            .flat_map(|e| match e {
                Value::Array(inner) => inner.clone(),
                other => vec![other.clone()],
            })
            .collect(),
        _ => vec![],
    };
    for e in entries {
        match e {
            Value::String(s) => add_value(eval.eval_str(&s, scope)?, &mut items, None, false)?,
            Value::Object(o) if o.contains_key("entry") => {
                let writable = o.get("writable").and_then(Value::as_bool).unwrap_or(false);
                let name = match o.get("entryname") {
                    Some(n) => match eval.eval(n, scope)? {
                        Value::String(s) => Some(s),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    },
                    None => None,
                };
                let raw = &o["entry"];
                let value = match raw {
                    Value::String(s) => eval.eval_str_untrimmed(s, scope)?,
                    other => other.clone(),
                };
                match value {
                    Value::String(text) => {
                        let name = name.ok_or_else(|| {
                            CwlError::InvalidValue("a Dirent with text needs an entryname".into())
                        })?;
                        items.push((WorkItem::Contents(name, text), writable));
                    }
                    Value::Object(ref m) if is_entry(m) => {
                        add_value(value, &mut items, name, writable)?
                    }
                    Value::Array(ref a)
                        if a.iter().all(|v| v.is_null() || class_of(v).is_some()) =>
                    {
                        add_value(value, &mut items, None, writable)?
                    }
                    Value::Null => {}
                    other => {
                        // v1.2: anything else is written as JSON.
                        let name = name.ok_or_else(|| {
                            CwlError::InvalidValue(
                                "a Dirent with a JSON value needs an entryname".into(),
                            )
                        })?;
                        items.push((WorkItem::Contents(name, python_json(&other)), writable));
                    }
                }
            }
            Value::Object(o) if is_entry(&o) => {
                // A File/Directory literal in the listing: relative to the
                // document, and its location may be an expression.
                let mut v = Value::Object(o);
                if let Some(loc) = v
                    .get("location")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                {
                    if super::expr::has_expression(&loc) {
                        v["location"] = eval.eval_str(&loc, scope)?;
                    }
                }
                files::normalize(&mut v, base_dir)?;
                add_value(v, &mut items, None, false)?
            }
            Value::Null => {}
            other => add_value(other, &mut items, None, false)?,
        }
    }

    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let inside = |outdir: &Path, name: &str| -> Result<PathBuf> {
        if Path::new(name).is_absolute() && !Path::new(name).starts_with(outdir) {
            // Only inside a container may entries go to absolute paths.
            return Err(CwlError::InvalidValue(format!(
                "InitialWorkDirRequirement entryname '{name}' is outside the output directory, which needs a container"
            )));
        }
        inside(outdir, name)
    };
    for (item, writable) in items {
        match item {
            WorkItem::Contents(name, text) => {
                let target = inside(outdir, &name)?;
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, text)?;
            }
            WorkItem::Entry(name, mut o) => {
                // Expressions may make up entries: they get no other files.
                runner.check_confined(&Value::Object(o.clone()))?;
                let target = inside(outdir, &name)?;
                let old = o.get("path").and_then(Value::as_str).map(PathBuf::from);
                let parent = target.parent().unwrap_or(outdir).to_path_buf();
                std::fs::create_dir_all(&parent)?;
                let fname = target
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                o.insert("basename".into(), Value::String(fname));
                stage_entry(&mut o, &parent, writable && !in_place)?;
                if let Some(old) = old {
                    moved.push((old, target));
                }
            }
        }
    }
    if !moved.is_empty() {
        files::for_each_entry_mut(inputs, &mut |o| {
            if let Some(p) = o.get("path").and_then(Value::as_str).map(PathBuf::from) {
                for (old, new) in &moved {
                    if let Ok(rest) = p.strip_prefix(old) {
                        let np = if rest.as_os_str().is_empty() {
                            new.clone()
                        } else {
                            new.join(rest)
                        };
                        o.insert(
                            "path".into(),
                            Value::String(np.to_string_lossy().into_owned()),
                        );
                        if let Some(parent) = np.parent() {
                            if o.get("class").and_then(Value::as_str) == Some("File") {
                                o.insert(
                                    "dirname".into(),
                                    Value::String(parent.to_string_lossy().into_owned()),
                                );
                            }
                        }
                        break;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(moved.into_iter().map(|(old, _)| old).collect())
}
