//! CWL expressions: parameter references `$(inputs.x.path)` everywhere, and
//! JavaScript `$(...)`/`${...}` under `InlineJavascriptRequirement`.
//!
//! Interpolation follows the reference runner (cwltool): the string is
//! trimmed; a string that is exactly one expression yields the expression's
//! value (any JSON type); otherwise each expression's value is spliced in,
//! strings raw and everything else as (Python-style) JSON. `\$(` is a
//! literal `$(`, `\\` a single backslash.

use super::js::{self, Code, JsLimits};
use super::model::Effective;
use super::{CwlError, Result};
use serde_json::Value;

/// What an expression can see.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The process's input object.
    pub inputs: &'a Value,
    /// The value the expression is about (`self`).
    pub self_: &'a Value,
    /// `runtime`: outdir, tmpdir, cores, ram, ... (exitCode in outputEval).
    pub runtime: &'a Value,
}

/// Evaluates expressions for one process invocation.
#[derive(Debug, Clone)]
pub struct Evaluator {
    /// Whether `InlineJavascriptRequirement` is in force.
    pub javascript: bool,
    /// Its `expressionLib`, run before every expression.
    pub library: Vec<String>,
    /// Budget of each JavaScript evaluation.
    pub limits: JsLimits,
}

/// Whether a string holds something to evaluate.
pub fn has_expression(s: &str) -> bool {
    s.contains("$(") || s.contains("${")
}

impl Evaluator {
    /// The evaluator the requirements in force call for.
    pub fn new(effective: &Effective, limits: JsLimits) -> Evaluator {
        let js = effective
            .requirement("InlineJavascriptRequirement")
            .or_else(|| {
                // A hint is enough for us to provide it: it only adds features.
                super::model::find_class(&effective.hints, "InlineJavascriptRequirement")
            });
        let library = js
            .and_then(|r| r.get("expressionLib"))
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Evaluator {
            javascript: js.is_some(),
            library,
            limits,
        }
    }

    /// Evaluates a JSON value: strings are interpolated, the rest is
    /// returned as it is.
    pub fn eval(&self, v: &Value, scope: Scope) -> Result<Value> {
        match v {
            Value::String(s) => self.eval_str(s, scope),
            other => Ok(other.clone()),
        }
    }

    /// Interpolates a string (trimmed first, as runners do).
    pub fn eval_str(&self, s: &str, scope: Scope) -> Result<Value> {
        self.interpolate(s, scope, true)
    }

    /// Interpolates a string keeping its surrounding whitespace (file
    /// contents in `InitialWorkDirRequirement`).
    pub fn eval_str_untrimmed(&self, s: &str, scope: Scope) -> Result<Value> {
        self.interpolate(s, scope, false)
    }

    fn interpolate(&self, s: &str, scope: Scope, trim: bool) -> Result<Value> {
        if !has_expression(s) {
            return Ok(Value::String(s.to_string()));
        }
        let text = if trim { s.trim() } else { s };
        let segments = scan(text)?;
        if let [Segment::Expr(code)] = segments.as_slice() {
            return self.eval_code(*code, scope);
        }
        let mut out = String::new();
        for seg in segments {
            match seg {
                Segment::Text(t) => out.push_str(&t),
                Segment::Expr(code) => match self.eval_code(code, scope)? {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&python_json(&other)),
                },
            }
        }
        Ok(Value::String(out))
    }

    /// Interpolates a string that must come out as a string (file names,
    /// environment values); numbers are accepted and printed.
    pub fn eval_to_string(&self, s: &str, scope: Scope) -> Result<String> {
        match self.eval_str(s, scope)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(CwlError::Expression(format!(
                "'{s}' should give a string, gave {other}"
            ))),
        }
    }

    fn eval_code(&self, code: Code, scope: Scope) -> Result<Value> {
        if self.javascript {
            return js::eval(
                code,
                &self.library,
                scope.inputs,
                scope.self_,
                scope.runtime,
                &self.limits,
            );
        }
        match code {
            Code::Expression(e) => parameter_reference(e, scope),
            Code::Body(b) => Err(CwlError::Expression(format!(
                "'${{{b}}}' needs InlineJavascriptRequirement"
            ))),
        }
    }
}

/// A piece of an interpolated string.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Text(String),
    Expr(Code<'a>),
}

/// Splits a string into text and `$(...)`/`${...}` code, matching nested
/// brackets and skipping quoted strings inside the code.
fn scan(s: &str) -> Result<Vec<Segment<'_>>> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < bytes.len() {
            let next = bytes[i + 1];
            if next == b'\\' {
                text.push('\\');
                i += 2;
                continue;
            }
            if next == b'$' && matches!(bytes.get(i + 2), Some(b'(') | Some(b'{')) {
                text.push('$');
                text.push(bytes[i + 2] as char);
                i += 3;
                continue;
            }
            text.push('\\');
            i += 1;
            continue;
        }
        if c == b'$' && matches!(bytes.get(i + 1), Some(b'(') | Some(b'{')) {
            let (open, close) = if bytes[i + 1] == b'(' {
                (b'(', b')')
            } else {
                (b'{', b'}')
            };
            let start = i + 2;
            let mut depth = 1;
            let mut j = start;
            let mut quote: Option<u8> = None;
            while j < bytes.len() {
                let d = bytes[j];
                match quote {
                    Some(q) => {
                        if d == b'\\' {
                            j += 1;
                        } else if d == q {
                            quote = None;
                        }
                    }
                    None => {
                        if d == b'\'' || d == b'"' {
                            quote = Some(d);
                        } else if d == open {
                            depth += 1;
                        } else if d == close {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                }
                j += 1;
            }
            if depth != 0 {
                return Err(CwlError::Expression(format!(
                    "unterminated expression in '{s}'"
                )));
            }
            if !text.is_empty() {
                out.push(Segment::Text(std::mem::take(&mut text)));
            }
            let code = &s[start..j];
            out.push(Segment::Expr(if open == b'(' {
                Code::Expression(code)
            } else {
                Code::Body(code)
            }));
            i = j + 1;
            continue;
        }
        // Push the whole UTF-8 character.
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        text.push(ch);
        i += ch.len_utf8();
    }
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
    Ok(out)
}

/// Evaluates a parameter reference (`inputs.x['y'][0].length`) without
/// JavaScript.
fn parameter_reference(code: &str, scope: Scope) -> Result<Value> {
    let code = code.trim();
    let bad = || CwlError::Expression(format!("syntax error in parameter reference '$({code})'"));
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let root_len = code.find(|c: char| !is_word(c)).unwrap_or(code.len());
    let root = &code[..root_len];
    let mut current: Value = match root {
        "inputs" => scope.inputs.clone(),
        "self" => scope.self_.clone(),
        "runtime" => scope.runtime.clone(),
        "null" if root_len == code.len() => return Ok(Value::Null),
        "" => return Err(bad()),
        other => {
            return Err(CwlError::Expression(format!(
                "'{other}' is not defined in '$({code})'"
            )))
        }
    };
    let mut rest = &code[root_len..];
    let mut path = root.to_string();
    while !rest.is_empty() {
        enum Key {
            Name(String),
            Index(usize),
        }
        let (key, consumed) = if let Some(r) = rest.strip_prefix('.') {
            let n = r.find(|c: char| !is_word(c)).unwrap_or(r.len());
            if n == 0 {
                return Err(bad());
            }
            (Key::Name(r[..n].to_string()), n + 1)
        } else if let Some(r) = rest.strip_prefix('[') {
            match r.chars().next() {
                Some(q @ ('\'' | '"')) => {
                    // Find the closing quote, honouring backslash escapes.
                    let mut key = String::new();
                    let mut chars = r[1..].char_indices();
                    let mut end = None;
                    while let Some((idx, ch)) = chars.next() {
                        if ch == '\\' {
                            if let Some((_, esc)) = chars.next() {
                                key.push(esc);
                            }
                        } else if ch == q {
                            end = Some(idx);
                            break;
                        } else {
                            key.push(ch);
                        }
                    }
                    let end = end.ok_or_else(bad)?;
                    let after = &r[1 + end + 1..];
                    if !after.starts_with(']') {
                        return Err(bad());
                    }
                    (Key::Name(key), 1 + 1 + end + 1 + 1)
                }
                _ => {
                    let close = r.find(']').ok_or_else(bad)?;
                    let idx: usize = r[..close].trim().parse().map_err(|_| bad())?;
                    (Key::Index(idx), close + 2)
                }
            }
        } else {
            return Err(bad());
        };
        let remaining = &rest[consumed..];
        current = match key {
            Key::Name(name) => match &current {
                Value::Array(a) if name == "length" && remaining.is_empty() => Value::from(a.len()),
                Value::Object(o) => o.get(&name).cloned().ok_or_else(|| {
                    CwlError::Expression(format!("{path} does not contain key '{name}'"))
                })?,
                other => {
                    return Err(CwlError::Expression(format!(
                        "{path} is {}, cannot index on string '{name}'",
                        kind(other)
                    )))
                }
            },
            Key::Index(i) => match &current {
                Value::Array(a) => a.get(i).cloned().ok_or_else(|| {
                    CwlError::Expression(format!("{path} list index {i} out of range"))
                })?,
                other => {
                    return Err(CwlError::Expression(format!(
                        "{path} is {}, cannot index on int {i}",
                        kind(other)
                    )))
                }
            },
        };
        path.push_str(&rest[..consumed]);
        rest = remaining;
    }
    Ok(current)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON as Python's `json.dumps(v, sort_keys=True)` writes it, which is
/// what CWL runners splice into strings (`{"a": 1, "b": [1, 2]}`), except
/// that floats are written without exponent, as the reference runner's
/// YAML round trip does (`1e42` becomes `1000...000`).
pub fn python_json(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            format!(
                "{{{}}}",
                keys.iter()
                    .map(|k| format!("{}: {}", Value::String((*k).clone()), python_json(&o[*k])))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Value::Number(n) => super::command::format_number(n),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain() -> Evaluator {
        Evaluator {
            javascript: false,
            library: vec![],
            limits: JsLimits::default(),
        }
    }

    #[test]
    fn parameter_references() {
        let inputs = json!({"bar": {"baz": "zab1", "b'az": true, "buz": ["a", "b"], "b az": 2}});
        let s = Scope {
            inputs: &inputs,
            self_: &json!(null),
            runtime: &json!({}),
        };
        let e = plain();
        assert_eq!(e.eval_str("$(inputs.bar.baz)", s).unwrap(), json!("zab1"));
        assert_eq!(
            e.eval_str("$(inputs['bar'][\"baz\"])", s).unwrap(),
            json!("zab1")
        );
        assert_eq!(
            e.eval_str("$(inputs.bar['b\\'az'])", s).unwrap(),
            json!(true)
        );
        assert_eq!(e.eval_str("$(inputs.bar['b az'])", s).unwrap(), json!(2));
        assert_eq!(e.eval_str("$(inputs.bar.buz.length)", s).unwrap(), json!(2));
        assert_eq!(
            e.eval_str("$(inputs.bar.buz[1]) $(inputs.bar.buz[1])", s)
                .unwrap(),
            json!("b b")
        );
        assert_eq!(
            e.eval_str("-$(inputs.bar.buz)", s).unwrap(),
            json!("-[\"a\", \"b\"]")
        );
        assert_eq!(e.eval_str("$(null)", s).unwrap(), json!(null));
        assert_eq!(
            e.eval_str("\\$(inputs.bar)", s).unwrap(),
            json!("$(inputs.bar)")
        );
        assert!(e.eval_str("$(inputs.bar.baz.nope)", s).is_err());
        assert!(e.eval_str("$(inputs.nope)", s).is_err());
        assert!(e.eval_str("$(inputs.bar.length)", s).is_err());
        assert!(e.eval_str("${return 1;}", s).is_err());
    }

    #[test]
    fn javascript_interpolation() {
        let inputs = json!({"n": 3});
        let s = Scope {
            inputs: &inputs,
            self_: &json!([1, 2]),
            runtime: &json!({}),
        };
        let e = Evaluator {
            javascript: true,
            ..plain()
        };
        assert_eq!(e.eval_str("$(inputs.n * 2)", s).unwrap(), json!(6));
        assert_eq!(
            e.eval_str("n=$(inputs.n) m=${return self.length;}", s)
                .unwrap(),
            json!("n=3 m=2")
        );
        assert_eq!(e.eval_str("$({'a': (1)})", s).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn python_style_json() {
        assert_eq!(
            python_json(&json!({"b": [1, "x"], "a": null})),
            r#"{"a": null, "b": [1, "x"]}"#
        );
    }
}
