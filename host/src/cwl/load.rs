//! Reading CWL documents and job files.
//!
//! **Why not `cwl_core`?** `cwl_core` 0.15.1 (re-exported by `commonwl`,
//! github.com/fairagro/commonwl) parses well: it loads all 316 documents of
//! the v1.2 conformance suite (YAML and JSON, `$graph` with `#main`,
//! `$import`, `SchemaDefRequirement`, shorthand types, map-form inputs).
//! But its model mirrors the schema with many parallel types (three kinds of
//! input parameter; `SchemaDefRequirement` types left as key-sorted untyped
//! JSON), it is a young 0.x crate, and it adds about fifteen dependencies
//! (miette, bon, validator, serde-saphyr, cwl_salad). A runner needs one
//! normalised model (one type algebra, short ids, resolved names), so
//! adopting it would mean a conversion layer as large as this loader, which
//! reads YAML with the maintained `yaml-rust2` (YAML 1.2, mapping order
//! kept, as record fields and map-form inputs need) straight into JSON.

use super::model::{
    Argument, CommandLineTool, InputParameter, OutputBinding, OutputParameter, Process,
    ProcessKind, Step, StepInput, Texts, Workflow,
};
use super::types::{ArrayType, Binding, CwlType, EnumType, Field, RecordType, SecondaryFile};
use super::{invalid, CwlError, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml_rust2::{Yaml, YamlLoader};

/// Fields whose map form (`{id: value}`) is turned into a list, with the
/// key becoming the named field and a non-object value the predicate field
/// (the `mapSubject`/`mapPredicate` rules of the CWL schema).
const MAP_FORMS: &[MapForm] = &[
    ("inputs", "id", Some("type")),
    ("outputs", "id", Some("type")),
    ("fields", "name", Some("type")),
    ("requirements", "class", None),
    ("hints", "class", None),
    ("steps", "id", None),
    ("in", "id", Some("source")),
    ("envDef", "envName", Some("envValue")),
    ("packages", "package", Some("specs")),
];

/// A map-form field: its name, the subject key, the predicate key.
type MapForm = (&'static str, &'static str, Option<&'static str>);

/// Keys whose values are data, not schema: no map-form normalisation inside.
const DATA_KEYS: &[&str] = &["default", "$namespaces", "$schemas", "contents"];

/// Loads the process at `path`, `path#fragment` or a `file://` URI: the
/// `#fragment` picks a process from a `$graph` (default `main`).
pub fn load_document(reference: &str) -> Result<Arc<Process>> {
    let (path, fragment) = split_reference(reference)?;
    let mut loader = Loader::default();
    loader.process_at(&path, fragment.as_deref(), None)
}

/// Splits a document reference into a file path and an optional fragment.
/// `file://` URIs are percent-decoded; a plain path is taken as is when such
/// a file exists, else split at its last `#`.
pub fn split_reference(reference: &str) -> Result<(PathBuf, Option<String>)> {
    if reference.starts_with("file://") {
        let url = url::Url::parse(reference).map_err(|e| invalid!("{reference}: {e}"))?;
        let fragment = url.fragment().map(str::to_string);
        let path = url
            .to_file_path()
            .map_err(|()| invalid!("{reference} is not a local file"))?;
        return Ok((path, fragment));
    }
    let p = PathBuf::from(reference);
    if p.exists() {
        return Ok((p, None));
    }
    match reference.rsplit_once('#') {
        Some((file, frag)) => Ok((PathBuf::from(file), Some(frag.to_string()))),
        None => Ok((p, None)),
    }
}

/// Reads a job file (YAML or JSON) as a JSON object; an absent path is the
/// empty job. Values are data: no normalisation, but `$import`/`$include`
/// are honoured.
pub fn load_job(path: Option<&Path>) -> Result<Map<String, Value>> {
    let Some(path) = path else {
        return Ok(Map::new());
    };
    match read_file(path, false)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(CwlError::InvalidValue(format!(
            "job file {} is not an object but {other}",
            path.display()
        ))),
    }
}

/// Reads a YAML or JSON file into JSON, resolving `$import` and `$include`
/// relative to it. `schema` turns normalisation of map forms on.
pub fn read_file(path: &Path, schema: bool) -> Result<Value> {
    let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid!("cannot read {}: {e}", path.display()))?;
    parse_text(&text, path, schema)
}

/// Parses YAML (or JSON) text that came from `path`.
pub fn parse_text(text: &str, path: &Path, schema: bool) -> Result<Value> {
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    match YamlLoader::load_from_str(text) {
        Ok(docs) => {
            let Some(doc) = docs.into_iter().next() else {
                return Ok(Value::Null);
            };
            to_json(&doc, &base, schema)
        }
        // YAML forbids some things JSON allows (tabs for indentation), so
        // JSON files get a second chance with a JSON parser.
        Err(yaml_err) => match serde_json::from_str::<Value>(text) {
            Ok(v) if schema => Ok(normalise_json(v)),
            Ok(v) => Ok(v),
            Err(_) => Err(invalid!("{}: {yaml_err}", path.display())),
        },
    }
}

/// Converts a YAML node into JSON, honouring `$import` and `$include`.
/// With `schema`, map forms become lists (in document order, which a JSON
/// object would lose).
fn to_json(y: &Yaml, base: &Path, schema: bool) -> Result<Value> {
    Ok(match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .or_else(|| y.as_f64())
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| to_json(i, base, schema))
                .collect::<Result<_>>()?,
        ),
        Yaml::Hash(h) => {
            if let Some(Yaml::String(target)) = h.get(&Yaml::String("$import".into())) {
                let (path, fragment) = resolve_relative(base, target);
                let v = read_file(&path, schema)?;
                return Ok(match fragment {
                    Some(f) => find_by_id(&v, &f).cloned().unwrap_or(v),
                    None => v,
                });
            }
            if let Some(Yaml::String(target)) = h.get(&Yaml::String("$include".into())) {
                let (path, _) = resolve_relative(base, target);
                return std::fs::read_to_string(&path)
                    .map(Value::String)
                    .map_err(|e| invalid!("$include {}: {e}", path.display()));
            }
            let mut m = Map::new();
            for (k, v) in h {
                let Some(key) = yaml_key(k) else { continue };
                let data = DATA_KEYS.contains(&key.as_str());
                let form = MAP_FORMS.iter().find(|(k, _, _)| *k == key);
                let value = match (v, form) {
                    (Yaml::Hash(entries), Some(form)) if schema && !is_reference(entries) => {
                        map_form(entries, form, base)?
                    }
                    _ => {
                        let value = to_json(v, base, schema && !data)?;
                        match form {
                            // An imported map: normalised, in key order.
                            Some(form) if schema => normalise_map_form(form, value),
                            _ => value,
                        }
                    }
                };
                m.insert(key, value);
            }
            Value::Object(m)
        }
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    })
}

/// Whether a YAML map is an `$import` or `$include`.
fn is_reference(h: &yaml_rust2::yaml::Hash) -> bool {
    h.contains_key(&Yaml::String("$import".into()))
        || h.contains_key(&Yaml::String("$include".into()))
}

/// The map form `{a: x, b: {...}}` of a field as its list form
/// `[{subject: a, predicate: x}, {subject: b, ...}]`, in document order.
fn map_form(h: &yaml_rust2::yaml::Hash, form: &MapForm, base: &Path) -> Result<Value> {
    let mut list = Vec::new();
    for (k, v) in h {
        let Some(name) = yaml_key(k) else { continue };
        list.push(map_entry(name, to_json(v, base, true)?, form));
    }
    Ok(Value::Array(list))
}

/// [`map_form`] for a map that is already JSON (it came from `$import`).
fn normalise_map_form(form: &MapForm, value: Value) -> Value {
    match value {
        Value::Object(m) => {
            Value::Array(m.into_iter().map(|(k, v)| map_entry(k, v, form)).collect())
        }
        other => other,
    }
}

/// Map forms to lists throughout a JSON document (key order is lost).
fn normalise_json(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(normalise_json).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if DATA_KEYS.contains(&k.as_str()) {
                        return (k, v);
                    }
                    let v = match MAP_FORMS.iter().find(|(f, _, _)| *f == k) {
                        Some(form) => match normalise_map_form(form, v) {
                            Value::Array(a) => {
                                Value::Array(a.into_iter().map(normalise_json).collect())
                            }
                            other => normalise_json(other),
                        },
                        None => normalise_json(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

fn map_entry(name: String, value: Value, (_, subject, predicate): &MapForm) -> Value {
    let mut entry = match (value, predicate) {
        (Value::Object(o), _) => o,
        (other, Some(p)) => {
            let mut o = Map::new();
            o.insert(p.to_string(), other);
            o
        }
        (_, None) => Map::new(),
    };
    entry.insert(subject.to_string(), Value::String(name));
    Value::Object(entry)
}

fn yaml_key(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Resolves a reference relative to a directory; the reference is a URI
/// reference, so it is percent-decoded and may carry a `#fragment`.
fn resolve_relative(base: &Path, reference: &str) -> (PathBuf, Option<String>) {
    if let Ok(base_url) = url::Url::from_directory_path(base) {
        if let Ok(u) = base_url.join(reference) {
            if u.scheme() == "file" {
                let fragment = u.fragment().map(str::to_string);
                if let Ok(p) = u.to_file_path() {
                    return (p, fragment);
                }
            }
        }
    }
    match reference.split_once('#') {
        Some((f, frag)) => (base.join(f), Some(frag.to_string())),
        None => (base.join(reference), None),
    }
}

/// The short form of an id: the part after the last `#` and the last `/`.
pub fn shortname(id: &str) -> String {
    let frag = id.rsplit('#').next().unwrap_or(id);
    frag.rsplit('/').next().unwrap_or(frag).to_string()
}

/// The element of a `$graph` (or a list) with this id.
fn find_by_id<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    let id = id.trim_start_matches('#');
    let list = doc.get("$graph").unwrap_or(doc).as_array()?;
    list.iter().find(|e| {
        e.get("id")
            .and_then(Value::as_str)
            .is_some_and(|eid| eid.trim_start_matches('#') == id || shortname(eid) == id)
    })
}

/// What a process being parsed inherits from its file and its parents.
#[derive(Clone)]
struct Context {
    path: PathBuf,
    base_dir: PathBuf,
    version: String,
    namespaces: BTreeMap<String, String>,
    schemas: Vec<String>,
    graph: Option<Arc<Value>>,
    schema_defs: Arc<HashMap<String, Value>>,
}

/// Loads processes, caching parsed files (a `$graph` file is read once for
/// all the steps that refer into it).
#[derive(Default)]
struct Loader {
    files: HashMap<PathBuf, Arc<Value>>,
    /// Guards against a document that (indirectly) runs itself.
    depth: usize,
}

impl Loader {
    fn file(&mut self, path: &Path) -> Result<Arc<Value>> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(v) = self.files.get(&key) {
            return Ok(v.clone());
        }
        let v = Arc::new(read_file(path, true)?);
        self.files.insert(key, v.clone());
        Ok(v)
    }

    fn process_at(
        &mut self,
        path: &Path,
        fragment: Option<&str>,
        parent: Option<&Context>,
    ) -> Result<Arc<Process>> {
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let doc = self.file(path)?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
        let mut namespaces = parent.map(|p| p.namespaces.clone()).unwrap_or_default();
        if let Some(Value::Object(ns)) = doc.get("$namespaces") {
            for (k, v) in ns {
                if let Some(v) = v.as_str() {
                    namespaces.insert(k.clone(), v.to_string());
                }
            }
        }
        let version = doc
            .get("cwlVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| parent.map(|p| p.version.clone()))
            .unwrap_or_else(|| "v1.2".into());
        check_version(&version)?;
        let mut schemas = parent.map(|p| p.schemas.clone()).unwrap_or_default();
        schemas.extend(
            list(doc.get("$schemas"))
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        let graph = doc.get("$graph").map(|_| doc.clone());
        let ctx = Context {
            path: path.to_path_buf(),
            base_dir,
            version,
            namespaces,
            schemas,
            graph: graph.clone(),
            schema_defs: parent.map(|p| p.schema_defs.clone()).unwrap_or_default(),
        };
        let node = match (&graph, fragment) {
            (Some(g), Some(f)) => find_by_id(g, f)
                .ok_or_else(|| invalid!("no process '#{f}' in {}", path.display()))?,
            (Some(g), None) => match g["$graph"].as_array().map(Vec::as_slice) {
                Some([only]) => only,
                _ => find_by_id(g, "main")
                    .ok_or_else(|| invalid!("{} has no '#main' process", path.display()))?,
            },
            (None, _) => &doc,
        };
        let default_id = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.process(node, &ctx, &default_id).map(Arc::new)
    }

    fn process(&mut self, node: &Value, parent: &Context, default_id: &str) -> Result<Process> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(invalid!("processes nested more than 64 deep"));
        }
        let result = self.process_inner(node, parent, default_id);
        self.depth -= 1;
        result
    }

    fn process_inner(
        &mut self,
        node: &Value,
        parent: &Context,
        default_id: &str,
    ) -> Result<Process> {
        let Value::Object(obj) = node else {
            return Err(invalid!("a process must be an object"));
        };
        let class = obj
            .get("class")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid!("process without a class"))?;
        let mut ctx = parent.clone();
        if let Some(v) = obj.get("cwlVersion").and_then(Value::as_str) {
            check_version(v)?;
            ctx.version = v.to_string();
        }
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .map(shortname)
            .unwrap_or_else(|| default_id.to_string());
        let requirements = class_list(obj.get("requirements"), "requirements")?;
        let hints = class_list(obj.get("hints"), "hints")?;
        check_version_features(obj, &requirements, &ctx.version)?;
        // Named types: the process's own SchemaDefRequirement adds to the
        // ones inherited from an enclosing workflow.
        if let Some(sd) = super::model::find_class(&requirements, "SchemaDefRequirement") {
            let mut defs = (*ctx.schema_defs).clone();
            collect_schema_defs(sd.get("types").unwrap_or(&Value::Null), &mut defs);
            ctx.schema_defs = Arc::new(defs);
        }
        let types = TypeParser {
            defs: &ctx.schema_defs,
        };
        let mut tool = CommandLineTool::default();
        let mut inputs = Vec::new();
        for i in list(obj.get("inputs")) {
            // `type: stdin` is a File input fed to standard input.
            if i.get("type").and_then(Value::as_str) == Some("stdin") {
                let mut i = i.clone();
                i["type"] = Value::String("File".into());
                let p = parse_input(&i, &types)?;
                tool.stdin = Some(format!("$(inputs.{}.path)", p.id));
                inputs.push(p);
                continue;
            }
            inputs.push(parse_input(i, &types)?);
        }
        let mut outputs = Vec::new();
        for o in list(obj.get("outputs")) {
            outputs.push(parse_output(o, &types, &mut tool, obj)?);
        }
        let kind = match class {
            "CommandLineTool" => {
                fill_tool(&mut tool, obj)?;
                ProcessKind::CommandLineTool(tool)
            }
            "ExpressionTool" => ProcessKind::ExpressionTool {
                expression: obj
                    .get("expression")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid!("ExpressionTool '{id}' has no expression"))?
                    .to_string(),
            },
            "Workflow" => {
                let wf = self.workflow(obj, &ctx, &mut outputs)?;
                ProcessKind::Workflow(wf)
            }
            "Operation" => ProcessKind::Operation,
            other => return Err(invalid!("unknown process class '{other}'")),
        };
        Ok(Process {
            id,
            cwl_version: ctx.version.clone(),
            inputs,
            outputs,
            requirements,
            hints,
            base_dir: ctx.base_dir.clone(),
            namespaces: ctx.namespaces.clone(),
            schemas: ctx.schemas.clone(),
            texts: texts(node),
            kind,
        })
    }

    fn workflow(
        &mut self,
        obj: &Map<String, Value>,
        ctx: &Context,
        outputs: &mut [OutputParameter],
    ) -> Result<Workflow> {
        let raw_steps = list(obj.get("steps"));
        let step_ids: Vec<String> = raw_steps
            .iter()
            .map(|s| {
                s.get("id")
                    .and_then(Value::as_str)
                    .map(shortname)
                    .ok_or_else(|| invalid!("workflow step without an id"))
            })
            .collect::<Result<_>>()?;
        let source = |s: &str| normalise_source(s, &step_ids);
        for o in outputs.iter_mut() {
            o.output_source = o.output_source.iter().map(|s| source(s)).collect();
        }
        let mut steps = Vec::new();
        for (raw, id) in raw_steps.iter().zip(&step_ids) {
            let Value::Object(s) = raw else {
                return Err(invalid!("step '{id}' is not an object"));
            };
            let mut inputs = Vec::new();
            for i in list(s.get("in")) {
                let (sources, source_is_list) = match i.get("source") {
                    Some(Value::String(one)) => (vec![source(one)], false),
                    Some(Value::Array(many)) => (
                        many.iter().filter_map(Value::as_str).map(source).collect(),
                        true,
                    ),
                    _ => (vec![], false),
                };
                inputs.push(StepInput {
                    id: i
                        .get("id")
                        .and_then(Value::as_str)
                        .map(shortname)
                        .ok_or_else(|| invalid!("step '{id}' has an input without id"))?,
                    source: sources,
                    source_is_list,
                    link_merge: str_field(i, "linkMerge"),
                    pick_value: str_field(i, "pickValue"),
                    default: i.get("default").cloned(),
                    value_from: i.get("valueFrom").cloned(),
                    load_contents: bool_field(i, "loadContents"),
                    load_listing: str_field(i, "loadListing"),
                });
            }
            let outs = list(s.get("out"))
                .iter()
                .filter_map(|o| match o {
                    Value::String(s) => Some(shortname(s)),
                    Value::Object(m) => m.get("id").and_then(Value::as_str).map(shortname),
                    _ => None,
                })
                .collect();
            let run = match s.get("run") {
                Some(Value::String(r)) => self.run_reference(r, ctx)?,
                Some(inline @ Value::Object(_)) => Arc::new(self.process(inline, ctx, id)?),
                _ => return Err(invalid!("step '{id}' has no run")),
            };
            let scatter = match s.get("scatter") {
                Some(Value::String(one)) => vec![shortname(one)],
                Some(Value::Array(many)) => many
                    .iter()
                    .filter_map(Value::as_str)
                    .map(shortname)
                    .collect(),
                _ => vec![],
            };
            if s.contains_key("when") && matches!(ctx.version.as_str(), "v1.0" | "v1.1" | "v1.1.0")
            {
                return Err(invalid!(
                    "step '{id}': 'when' needs cwlVersion v1.2, the document is {}",
                    ctx.version
                ));
            }
            steps.push(Step {
                id: id.clone(),
                inputs,
                outputs: outs,
                run,
                requirements: class_list(s.get("requirements"), "requirements")?,
                hints: class_list(s.get("hints"), "hints")?,
                scatter,
                scatter_method: str_field(s, "scatterMethod"),
                when: str_field(s, "when"),
            });
        }
        Ok(Workflow { steps })
    }

    /// A step's `run` given as a string: `#id` in the current `$graph`, or
    /// a (relative) file reference.
    fn run_reference(&mut self, r: &str, ctx: &Context) -> Result<Arc<Process>> {
        if let (Some(frag), Some(graph)) = (r.strip_prefix('#'), &ctx.graph) {
            let node = find_by_id(graph, frag)
                .ok_or_else(|| invalid!("no process '#{frag}' in {}", ctx.path.display()))?
                .clone();
            return self.process(&node, ctx, frag).map(Arc::new);
        }
        let (path, fragment) = if r.starts_with("file://") {
            split_reference(r)?
        } else {
            resolve_relative(&ctx.base_dir, r)
        };
        // A fragment naming the same file's graph entry.
        self.process_at(&path, fragment.as_deref(), Some(ctx))
    }
}

/// Rejects v1.2 syntax in documents that declare an older version (a
/// document must be valid for the version it names).
fn check_version_features(
    obj: &Map<String, Value>,
    requirements: &[Value],
    version: &str,
) -> Result<()> {
    let older = matches!(version, "v1.0" | "v1.1" | "v1.1.0");
    if !older {
        return Ok(());
    }
    if let Some(rr) = super::model::find_class(requirements, "ResourceRequirement") {
        for (k, v) in rr.as_object().into_iter().flatten() {
            if v.as_f64().is_some_and(|f| f.fract() != 0.0) {
                return Err(invalid!(
                    "ResourceRequirement {k}: {v} is fractional, which needs cwlVersion v1.2"
                ));
            }
        }
    }
    if version == "v1.0" {
        for field in ["inputs", "outputs"] {
            for p in list(obj.get(field)) {
                let sf = p.get("secondaryFiles");
                let objects = match sf {
                    Some(Value::Array(a)) => a.iter().any(Value::is_object),
                    Some(Value::Object(_)) => true,
                    _ => false,
                };
                if objects {
                    return Err(invalid!(
                        "secondaryFiles with pattern/required need cwlVersion v1.1"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_version(v: &str) -> Result<()> {
    match v {
        "v1.0" | "v1.1" | "v1.2" | "v1.2.0" | "v1.1.0" => Ok(()),
        other => Err(CwlError::Unsupported(format!("cwlVersion {other}"))),
    }
}

/// `input` or `step/out` from any spelling of a source (`#main/step/out`,
/// `step/out`, `#input`).
fn normalise_source(s: &str, step_ids: &[String]) -> String {
    let frag = s.rsplit('#').next().unwrap_or(s);
    let segs: Vec<&str> = frag.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [.., step, out] if step_ids.iter().any(|id| id == step) => format!("{step}/{out}"),
        [.., last] => last.to_string(),
        [] => s.to_string(),
    }
}

/// A list field (absent is empty).
fn list(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

fn str_field(o: &impl ObjectLike, key: &str) -> Option<String> {
    o.field(key).and_then(Value::as_str).map(str::to_string)
}

fn bool_field(o: &impl ObjectLike, key: &str) -> bool {
    o.field(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Field access over both a JSON object and a JSON value.
trait ObjectLike {
    fn field(&self, key: &str) -> Option<&Value>;
}
impl ObjectLike for Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}
impl ObjectLike for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// `requirements` or `hints`: a list of objects with a `class`.
fn class_list(v: Option<&Value>, what: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for r in list(v) {
        match r.get("class").and_then(Value::as_str) {
            Some(_) => out.push(r.clone()),
            None => return Err(invalid!("an entry of {what} has no class")),
        }
    }
    Ok(out)
}

fn collect_schema_defs(types: &Value, defs: &mut HashMap<String, Value>) {
    match types {
        Value::Array(items) => items.iter().for_each(|t| collect_schema_defs(t, defs)),
        Value::Object(o) => {
            if let Some(name) = o.get("name").and_then(Value::as_str) {
                let frag = name.rsplit('#').next().unwrap_or(name).to_string();
                defs.insert(shortname(name), types.clone());
                defs.insert(frag, types.clone());
            }
        }
        _ => {}
    }
}

/// Parses types, resolving names against `SchemaDefRequirement`s.
struct TypeParser<'a> {
    defs: &'a HashMap<String, Value>,
}

impl TypeParser<'_> {
    fn parse(&self, v: &Value) -> Result<CwlType> {
        self.parse_depth(v, 0)
    }

    fn parse_depth(&self, v: &Value, depth: usize) -> Result<CwlType> {
        if depth > 32 {
            return Err(invalid!("type nested too deep (recursive type?)"));
        }
        match v {
            Value::String(s) => self.named(s, depth),
            Value::Array(members) => {
                let mut out = Vec::new();
                for m in members {
                    match self.parse_depth(m, depth + 1)? {
                        CwlType::Union(inner) => out.extend(inner),
                        t => out.push(t),
                    }
                }
                Ok(CwlType::Union(out))
            }
            Value::Object(o) => {
                let kind = o
                    .get("type")
                    .ok_or_else(|| invalid!("type object without 'type'"))?;
                let name = o.get("name").and_then(Value::as_str).map(shortname);
                match kind.as_str() {
                    Some("array") => Ok(CwlType::Array(Box::new(ArrayType {
                        items: self.parse_depth(
                            o.get("items")
                                .ok_or_else(|| invalid!("array type without items"))?,
                            depth + 1,
                        )?,
                        binding: o.get("inputBinding").map(parse_binding).transpose()?,
                    }))),
                    Some("record") => {
                        let mut fields = Vec::new();
                        for f in list(o.get("fields")) {
                            fields.push(self.field(f, depth)?);
                        }
                        Ok(CwlType::Record(Box::new(RecordType { name, fields })))
                    }
                    Some("enum") => Ok(CwlType::Enum(Box::new(EnumType {
                        name,
                        symbols: list(o.get("symbols"))
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|s| {
                                if s.contains('#') {
                                    shortname(s)
                                } else {
                                    s.to_string()
                                }
                            })
                            .collect(),
                        binding: o.get("inputBinding").map(parse_binding).transpose()?,
                    }))),
                    // `{type: string}` and friends: the inner type.
                    _ => self.parse_depth(kind, depth + 1),
                }
            }
            Value::Null => Ok(CwlType::Null),
            other => Err(invalid!("not a type: {other}")),
        }
    }

    fn field(&self, f: &Value, depth: usize) -> Result<Field> {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .map(shortname)
            .ok_or_else(|| invalid!("record field without a name"))?;
        Ok(Field {
            ty: self.parse_depth(
                f.get("type")
                    .ok_or_else(|| invalid!("field '{name}' without a type"))?,
                depth + 1,
            )?,
            binding: f.get("inputBinding").map(parse_binding).transpose()?,
            output_binding: f.get("outputBinding").map(parse_output_binding),
            secondary_files: parse_secondary_files(f.get("secondaryFiles")),
            format: f.get("format").cloned(),
            load_contents: bool_field(f, "loadContents"),
            name,
        })
    }

    fn named(&self, s: &str, depth: usize) -> Result<CwlType> {
        if let Some(inner) = s.strip_suffix('?') {
            let t = self.named(inner, depth + 1)?;
            return Ok(CwlType::Union(vec![CwlType::Null, t]));
        }
        if let Some(inner) = s.strip_suffix("[]") {
            return Ok(CwlType::Array(Box::new(ArrayType {
                items: self.named(inner, depth + 1)?,
                binding: None,
            })));
        }
        // Full URIs of the primitive types end in their short name.
        let short = s.rsplit('#').next().unwrap_or(s);
        Ok(match short {
            "null" => CwlType::Null,
            "boolean" => CwlType::Boolean,
            "int" => CwlType::Int,
            "long" => CwlType::Long,
            "float" => CwlType::Float,
            "double" => CwlType::Double,
            "string" => CwlType::String,
            "File" => CwlType::File,
            "Directory" => CwlType::Directory,
            "Any" => CwlType::Any,
            _ => {
                let def = self
                    .defs
                    .get(short)
                    .or_else(|| self.defs.get(&shortname(s)))
                    .ok_or_else(|| invalid!("unknown type '{s}'"))?;
                self.parse_depth(def, depth + 1)?
            }
        })
    }
}

/// Parses a `CommandLineBinding`.
fn parse_binding(v: &Value) -> Result<Binding> {
    let Value::Object(o) = v else {
        return Err(invalid!("inputBinding must be an object"));
    };
    Ok(Binding {
        position: o.get("position").filter(|p| !p.is_null()).cloned(),
        prefix: str_field(o, "prefix"),
        separate: o.get("separate").and_then(Value::as_bool).unwrap_or(true),
        item_separator: str_field(o, "itemSeparator"),
        value_from: o.get("valueFrom").filter(|p| !p.is_null()).cloned(),
        shell_quote: o.get("shellQuote").and_then(Value::as_bool).unwrap_or(true),
        load_contents: bool_field(o, "loadContents"),
    })
}

fn parse_output_binding(v: &Value) -> OutputBinding {
    OutputBinding {
        glob: v.get("glob").filter(|g| !g.is_null()).cloned(),
        load_contents: bool_field(v, "loadContents"),
        load_listing: str_field(v, "loadListing"),
        output_eval: str_field(v, "outputEval"),
    }
}

/// `secondaryFiles` in any of its spellings.
fn parse_secondary_files(v: Option<&Value>) -> Vec<SecondaryFile> {
    let one = |e: &Value| -> Option<SecondaryFile> {
        match e {
            Value::String(s) => Some(match s.strip_suffix('?') {
                Some(p) => SecondaryFile {
                    pattern: p.to_string(),
                    required: Some(Value::Bool(false)),
                },
                None => SecondaryFile {
                    pattern: s.clone(),
                    required: None,
                },
            }),
            Value::Object(o) => Some(SecondaryFile {
                pattern: str_field(o, "pattern")?,
                required: o.get("required").filter(|r| !r.is_null()).cloned(),
            }),
            _ => None,
        }
    };
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(other) => one(other).into_iter().collect(),
        None => vec![],
    }
}

fn parse_input(v: &Value, types: &TypeParser) -> Result<InputParameter> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .map(shortname)
        .ok_or_else(|| invalid!("input without an id"))?;
    let ty = match v.get("type") {
        Some(t) => types.parse(t)?,
        None => return Err(invalid!("input '{id}' has no type")),
    };
    Ok(InputParameter {
        ty,
        binding: v.get("inputBinding").map(parse_binding).transpose()?,
        default: v.get("default").cloned(),
        secondary_files: parse_secondary_files(v.get("secondaryFiles")),
        format: v.get("format").cloned(),
        load_contents: bool_field(v, "loadContents")
            || v.get("inputBinding")
                .is_some_and(|b| bool_field(b, "loadContents")),
        load_listing: str_field(v, "loadListing"),
        texts: texts(v),
        id,
    })
}

fn parse_output(
    v: &Value,
    types: &TypeParser,
    tool: &mut CommandLineTool,
    obj: &Map<String, Value>,
) -> Result<OutputParameter> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .map(shortname)
        .ok_or_else(|| invalid!("output without an id"))?;
    let raw_type = v
        .get("type")
        .ok_or_else(|| invalid!("output '{id}' has no type"))?;
    let mut binding = v.get("outputBinding").map(parse_output_binding);
    // `type: stdout` is a File output globbing the captured stream, whose
    // name is made up when the tool gives none.
    let ty = match raw_type.as_str() {
        Some(stream @ ("stdout" | "stderr")) => {
            let field = if stream == "stdout" {
                "stdout"
            } else {
                "stderr"
            };
            let name = match obj.get(field).and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => {
                    let n = format!("{}-{}", field, random_hex());
                    if stream == "stdout" {
                        tool.stdout = Some(n.clone());
                    } else {
                        tool.stderr = Some(n.clone());
                    }
                    n
                }
            };
            binding = Some(OutputBinding {
                glob: Some(Value::String(name)),
                ..OutputBinding::default()
            });
            CwlType::File
        }
        _ => types.parse(raw_type)?,
    };
    let output_source = match v.get("outputSource") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    Ok(OutputParameter {
        ty,
        binding,
        secondary_files: parse_secondary_files(v.get("secondaryFiles")),
        format: v.get("format").cloned(),
        output_source,
        link_merge: str_field(v, "linkMerge"),
        pick_value: str_field(v, "pickValue"),
        texts: texts(v),
        id,
    })
}

/// `label` and `doc` of a process or parameter; a `doc` list is joined
/// by new lines.
fn texts(v: &Value) -> Texts {
    let doc = match v.get("doc") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(lines)) => Some(
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    };
    Texts {
        label: str_field(v, "label"),
        doc,
    }
}

fn fill_tool(tool: &mut CommandLineTool, obj: &Map<String, Value>) -> Result<()> {
    tool.base_command = match obj.get("baseCommand") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(scalar_string).collect(),
        _ => vec![],
    };
    for a in list(obj.get("arguments")) {
        tool.arguments.push(match a {
            Value::Object(_) => Argument::Bound(parse_binding(a)?),
            other => Argument::Literal(scalar_string(other)),
        });
    }
    if tool.stdin.is_none() {
        tool.stdin = str_field(obj, "stdin");
    }
    if tool.stdout.is_none() {
        tool.stdout = str_field(obj, "stdout");
    }
    if tool.stderr.is_none() {
        tool.stderr = str_field(obj, "stderr");
    }
    let codes =
        |k: &str| -> Vec<i64> { list(obj.get(k)).iter().filter_map(Value::as_i64).collect() };
    tool.success_codes = codes("successCodes");
    if tool.success_codes.is_empty() {
        tool.success_codes = vec![0];
    }
    tool.temporary_fail_codes = codes("temporaryFailCodes");
    tool.permanent_fail_codes = codes("permanentFailCodes");
    Ok(())
}

/// A scalar as the word it stands for on a command line.
fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Eight random hex digits, for made-up file names.
pub fn random_hex() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_forms_become_lists_in_order() {
        let v = parse_text(
            "inputs:\n  z: string\n  a:\n    type: int\n    default: {inputs: {x: 1}}\n",
            Path::new("/tmp/x.cwl"),
            true,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"inputs": [{"id": "z", "type": "string"},
                              {"type": "int", "default": {"inputs": {"x": 1}}, "id": "a"}]})
        );
    }

    #[test]
    fn shorthand_types() {
        let defs = HashMap::new();
        let p = TypeParser { defs: &defs };
        let t = p.parse(&json!("string[]?")).unwrap();
        assert!(t.matches(&json!(null)));
        assert!(t.matches(&json!(["a"])));
        assert!(!t.matches(&json!("a")));
    }

    #[test]
    fn sources() {
        let steps = vec!["rev".to_string()];
        assert_eq!(normalise_source("#main/rev/output", &steps), "rev/output");
        assert_eq!(normalise_source("#main/input", &steps), "input");
        assert_eq!(normalise_source("input", &steps), "input");
        assert_eq!(normalise_source("rev/output", &steps), "rev/output");
    }
}
