//! The runner: options and policy, the dispatch on process class, input
//! defaults and checks, ExpressionTools, and moving final outputs to their
//! destination.

use super::backend::{LocalProcessBackend, StepBackend, StepJob};
use super::expr::{Evaluator, Scope};
use super::files::{self, Listing};
use super::js::JsLimits;
use super::model::{Effective, Process, ProcessKind};
use super::outputs::secondary_names;
use super::types::{CwlType, SecondaryFile};
use super::{fail, CwlError, Result};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Requirement classes this runner understands. Others in `requirements`
/// make a run fail as unsupported; in `hints` they are ignored.
const SUPPORTED_REQUIREMENTS: &[&str] = &[
    "InlineJavascriptRequirement",
    "SchemaDefRequirement",
    "InitialWorkDirRequirement",
    "EnvVarRequirement",
    "ShellCommandRequirement",
    "ResourceRequirement",
    "SubworkflowFeatureRequirement",
    "ScatterFeatureRequirement",
    "MultipleInputFeatureRequirement",
    "StepInputExpressionRequirement",
    "LoadListingRequirement",
    "WorkReuse",
    "NetworkAccess",
    "InplaceUpdateRequirement",
    "ToolTimeLimit",
    "SoftwareRequirement",
    // Whether a backend can honour it is decided per invocation.
    "DockerRequirement",
    // `wades:WasmRequirement` (see super::wasm), likewise.
    "WasmRequirement",
];

/// What a [`Runner`] may do, and its budgets.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Run CommandLineTools as plain processes on this host. Off by
    /// default: only the command line's local mode turns it on; a server
    /// must never, since a tool can then do anything the server can.
    pub allow_host_commands: bool,
    /// Budgets of each JavaScript expression.
    pub js_limits: JsLimits,
    /// Where job folders are created (default: the system temp dir).
    pub tmp_root: Option<PathBuf>,
    /// How many tool invocations may run at once.
    pub max_parallel: usize,
    /// Only files under this folder may be given to tools or returned as
    /// outputs ([`files::check_confined`]); a server sets it to the job's
    /// folder. `None`: any file (the command line's local mode).
    pub confine: Option<PathBuf>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            allow_host_commands: false,
            js_limits: JsLimits::default(),
            tmp_root: None,
            max_parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
            confine: None,
        }
    }
}

/// Folders of one tool invocation.
#[derive(Debug, Clone)]
pub struct JobDirs {
    /// `runtime.outdir`, the working directory.
    pub outdir: PathBuf,
    /// `runtime.tmpdir`.
    pub tmpdir: PathBuf,
    /// Where inputs are staged.
    pub stage: PathBuf,
}

/// Runs CWL processes. Intermediate files live in a scratch folder that is
/// deleted when the runner is dropped, so outputs of [`Runner::run`] are
/// only valid as long as the runner; [`Runner::run_to_outdir`] copies them
/// out first.
pub struct Runner {
    options: RunnerOptions,
    backends: Vec<Arc<dyn StepBackend>>,
    scratch: tempfile::TempDir,
    next_job: AtomicUsize,
    slots: tokio::sync::Semaphore,
}

impl Runner {
    /// A runner with the given options; the local process backend is
    /// installed only when `allow_host_commands` is set.
    pub fn new(options: RunnerOptions) -> Result<Runner> {
        let scratch = match &options.tmp_root {
            Some(root) => {
                std::fs::create_dir_all(root)?;
                tempfile::Builder::new()
                    .prefix("wades-cwl-")
                    .tempdir_in(root)?
            }
            None => tempfile::Builder::new().prefix("wades-cwl-").tempdir()?,
        };
        let mut backends: Vec<Arc<dyn StepBackend>> = Vec::new();
        if options.allow_host_commands {
            backends.push(Arc::new(LocalProcessBackend));
        }
        Ok(Runner {
            slots: tokio::sync::Semaphore::new(options.max_parallel.max(1)),
            options,
            backends,
            scratch,
            next_job: AtomicUsize::new(0),
        })
    }

    /// Adds a backend, tried before the ones already there.
    pub fn with_backend(mut self, backend: Arc<dyn StepBackend>) -> Runner {
        self.backends.insert(0, backend);
        self
    }

    /// The options in force.
    pub fn options(&self) -> &RunnerOptions {
        &self.options
    }

    /// Fresh folders for one tool invocation.
    pub(crate) fn job_dirs(&self) -> Result<JobDirs> {
        let n = self.next_job.fetch_add(1, Ordering::Relaxed);
        let root = self.scratch.path().join(format!("job-{n}"));
        let dirs = JobDirs {
            outdir: root.join("out"),
            tmpdir: root.join("tmp"),
            stage: root.join("stage"),
        };
        for d in [&dirs.outdir, &dirs.tmpdir, &dirs.stage] {
            std::fs::create_dir_all(d)?;
        }
        Ok(dirs)
    }

    /// The backend that will run `job`, or why none can.
    pub(crate) fn backend_for(&self, job: &StepJob) -> Result<Arc<dyn StepBackend>> {
        // A wasm requirement is never run another way; a wasm hint may be.
        let wasm_only = job.wasm.as_ref().is_some_and(|w| w.required);
        if let Some(b) = self
            .backends
            .iter()
            .find(|b| b.supports(job) && (b.runs_wasm() || !wasm_only))
        {
            return Ok(b.clone());
        }
        Err(match (&job.container, self.options.allow_host_commands) {
            _ if wasm_only => CwlError::Unsupported(format!(
                "tool '{}' requires a wasm component (wades:WasmRequirement), and no wasm backend is enabled",
                job.tool_id
            )),
            (Some(c), _) if c.required => CwlError::Unsupported(format!(
                "tool '{}' requires a container (DockerRequirement), and no container backend is enabled",
                job.tool_id
            )),
            (_, false) => CwlError::Unsupported(format!(
                "tool '{}' is a host command, and this runner does not run host commands",
                job.tool_id
            )),
            _ => CwlError::Unsupported(format!("no backend can run tool '{}'", job.tool_id)),
        })
    }

    /// Fails if `value` names files outside [`RunnerOptions::confine`].
    pub(crate) fn check_confined(&self, value: &Value) -> Result<()> {
        match &self.options.confine {
            Some(root) => files::check_confined(value, root),
            None => Ok(()),
        }
    }

    /// Waits for a free tool slot (`max_parallel`).
    pub(crate) async fn slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        // The semaphore is never closed, so acquiring cannot fail.
        self.slots.acquire().await.expect("semaphore closed")
    }

    /// Runs `process` on a job object whose relative locations resolve
    /// against `job_dir`, and returns the output object. Output files stay
    /// in the runner's scratch folder.
    pub async fn run(
        &self,
        process: &Process,
        job: Map<String, Value>,
        job_dir: &Path,
    ) -> Result<Map<String, Value>> {
        let mut job = Value::Object(job);
        // Requirements that come with the job override the documents'.
        let overrides = match job
            .as_object_mut()
            .and_then(|j| j.remove("cwl:requirements"))
        {
            Some(Value::Array(list)) => list,
            _ => vec![],
        };
        check_requirements(&overrides)?;
        files::normalize(&mut job, job_dir)?;
        let Value::Object(job) = job else {
            unreachable!()
        };
        let effective = Effective {
            overrides,
            ..Effective::default()
        };
        self.run_process(process, job, &effective, true).await
    }

    /// Like [`Runner::run`], then copies every output File and Directory
    /// into `outdir` and completes them (`location`, `path`, `size`,
    /// `checksum`, deep `listing`).
    pub async fn run_to_outdir(
        &self,
        process: &Process,
        job: Map<String, Value>,
        job_dir: &Path,
        outdir: &Path,
    ) -> Result<Map<String, Value>> {
        let out = self.run(process, job, job_dir).await?;
        self.check_confined(&Value::Object(out.clone()))?;
        std::fs::create_dir_all(outdir)?;
        let outdir = std::path::absolute(outdir)?;
        let mut value = Value::Object(out);
        let mut placed = Relocation::default();
        self.relocate(&mut value, &outdir, &mut placed)?;
        let Value::Object(out) = value else {
            unreachable!()
        };
        Ok(out)
    }

    /// Runs any process class with the requirements inherited from its
    /// enclosing workflows. Only the `top_level` process looks for secondary
    /// files on disk; inside a workflow they must be passed along.
    pub(crate) fn run_process<'a>(
        &'a self,
        process: &'a Process,
        inputs: Map<String, Value>,
        inherited: &'a Effective,
        top_level: bool,
    ) -> BoxFuture<'a, Result<Map<String, Value>>> {
        Box::pin(async move {
            check_requirements(&process.requirements)?;
            let effective = inherited.nested(&process.requirements, &process.hints);
            let eval = Evaluator::new(&effective, self.options.js_limits);
            let inputs = prepare_inputs(process, inputs, &effective, &eval, top_level)?;
            let outputs = match &process.kind {
                ProcessKind::CommandLineTool(tool) => {
                    super::tool::run_tool(self, process, tool, inputs, &effective).await?
                }
                ProcessKind::ExpressionTool { expression } => {
                    self.expression_tool(process, expression, inputs, &eval)?
                }
                ProcessKind::Workflow(wf) => {
                    super::workflow::run_workflow(self, process, wf, inputs, &effective).await?
                }
                ProcessKind::Operation => {
                    return Err(CwlError::Unsupported(format!(
                        "{} is abstract and cannot run",
                        process.label()
                    )))
                }
            };
            check_outputs(process, outputs)
        })
    }

    fn expression_tool(
        &self,
        process: &Process,
        expression: &str,
        inputs: Map<String, Value>,
        eval: &Evaluator,
    ) -> Result<Map<String, Value>> {
        let dirs = self.job_dirs()?;
        let runtime = json!({
            "outdir": dirs.outdir.to_string_lossy(),
            "tmpdir": dirs.tmpdir.to_string_lossy(),
            "cores": 1, "ram": 1024, "outdirSize": 1024, "tmpdirSize": 1024,
        });
        let inputs = Value::Object(inputs);
        let scope = Scope {
            inputs: &inputs,
            self_: &Value::Null,
            runtime: &runtime,
        };
        let mut result = eval.eval_str(expression, scope)?;
        files::normalize(&mut result, &dirs.outdir)?;
        match result {
            Value::Object(mut m) => Ok(process
                .outputs
                .iter()
                .map(|o| (o.id.clone(), m.remove(&o.id).unwrap_or(Value::Null)))
                .collect()),
            other => Err(fail!("{} gave {other}, not an object", process.label())),
        }
    }

    /// Copies the Files and Directories of a final output object into
    /// `outdir`.
    fn relocate(&self, value: &mut Value, outdir: &Path, placed: &mut Relocation) -> Result<()> {
        match value {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|v| self.relocate(v, outdir, placed)),
            Value::Object(o) if is_entry(o) => {
                let rel = self.relative_name(o);
                let target = placed.target(o.get("path").and_then(Value::as_str), outdir, &rel);
                *o = self.place(o, &target, placed)?;
                Ok(())
            }
            Value::Object(o) => o
                .values_mut()
                .try_for_each(|v| self.relocate(v, outdir, placed)),
            _ => Ok(()),
        }
    }

    /// Where an output goes relative to the destination: its path inside
    /// the job's output folder when it was made by a tool, else its
    /// basename.
    fn relative_name(&self, o: &Map<String, Value>) -> PathBuf {
        let basename = o
            .get("basename")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(super::load::random_hex);
        if let Some(p) = o.get("path").and_then(Value::as_str) {
            if let Ok(rest) = Path::new(p).strip_prefix(self.scratch.path()) {
                let mut parts = rest.components();
                let (_job, kind) = (parts.next(), parts.next());
                if kind.is_some_and(|k| k.as_os_str() == "out") {
                    let inner = parts.as_path();
                    if let Some(parent) = inner.parent() {
                        return parent.join(&basename);
                    }
                }
            }
        }
        PathBuf::from(basename)
    }

    /// Copies one entry to `target` and describes it there.
    fn place(
        &self,
        o: &Map<String, Value>,
        target: &Path,
        placed: &mut Relocation,
    ) -> Result<Map<String, Value>> {
        let is_file = o.get("class").and_then(Value::as_str) == Some("File");
        match o.get("path").and_then(Value::as_str) {
            Some(src) => {
                let src = Path::new(src);
                if src != target {
                    super::tool::copy_tree(src, target)?;
                }
            }
            None if is_file => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(
                    target,
                    o.get("contents").and_then(Value::as_str).unwrap_or(""),
                )?;
            }
            None => {
                std::fs::create_dir_all(target)?;
                if let Some(Value::Array(listing)) = o.get("listing") {
                    for entry in listing {
                        if let Value::Object(e) = entry {
                            let name = self.relative_name(e);
                            let name = name.file_name().map(PathBuf::from).unwrap_or(name);
                            self.place(e, &target.join(name), placed)?;
                        }
                    }
                }
            }
        }
        let Value::Object(mut out) = files::describe_path(target, true)? else {
            unreachable!()
        };
        out.remove("dirname");
        out.remove("nameroot");
        out.remove("nameext");
        if !is_file {
            out.insert(
                "listing".into(),
                Value::Array(strip_computed(files::list_dir(
                    target,
                    Listing::Deep,
                    true,
                )?)),
            );
        }
        for keep in ["format", "contents"] {
            if let Some(v) = o.get(keep) {
                out.insert(keep.into(), v.clone());
            }
        }
        if let Some(Value::Array(sfs)) = o.get("secondaryFiles") {
            let dir = target.parent().unwrap_or(target).to_path_buf();
            let mut placed_sfs = Vec::new();
            for sf in sfs {
                if let Value::Object(s) = sf {
                    let name = s
                        .get("basename")
                        .and_then(Value::as_str)
                        .unwrap_or("secondary");
                    let t =
                        placed.target(s.get("path").and_then(Value::as_str), &dir, Path::new(name));
                    placed_sfs.push(Value::Object(self.place(s, &t, placed)?));
                }
            }
            out.insert("secondaryFiles".into(), Value::Array(placed_sfs));
        }
        Ok(out)
    }
}

/// Bookkeeping while relocating: the same source goes to the same target,
/// different sources never share one.
#[derive(Default)]
struct Relocation {
    by_source: HashMap<String, PathBuf>,
    used: HashSet<PathBuf>,
}

impl Relocation {
    fn target(&mut self, source: Option<&str>, outdir: &Path, rel: &Path) -> PathBuf {
        if let Some(t) = source.and_then(|s| self.by_source.get(s)) {
            return t.clone();
        }
        let mut target = outdir.join(rel);
        let mut n = 2;
        while self.used.contains(&target) {
            let name = rel
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            target = outdir.join(rel).with_file_name(format!("{name}_{n}"));
            n += 1;
        }
        self.used.insert(target.clone());
        if let Some(s) = source {
            self.by_source.insert(s.to_string(), target.clone());
        }
        target
    }
}

/// Drops the computed name fields from a listing, like the reference runner.
fn strip_computed(mut listing: Vec<Value>) -> Vec<Value> {
    for v in &mut listing {
        if let Value::Object(o) = v {
            o.remove("dirname");
            o.remove("nameroot");
            o.remove("nameext");
            if let Some(Value::Array(inner)) = o.remove("listing") {
                o.insert("listing".into(), Value::Array(strip_computed(inner)));
            }
        }
    }
    listing
}

fn is_entry(o: &Map<String, Value>) -> bool {
    matches!(
        o.get("class").and_then(Value::as_str),
        Some("File" | "Directory")
    )
}

/// Fails on a requirement class we do not know.
pub(crate) fn check_requirements(requirements: &[Value]) -> Result<()> {
    for r in requirements {
        let class = r.get("class").and_then(Value::as_str).unwrap_or("");
        let short = class.rsplit(['#', ':']).next().unwrap_or(class);
        if !SUPPORTED_REQUIREMENTS.contains(&class) && !SUPPORTED_REQUIREMENTS.contains(&short) {
            return Err(CwlError::Unsupported(format!("requirement {class}")));
        }
    }
    Ok(())
}

/// Fills defaults, checks every input against its type, then applies
/// `loadContents`, `loadListing` and secondary file discovery. Undeclared
/// inputs are dropped.
fn prepare_inputs(
    process: &Process,
    mut given: Map<String, Value>,
    effective: &Effective,
    eval: &Evaluator,
    discover: bool,
) -> Result<Map<String, Value>> {
    let default_listing = effective
        .get("LoadListingRequirement")
        .and_then(|r| r.get("loadListing"))
        .and_then(Value::as_str)
        .and_then(|s| Listing::parse(Some(s)))
        .unwrap_or(if process.cwl_version == "v1.0" {
            Listing::Deep
        } else {
            Listing::None
        });
    let mut inputs = Map::new();
    for p in &process.inputs {
        let mut v = given.remove(&p.id).unwrap_or(Value::Null);
        if v.is_null() {
            if let Some(d) = &p.default {
                v = d.clone();
                files::normalize(&mut v, &process.base_dir)?;
            }
        }
        if !p.ty.matches(&v) {
            return Err(CwlError::InvalidValue(if v.is_null() {
                format!("{}: missing required input '{}'", process.label(), p.id)
            } else {
                format!(
                    "{}: input '{}' = {} is not a {}",
                    process.label(),
                    p.id,
                    truncate(&v),
                    p.ty.describe()
                )
            }));
        }
        inputs.insert(p.id.clone(), v);
    }
    let snapshot = Value::Object(inputs.clone());
    let features = InputFeatures {
        process,
        eval,
        inputs: &snapshot,
        discover,
    };
    for p in &process.inputs {
        let listing = Listing::parse(p.load_listing.as_deref()).unwrap_or(default_listing);
        if let Some(v) = inputs.get_mut(&p.id) {
            features.apply(
                &p.ty,
                v,
                &p.secondary_files,
                p.load_contents,
                listing,
                p.format.as_ref(),
            )?;
        }
    }
    Ok(inputs)
}

fn truncate(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(200).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// `loadContents`, `loadListing` and secondary files of input values.
struct InputFeatures<'a> {
    process: &'a Process,
    eval: &'a Evaluator,
    inputs: &'a Value,
    /// Look for secondary files on disk (top-level process only).
    discover: bool,
}

impl InputFeatures<'_> {
    fn apply(
        &self,
        ty: &CwlType,
        v: &mut Value,
        secondary: &[SecondaryFile],
        load_contents: bool,
        listing: Listing,
        format: Option<&Value>,
    ) -> Result<()> {
        let ty = ty.member_for(v).cloned().unwrap_or(CwlType::Any);
        match v {
            Value::Array(items) => {
                let item_ty = match &ty {
                    CwlType::Array(a) => a.items.clone(),
                    _ => CwlType::Any,
                };
                for i in items {
                    self.apply(&item_ty, i, secondary, load_contents, listing, format)?;
                }
            }
            Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("File") => {
                if load_contents && !o.contains_key("contents") {
                    if let Some(path) = o.get("path").and_then(Value::as_str) {
                        o.insert(
                            "contents".into(),
                            Value::String(files::read_contents(Path::new(path))?),
                        );
                    }
                }
                if !secondary.is_empty() {
                    self.secondary_files(o, secondary)?;
                }
                if let Some(f) = format {
                    self.check_format(o, f)?;
                }
            }
            Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("Directory") => {
                let mut d = Value::Object(std::mem::take(o));
                files::fill_listings(&mut d, listing)?;
                if let Value::Object(m) = d {
                    *o = m;
                }
            }
            Value::Object(o) => {
                if let CwlType::Record(r) = &ty {
                    for f in &r.fields {
                        if let Some(fv) = o.get_mut(&f.name) {
                            self.apply(
                                &f.ty,
                                fv,
                                &f.secondary_files,
                                f.load_contents,
                                listing,
                                f.format.as_ref(),
                            )?;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks a File's `format` against the formats the input accepts. We
    /// do not reason over ontologies: when the document names some
    /// (`$schemas`), a different format may be a subclass and is accepted;
    /// without, formats must match exactly. A File without a format passes.
    fn check_format(&self, o: &Map<String, Value>, expected: &Value) -> Result<()> {
        let Some(actual) = o.get("format").and_then(Value::as_str) else {
            return Ok(());
        };
        let me = Value::Object(o.clone());
        let runtime = Value::Object(Map::new());
        let scope = Scope {
            inputs: self.inputs,
            self_: &me,
            runtime: &runtime,
        };
        let allowed: Vec<String> = match self.eval.eval(expected, scope)? {
            Value::String(s) => vec![s],
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => return Ok(()),
        };
        let expand = |f: &str| super::outputs::expand_format(f, self.process);
        let actual = expand(actual);
        if allowed.iter().any(|f| expand(f) == actual) || !self.process.schemas.is_empty() {
            return Ok(());
        }
        Err(CwlError::InvalidValue(format!(
            "file format {actual} is not one of {allowed:?}"
        )))
    }

    /// Checks the secondary files an input File declares; the top-level
    /// process adds them from next to the file on disk when they are not
    /// listed. Missing required ones fail.
    fn secondary_files(&self, o: &mut Map<String, Value>, specs: &[SecondaryFile]) -> Result<()> {
        let path = o.get("path").and_then(Value::as_str).map(PathBuf::from);
        let dir = path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let me = Value::Object(o.clone());
        let runtime = Value::Object(Map::new());
        let scope = Scope {
            inputs: self.inputs,
            self_: &me,
            runtime: &runtime,
        };
        let mut list: Vec<Value> = match o.get("secondaryFiles") {
            Some(Value::Array(a)) => a.clone(),
            _ => vec![],
        };
        let name = o
            .get("basename")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for sf in specs {
            // Unspecified means required; an expression giving null does not.
            let required = match &sf.required {
                Some(r) => self.eval.eval(r, scope)?.as_bool().unwrap_or(false),
                None => true,
            };
            for wanted in secondary_names(self.eval, sf, &me, scope)? {
                match wanted {
                    Value::String(n) => {
                        let present = list
                            .iter()
                            .any(|e| e.get("basename").and_then(Value::as_str) == Some(n.as_str()));
                        if present {
                            continue;
                        }
                        let on_disk = dir.as_ref().map(|d| d.join(&n)).filter(|p| p.exists());
                        match on_disk {
                            Some(p) if self.discover => list.push(files::describe_path(&p, false)?),
                            _ if required => {
                                return Err(CwlError::InvalidValue(format!(
                                    "required secondary file '{n}' of '{name}' is missing"
                                )))
                            }
                            _ => {}
                        }
                    }
                    Value::Object(m) => {
                        let mut v = Value::Object(m);
                        if let Some(d) = &dir {
                            files::normalize(&mut v, d)?;
                        }
                        list.push(v);
                    }
                    _ => {}
                }
            }
        }
        if !list.is_empty() {
            o.insert("secondaryFiles".into(), Value::Array(list));
        }
        Ok(())
    }
}

/// Keeps the declared outputs and checks each against its type.
fn check_outputs(process: &Process, mut out: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut checked = Map::new();
    for o in &process.outputs {
        let v = out.remove(&o.id).unwrap_or(Value::Null);
        // The reference runner lets an `Any` output be null (the
        // conformance suite relies on it), though `Any` inputs may not be.
        if !(o.ty.matches(&v) || (o.ty == CwlType::Any && v.is_null())) {
            return Err(if v.is_null() {
                fail!("{}: output '{}' was not produced", process.label(), o.id)
            } else {
                fail!(
                    "{}: output '{}' = {} is not a {}",
                    process.label(),
                    o.id,
                    truncate(&v),
                    o.ty.describe()
                )
            });
        }
        checked.insert(o.id.clone(), v);
    }
    Ok(checked)
}
