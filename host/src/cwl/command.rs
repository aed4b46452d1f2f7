//! Building a CommandLineTool's command line from `baseCommand`,
//! `arguments` and the `inputBinding`s of its inputs.
//!
//! The order is the spec's: every binding gets a sort key, its `position`
//! (default 0) followed by the argument's index or the input's name;
//! numbers sort before strings. Nested bindings (array items, record
//! fields) are sorted the same way inside their parent, so a record's
//! fields stay together behind the record's prefix.

use super::expr::{Evaluator, Scope};
use super::model::{Argument, CommandLineTool, InputParameter};
use super::types::{Binding, CwlType};
use super::{CwlError, Result};
use serde_json::Value;
use std::cmp::Ordering;

/// One word of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text.
    pub text: String,
    /// Whether to quote it when the line goes through a shell
    /// (`shellQuote`, default true).
    pub quote: bool,
}

impl Word {
    fn new(text: impl Into<String>, quote: bool) -> Word {
        Word {
            text: text.into(),
            quote,
        }
    }
}

/// A part of a sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyPart {
    Int(i64),
    Str(String),
}

impl Ord for KeyPart {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (KeyPart::Int(a), KeyPart::Int(b)) => a.cmp(b),
            (KeyPart::Str(a), KeyPart::Str(b)) => a.cmp(b),
            (KeyPart::Int(_), KeyPart::Str(_)) => Ordering::Less,
            (KeyPart::Str(_), KeyPart::Int(_)) => Ordering::Greater,
        }
    }
}
impl PartialOrd for KeyPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What building the command line needs besides the tool.
pub struct CommandContext<'a> {
    /// The expression evaluator of this invocation.
    pub eval: &'a Evaluator,
    /// The (staged) input object.
    pub inputs: &'a Value,
    /// The `runtime` object.
    pub runtime: &'a Value,
}

impl CommandContext<'_> {
    fn scope<'b>(&'b self, self_: &'b Value) -> Scope<'b> {
        Scope {
            inputs: self.inputs,
            self_,
            runtime: self.runtime,
        }
    }

    /// A binding's position: an integer, or an expression giving one
    /// (null means 0).
    fn position(&self, b: Option<&Binding>, self_: &Value) -> Result<i64> {
        let Some(p) = b.and_then(|b| b.position.as_ref()) else {
            return Ok(0);
        };
        let v = self.eval.eval(p, self.scope(self_))?;
        match v {
            Value::Null => Ok(0),
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| CwlError::Expression(format!("position {n} is not an integer"))),
            other => Err(CwlError::Expression(format!(
                "position must be an integer, got {other}"
            ))),
        }
    }
}

/// The full command line: `baseCommand` then the sorted bindings.
pub fn build(
    tool: &CommandLineTool,
    params: &[InputParameter],
    ctx: &CommandContext,
) -> Result<Vec<Word>> {
    let mut keyed: Vec<(Vec<KeyPart>, Vec<Word>)> = Vec::new();
    for (i, arg) in tool.arguments.iter().enumerate() {
        let (binding, words) = match arg {
            Argument::Literal(s) => {
                let b = Binding {
                    value_from: Some(Value::String(s.clone())),
                    separate: true,
                    shell_quote: true,
                    ..Binding::default()
                };
                let words = bind(Some(&b), &CwlType::Any, &Value::Null, ctx, true)?;
                (None, words)
            }
            Argument::Bound(b) => (
                Some(b),
                bind(Some(b), &CwlType::Any, &Value::Null, ctx, true)?,
            ),
        };
        let pos = ctx.position(binding, &Value::Null)?;
        keyed.push((vec![KeyPart::Int(pos), KeyPart::Int(i as i64)], words));
    }
    for p in params {
        let value = ctx.inputs.get(&p.id).unwrap_or(&Value::Null);
        if p.binding.is_none() && !has_nested_bindings(&p.ty) {
            continue;
        }
        if value.is_null() {
            continue;
        }
        // A record input without a binding of its own: its fields' bindings
        // sort among the top-level ones, by their own positions.
        if let (None, Some(CwlType::Record(r)), Value::Object(o)) =
            (&p.binding, p.ty.member_for(value), value)
        {
            for f in &r.fields {
                let fv = o.get(&f.name).unwrap_or(&Value::Null);
                if fv.is_null() || (f.binding.is_none() && !has_nested_bindings(&f.ty)) {
                    continue;
                }
                let pos = ctx.position(f.binding.as_ref(), fv)?;
                let words = bind(f.binding.as_ref(), &f.ty, fv, ctx, false)?;
                keyed.push((vec![KeyPart::Int(pos), KeyPart::Str(f.name.clone())], words));
            }
            continue;
        }
        let pos = ctx.position(p.binding.as_ref(), value)?;
        let words = bind(p.binding.as_ref(), &p.ty, value, ctx, false)?;
        keyed.push((vec![KeyPart::Int(pos), KeyPart::Str(p.id.clone())], words));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut line: Vec<Word> = tool
        .base_command
        .iter()
        .map(|c| Word::new(c.clone(), true))
        .collect();
    line.extend(keyed.into_iter().flat_map(|(_, w)| w));
    Ok(line)
}

/// Whether bindings hide inside a type (record fields, array items).
fn has_nested_bindings(t: &CwlType) -> bool {
    match t {
        CwlType::Array(a) => a.binding.is_some() || has_nested_bindings(&a.items),
        CwlType::Record(r) => r
            .fields
            .iter()
            .any(|f| f.binding.is_some() || has_nested_bindings(&f.ty)),
        CwlType::Enum(e) => e.binding.is_some(),
        CwlType::Union(ts) => ts.iter().any(has_nested_bindings),
        _ => false,
    }
}

/// The words for one value under an optional binding, then the words of
/// the bindings nested in its type. `argument` evaluates `valueFrom` even
/// though there is no value (arguments have none).
fn bind(
    binding: Option<&Binding>,
    ty: &CwlType,
    value: &Value,
    ctx: &CommandContext,
    argument: bool,
) -> Result<Vec<Word>> {
    if value.is_null() && !argument {
        return Ok(vec![]);
    }
    let ty = ty.member_for(value).unwrap_or(ty);
    let mut words = Vec::new();
    if let Some(b) = binding {
        if let Some(vf) = &b.value_from {
            let v = ctx.eval.eval(vf, ctx.scope(value))?;
            return generate(b, &v, true);
        }
        words = generate(b, value, false)?;
    }
    match (ty, value) {
        (CwlType::Array(a), Value::Array(items)) => {
            // A bound array without itemSeparator binds each item, with the
            // array schema's own binding or an empty one.
            let implicit = Binding {
                separate: true,
                shell_quote: binding.is_none_or(|b| b.shell_quote),
                ..Binding::default()
            };
            let item_binding = match (&a.binding, binding) {
                (Some(ab), _) => Some(ab),
                (None, Some(b)) if b.item_separator.is_none() => Some(&implicit),
                _ => None,
            };
            for item in items {
                words.extend(bind(item_binding, &a.items, item, ctx, false)?);
            }
        }
        (CwlType::Record(r), Value::Object(o)) => {
            let mut keyed = Vec::new();
            for f in &r.fields {
                let fv = o.get(&f.name).unwrap_or(&Value::Null);
                if fv.is_null() || (f.binding.is_none() && !has_nested_bindings(&f.ty)) {
                    continue;
                }
                let pos = ctx.position(f.binding.as_ref(), fv)?;
                let w = bind(f.binding.as_ref(), &f.ty, fv, ctx, false)?;
                keyed.push(((pos, f.name.clone()), w));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            words.extend(keyed.into_iter().flat_map(|(_, w)| w));
        }
        (CwlType::Enum(e), Value::String(_)) if binding.is_none() => {
            if let Some(eb) = &e.binding {
                words.extend(generate(eb, value, false)?);
            }
        }
        _ => {}
    }
    Ok(words)
}

/// The words a binding makes of a value (cwltool's `generate_arg`).
fn generate(b: &Binding, value: &Value, from_value_from: bool) -> Result<Vec<Word>> {
    let q = b.shell_quote;
    let prefix = b.prefix.as_deref();
    let mut items: Vec<String> = Vec::new();
    match value {
        Value::Array(a) => {
            if let (Some(sep), false) = (&b.item_separator, a.is_empty()) {
                let joined = a.iter().map(to_word).collect::<Result<Vec<_>>>()?.join(sep);
                items.push(joined);
            } else if from_value_from {
                let mut out: Vec<Word> = prefix.map(|p| Word::new(p, q)).into_iter().collect();
                for v in a {
                    out.push(Word::new(to_word(v)?, q));
                }
                return Ok(out);
            } else {
                return Ok(match (prefix, a.is_empty()) {
                    (Some(p), false) => vec![Word::new(p, q)],
                    _ => vec![],
                });
            }
        }
        Value::Object(o)
            if matches!(
                o.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) =>
        {
            items.push(to_word(value)?)
        }
        Value::Object(_) => return Ok(prefix.map(|p| vec![Word::new(p, q)]).unwrap_or_default()),
        Value::Bool(true) => return Ok(prefix.map(|p| vec![Word::new(p, q)]).unwrap_or_default()),
        Value::Bool(false) | Value::Null => return Ok(vec![]),
        other => items.push(to_word(other)?),
    }
    let mut out = Vec::new();
    for s in items {
        match prefix {
            Some(p) if b.separate => {
                out.push(Word::new(p, q));
                out.push(Word::new(s, q));
            }
            Some(p) => out.push(Word::new(format!("{p}{s}"), q)),
            None => out.push(Word::new(s, q)),
        }
    }
    Ok(out)
}

/// A value as one command line word: Files by path, numbers without
/// exponent notation.
pub fn to_word(v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(format_number(n)),
        Value::Object(o) if o.contains_key("class") => o
            .get("path")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                CwlError::InvalidValue(format!("File or Directory without a path: {v}"))
            }),
        other => Ok(other.to_string()),
    }
}

/// Numbers as CWL runners print them: integers as they are, floats in
/// plain decimal notation (`0.0000123`, not `1.23e-05`).
pub fn format_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        // Rust's Display for f64 never uses an exponent and is the
        // shortest representation that round-trips.
        format!("{f}")
    } else {
        n.to_string()
    }
}

/// Quotes a word for `/bin/sh` when it holds anything but safe characters.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cwl::js::JsLimits;
    use crate::cwl::types::{ArrayType, Field, RecordType};
    use serde_json::json;

    fn evaluator() -> Evaluator {
        Evaluator {
            javascript: false,
            library: vec![],
            limits: JsLimits::default(),
        }
    }

    fn param(id: &str, ty: CwlType, binding: Option<Binding>) -> InputParameter {
        InputParameter {
            id: id.into(),
            ty,
            binding,
            default: None,
            secondary_files: vec![],
            format: None,
            load_contents: false,
            load_listing: None,
            texts: Default::default(),
        }
    }

    fn at(pos: i64, prefix: Option<&str>) -> Binding {
        Binding {
            position: Some(json!(pos)),
            prefix: prefix.map(str::to_string),
            separate: true,
            shell_quote: true,
            ..Binding::default()
        }
    }

    fn texts(words: Vec<Word>) -> Vec<String> {
        words.into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn order_follows_position_then_index_or_name() {
        // Mirrors the conformance test cl_basic_generation.
        let tool = CommandLineTool {
            base_command: vec!["python".into()],
            arguments: vec![
                Argument::Literal("bwa".into()),
                Argument::Literal("mem".into()),
                Argument::Bound(Binding {
                    value_from: Some(json!("$(runtime.cores)")),
                    ..at(1, Some("-t"))
                }),
            ],
            ..CommandLineTool::default()
        };
        let ints = CwlType::Array(Box::new(ArrayType {
            items: CwlType::Int,
            binding: None,
        }));
        let files = CwlType::Array(Box::new(ArrayType {
            items: CwlType::File,
            binding: None,
        }));
        let params = vec![
            param("reference", CwlType::File, Some(at(2, None))),
            param("reads", files, Some(at(3, None))),
            param("minimum_seed_length", CwlType::Int, Some(at(1, Some("-m")))),
            param(
                "min_std_max_min",
                ints,
                Some(Binding {
                    item_separator: Some(",".into()),
                    ..at(1, Some("-I"))
                }),
            ),
            param("args.py", CwlType::File, Some(at(-1, None))),
        ];
        let inputs = json!({
            "reference": {"class": "File", "path": "chr20.fa"},
            "reads": [{"class": "File", "path": "r1.fq"}, {"class": "File", "path": "r2.fq"}],
            "minimum_seed_length": 3,
            "min_std_max_min": [1, 2, 3, 4],
            "args.py": {"class": "File", "path": "args.py"},
        });
        let ev = evaluator();
        let ctx = CommandContext {
            eval: &ev,
            inputs: &inputs,
            runtime: &json!({"cores": 2}),
        };
        assert_eq!(
            texts(build(&tool, &params, &ctx).unwrap()),
            [
                "python", "args.py", "bwa", "mem", "-t", "2", "-I", "1,2,3,4", "-m", "3",
                "chr20.fa", "r1.fq", "r2.fq"
            ]
        );
    }

    #[test]
    fn record_fields_stay_behind_their_prefix() {
        let rec = |a: &str, pa: i64, b: &str, pb: i64| {
            CwlType::Record(Box::new(RecordType {
                name: None,
                fields: [(a, pa), (b, pb)]
                    .into_iter()
                    .map(|(n, p)| Field {
                        name: n.into(),
                        ty: CwlType::Int,
                        binding: Some(at(p, Some(&format!("-{n}")))),
                        output_binding: None,
                        secondary_files: vec![],
                        format: None,
                        load_contents: false,
                    })
                    .collect(),
            }))
        };
        let params = vec![
            param("a", rec("b", 1, "c", 3), Some(at(5, Some("-a")))),
            param("d", rec("e", 2, "f", 4), Some(at(6, Some("-d")))),
        ];
        let inputs = json!({"a": {"b": 1, "c": 3}, "d": {"e": 2, "f": 4}});
        let ev = evaluator();
        let ctx = CommandContext {
            eval: &ev,
            inputs: &inputs,
            runtime: &json!({}),
        };
        let line = build(&CommandLineTool::default(), &params, &ctx).unwrap();
        assert_eq!(
            texts(line),
            ["-a", "-b", "1", "-c", "3", "-d", "-e", "2", "-f", "4"]
        );
    }

    #[test]
    fn arrays_booleans_and_nulls() {
        let strs = CwlType::Array(Box::new(ArrayType {
            items: CwlType::String,
            binding: Some(Binding {
                prefix: Some("-Y".into()),
                separate: true,
                shell_quote: true,
                ..Binding::default()
            }),
        }));
        let params = vec![
            param("flag", CwlType::Boolean, Some(at(1, Some("-f")))),
            param("off", CwlType::Boolean, Some(at(1, Some("-o")))),
            param(
                "none",
                CwlType::Union(vec![CwlType::Null, CwlType::String]),
                Some(at(1, Some("-n"))),
            ),
            param("items", strs, Some(at(2, Some("-X")))),
            param(
                "empty",
                CwlType::Array(Box::new(ArrayType {
                    items: CwlType::String,
                    binding: None,
                })),
                Some(at(3, Some("-E"))),
            ),
            param(
                "joined",
                CwlType::String,
                Some(Binding {
                    separate: false,
                    ..at(4, Some("--j="))
                }),
            ),
        ];
        let inputs = json!({"flag": true, "off": false, "none": null, "items": ["a", "b"], "empty": [], "joined": "v"});
        let ev = evaluator();
        let ctx = CommandContext {
            eval: &ev,
            inputs: &inputs,
            runtime: &json!({}),
        };
        let line = build(&CommandLineTool::default(), &params, &ctx).unwrap();
        assert_eq!(texts(line), ["-f", "-X", "-Y", "a", "-Y", "b", "--j=v"]);
    }

    #[test]
    fn numbers_and_quoting() {
        assert_eq!(to_word(&json!(0.00001)).unwrap(), "0.00001");
        assert_eq!(to_word(&json!(1.23e-5)).unwrap(), "0.0000123");
        assert_eq!(to_word(&json!(123000.0)).unwrap(), "123000");
        assert_eq!(shell_quote("a b'c"), "'a b'\"'\"'c'");
        assert_eq!(shell_quote("plain/path.txt"), "plain/path.txt");
    }
}
