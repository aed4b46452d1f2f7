//! Collecting a CommandLineTool's outputs from its output directory:
//! `cwl.output.json` when the tool wrote one, else each output's
//! `outputBinding` (glob, loadContents, outputEval), secondary files and
//! format.

use super::expr::{Evaluator, Scope};
use super::files::{self, Listing};
use super::model::{OutputBinding, Process};
use super::types::{CwlType, SecondaryFile};
use super::{fail, CwlError, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// What output collection needs to know about the invocation.
struct Collector<'a> {
    process: &'a Process,
    eval: &'a Evaluator,
    inputs: &'a Value,
    runtime: &'a Value,
    outdir: &'a Path,
    /// Files placed in the working directory from elsewhere
    /// (`InitialWorkDirRequirement`): outputs may link to them.
    placed: &'a [PathBuf],
}

/// The output object of a finished CommandLineTool run in `outdir`.
pub(crate) fn collect(
    process: &Process,
    eval: &Evaluator,
    inputs: &Value,
    runtime: &Value,
    outdir: &Path,
    placed: &[PathBuf],
) -> Result<Map<String, Value>> {
    let custom = outdir.join("cwl.output.json");
    if custom.is_file() {
        let text = std::fs::read_to_string(&custom)?;
        // Through the YAML reader: JSON is YAML, and it parses big numbers
        // exactly where serde_json's fast path rounds them.
        let mut v = super::load::parse_text(&text, &custom, false)
            .map_err(|e| fail!("cwl.output.json is not JSON: {e}"))?;
        files::normalize(&mut v, outdir)?;
        let Value::Object(mut m) = v else {
            return Err(fail!("cwl.output.json is not an object"));
        };
        let mut out = Map::new();
        for o in &process.outputs {
            out.insert(o.id.clone(), m.remove(&o.id).unwrap_or(Value::Null));
        }
        return Ok(out);
    }
    let c = Collector {
        process,
        eval,
        inputs,
        runtime,
        outdir,
        placed,
    };
    let mut out = Map::new();
    for o in &process.outputs {
        let v = c.collect(
            &o.ty,
            o.binding.as_ref(),
            &o.secondary_files,
            o.format.as_ref(),
        )?;
        out.insert(o.id.clone(), v);
    }
    Ok(out)
}

impl Collector<'_> {
    fn scope<'b>(&'b self, self_: &'b Value) -> Scope<'b> {
        Scope {
            inputs: self.inputs,
            self_,
            runtime: self.runtime,
        }
    }

    fn collect(
        &self,
        ty: &CwlType,
        binding: Option<&OutputBinding>,
        secondary: &[SecondaryFile],
        format: Option<&Value>,
    ) -> Result<Value> {
        let Some(b) = binding else {
            // A record whose fields carry their own outputBindings.
            if let Some(CwlType::Record(r)) = non_null(ty) {
                if r.fields.iter().any(|f| f.output_binding.is_some()) {
                    let mut m = Map::new();
                    for f in &r.fields {
                        let v = self.collect(
                            &f.ty,
                            f.output_binding.as_ref(),
                            &f.secondary_files,
                            f.format.as_ref(),
                        )?;
                        m.insert(f.name.clone(), v);
                    }
                    return Ok(Value::Object(m));
                }
            }
            return Ok(Value::Null);
        };
        let mut matched: Vec<Value> = Vec::new();
        if let Some(glob) = &b.glob {
            let patterns = match self.eval.eval(glob, self.scope(&Value::Null))? {
                Value::String(s) => vec![s],
                Value::Array(a) => a
                    .into_iter()
                    .map(|p| match p {
                        Value::String(s) => Ok(s),
                        other => Err(CwlError::Expression(format!(
                            "glob gave {other}, not a string"
                        ))),
                    })
                    .collect::<Result<_>>()?,
                Value::Null => vec![],
                other => {
                    return Err(CwlError::Expression(format!(
                        "glob gave {other}, not a string"
                    )))
                }
            };
            let listing = Listing::parse(b.load_listing.as_deref()).unwrap_or(Listing::None);
            for p in patterns {
                for path in self.glob(&p)? {
                    self.check_symlink(&path)?;
                    let mut v = files::describe_path(&path, false)?;
                    if path.is_dir() && listing != Listing::None {
                        v["listing"] = Value::Array(files::list_dir(&path, listing, false)?);
                    } else if b.load_contents && !path.is_dir() {
                        v["contents"] = Value::String(files::read_contents(&path)?);
                    }
                    matched.push(v);
                }
            }
        }
        let mut value = match &b.output_eval {
            Some(e) => {
                let self_ = Value::Array(matched);
                let mut v = self.eval.eval_str(e, self.scope(&self_))?;
                // Files made up by the expression may give just a path.
                files::normalize(&mut v, self.outdir)?;
                v
            }
            None => {
                let single = matches!(non_null(ty), Some(CwlType::File | CwlType::Directory));
                if single {
                    match matched.len() {
                        0 => Value::Null,
                        1 => matched.pop().unwrap_or(Value::Null),
                        n => {
                            return Err(fail!(
                                "{n} files match the glob of an output of type {}",
                                ty.describe()
                            ))
                        }
                    }
                } else if b.glob.is_some() {
                    Value::Array(matched)
                } else {
                    Value::Null
                }
            }
        };
        if !secondary.is_empty() || format.is_some() {
            self.decorate(&mut value, secondary, format)?;
        }
        Ok(value)
    }

    /// A matched path may be a symlink only to something inside the output
    /// directory or to one of the inputs: a tool must not smuggle out
    /// other files of the machine it ran on.
    fn check_symlink(&self, path: &Path) -> Result<()> {
        let Ok(target) = std::fs::canonicalize(path) else {
            return Err(fail!("{} is a dangling symlink", path.display()));
        };
        let outdir =
            std::fs::canonicalize(self.outdir).unwrap_or_else(|_| self.outdir.to_path_buf());
        if target.starts_with(&outdir) {
            return Ok(());
        }
        let mut allowed = self
            .placed
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .any(|real| target.starts_with(real));
        let mut inputs = self.inputs.clone();
        files::for_each_entry_mut(&mut inputs, &mut |o| {
            if let Some(p) = o.get("path").and_then(Value::as_str) {
                if let Ok(real) = std::fs::canonicalize(p) {
                    allowed |= target.starts_with(real);
                }
            }
            Ok(())
        })?;
        if allowed {
            Ok(())
        } else {
            Err(fail!(
                "output {} links to {}, outside the output directory",
                path.display(),
                target.display()
            ))
        }
    }

    /// Matches one glob pattern inside the output directory, sorted.
    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>> {
        let outdir = self.outdir.to_string_lossy();
        let rel = if let Some(rest) = pattern.strip_prefix(outdir.as_ref()) {
            rest.trim_start_matches('/').to_string()
        } else if Path::new(pattern).is_absolute() {
            return Err(fail!(
                "glob '{pattern}' points outside the output directory"
            ));
        } else {
            pattern.to_string()
        };
        let rel = rel.trim_start_matches("./");
        if rel.is_empty() || rel == "." {
            return Ok(vec![self.outdir.to_path_buf()]);
        }
        let full = format!("{}/{}", glob::Pattern::escape(&outdir), rel);
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let mut out: Vec<PathBuf> = glob::glob_with(&full, options)
            .map_err(|e| CwlError::Expression(format!("bad glob '{pattern}': {e}")))?
            .filter_map(|r| r.ok())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Adds secondary files and the format to every File in `value`.
    fn decorate(
        &self,
        value: &mut Value,
        secondary: &[SecondaryFile],
        format: Option<&Value>,
    ) -> Result<()> {
        match value {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|v| self.decorate(v, secondary, format)),
            Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("File") => {
                let me = Value::Object(o.clone());
                if let Some(f) = format {
                    let fv = self.eval.eval(f, self.scope(&me))?;
                    if let Value::String(s) = fv {
                        o.insert(
                            "format".into(),
                            Value::String(expand_format(&s, self.process)),
                        );
                    }
                }
                let dir = o
                    .get("path")
                    .and_then(Value::as_str)
                    .and_then(|p| Path::new(p).parent().map(Path::to_path_buf));
                let Some(dir) = dir else { return Ok(()) };
                let mut found = Vec::new();
                for sf in secondary {
                    let required = match &sf.required {
                        Some(r) => self
                            .eval
                            .eval(r, self.scope(&me))?
                            .as_bool()
                            .unwrap_or(false),
                        None => false,
                    };
                    for name in secondary_names(self.eval, sf, &me, self.scope(&me))? {
                        match name {
                            Value::String(n) => {
                                let p = dir.join(&n);
                                if p.exists() {
                                    found.push(files::describe_path(&p, false)?);
                                } else if required {
                                    return Err(fail!(
                                        "required secondary file {} is missing",
                                        p.display()
                                    ));
                                }
                            }
                            mut obj @ Value::Object(_) => {
                                files::normalize(&mut obj, &dir)?;
                                if obj
                                    .get("path")
                                    .and_then(Value::as_str)
                                    .is_some_and(|p| Path::new(p).exists())
                                {
                                    found.push(obj);
                                } else if required {
                                    return Err(fail!("required secondary file {obj} is missing"));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if !found.is_empty() {
                    o.insert("secondaryFiles".into(), Value::Array(found));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The names (or objects) a secondary file pattern gives for a primary.
pub(crate) fn secondary_names(
    eval: &Evaluator,
    sf: &SecondaryFile,
    primary: &Value,
    scope: Scope,
) -> Result<Vec<Value>> {
    let basename = primary
        .get("basename")
        .and_then(Value::as_str)
        .unwrap_or("");
    if super::expr::has_expression(&sf.pattern) {
        let scope = Scope {
            self_: primary,
            ..scope
        };
        return Ok(match eval.eval_str(&sf.pattern, scope)? {
            Value::Array(a) => a,
            Value::Null => vec![],
            other => vec![other],
        });
    }
    Ok(vec![Value::String(files::secondary_name(
        basename,
        &sf.pattern,
    ))])
}

/// The non-null member of an optional type (`File?` is File).
fn non_null(ty: &CwlType) -> Option<&CwlType> {
    match ty {
        CwlType::Union(ts) => {
            let mut it = ts.iter().filter(|t| **t != CwlType::Null);
            match (it.next(), it.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        }
        other => Some(other),
    }
}

/// Expands a `prefix:name` format with the document's `$namespaces`.
pub fn expand_format(format: &str, process: &Process) -> String {
    if let Some((prefix, rest)) = format.split_once(':') {
        if let Some(ns) = process.namespaces.get(prefix) {
            return format!("{ns}{rest}");
        }
    }
    format.to_string()
}
