//! Test support: validating JSON documents against the official OGC API -
//! Processes schemas on disk (`shared/ogc`, next to the repository).
//!
//! Used by the unit tests of `wades::ogc` (as a dev-dependency) and by the
//! end-to-end tests, which validate the server's real HTTP responses.
//!
//! The schemas are YAML and the workspace has no YAML parser, so this holds a
//! small one for the subset the OGC files use (block maps and sequences,
//! quoted and plain scalars, flow collections, block scalars). The ignored
//! test `yaml_subset_matches_pyyaml` cross-checks it against PyYAML when
//! python3 and PyYAML are around.

use serde_json::{json, Map, Number, Value};
use std::path::{Path, PathBuf};

/// Folder of the OGC API - Processes 1.0 OpenAPI building blocks.
pub const OGC_1_0: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/ogc/openapi-1.0"
);
/// Folder of the OGC API - Processes 2.0 draft building blocks.
pub const OGC_2_0: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/ogc/openapi-2.0-draft"
);

/// Parses the YAML subset the OGC schema files are written in.
pub fn yaml_to_json(text: &str) -> Value {
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| l.trim() != "---")
        .collect();
    let mut p = Yaml { lines, pos: 0 };
    p.skip_blank();
    if p.pos >= p.lines.len() {
        return Value::Null;
    }
    let ind = indent(&p.lines[p.pos]);
    p.node(ind)
}

struct Yaml {
    lines: Vec<String>,
    pos: usize,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Drops a trailing ` # comment` outside quotes and flow brackets.
fn strip_comment(s: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && (prev == ' ' || prev == '\t' || i == 0) => {
                return s[..i].trim_end();
            }
            _ => {}
        }
        prev = c;
    }
    s.trim_end()
}

/// Splits `key: rest` when the line is a mapping entry.
fn split_key(content: &str) -> Option<(String, &str)> {
    if content.starts_with('"') || content.starts_with('\'') {
        let q = content.chars().next().unwrap();
        let end = content[1..].find(q)? + 1;
        let after = &content[end + 1..];
        let after_trim = after.trim_start();
        let rest = after_trim.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let key = scalar(&content[..=end]);
        return Some((key.as_str().unwrap_or_default().to_string(), rest.trim()));
    }
    if content.starts_with('[') || content.starts_with('{') || content.starts_with('#') {
        return None;
    }
    let bytes = content.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
            return Some((content[..i].trim().to_string(), content[i + 1..].trim()));
        }
        if bytes[i] == b' ' && i + 1 < bytes.len() && bytes[i + 1] == b'#' {
            return None;
        }
    }
    None
}

impl Yaml {
    fn skip_blank(&mut self) {
        while self.pos < self.lines.len() && is_blank(&self.lines[self.pos]) {
            self.pos += 1;
        }
    }

    /// The block node starting at the current line, which is indented `ind`.
    fn node(&mut self, ind: usize) -> Value {
        self.skip_blank();
        let content = self.lines[self.pos][ind..].to_string();
        if content == "-" || content.starts_with("- ") {
            self.seq(ind)
        } else if split_key(strip_comment(&content)).is_some() {
            self.map(ind)
        } else {
            self.pos += 1;
            let mut text = strip_comment(&content).to_string();
            self.plain_continuation(ind, &mut text);
            inline(&text)
        }
    }

    /// Folds the continuation lines (indented at least `min_indent`) of a
    /// multi-line plain scalar.
    fn plain_continuation(&mut self, min_indent: usize, text: &mut String) {
        if text.starts_with('"')
            || text.starts_with('\'')
            || text.starts_with('[')
            || text.starts_with('{')
        {
            return;
        }
        while self.pos < self.lines.len() {
            let line = &self.lines[self.pos];
            if is_blank(line) || indent(line) < min_indent {
                break;
            }
            text.push(' ');
            text.push_str(strip_comment(line.trim()));
            self.pos += 1;
        }
    }

    fn map(&mut self, ind: usize) -> Value {
        let mut out = Map::new();
        loop {
            self.skip_blank();
            if self.pos >= self.lines.len() || indent(&self.lines[self.pos]) != ind {
                break;
            }
            let content = self.lines[self.pos][ind..].to_string();
            let Some((key, rest)) = split_key(strip_comment(&content)) else {
                break;
            };
            let rest = rest.to_string();
            self.pos += 1;
            let value = self.value_after(ind, &rest, true);
            out.insert(key, value);
        }
        Value::Object(out)
    }

    /// The value of an entry whose text after the `:` or `-` is `rest`.
    fn value_after(&mut self, ind: usize, rest: &str, in_map: bool) -> Value {
        if rest.is_empty() {
            self.skip_blank();
            if self.pos >= self.lines.len() {
                return Value::Null;
            }
            let next = &self.lines[self.pos];
            let nind = indent(next);
            let ncontent = &next[nind..];
            if nind > ind
                || (in_map && nind == ind && (ncontent == "-" || ncontent.starts_with("- ")))
            {
                return self.node(nind);
            }
            return Value::Null;
        }
        if rest.starts_with('|') || rest.starts_with('>') {
            return self.block_scalar(ind, rest);
        }
        let mut text = rest.to_string();
        self.plain_continuation(ind + 1, &mut text);
        inline(&text)
    }

    fn seq(&mut self, ind: usize) -> Value {
        let mut out = Vec::new();
        loop {
            self.skip_blank();
            if self.pos >= self.lines.len() || indent(&self.lines[self.pos]) != ind {
                break;
            }
            let content = self.lines[self.pos][ind..].to_string();
            if !(content == "-" || content.starts_with("- ")) {
                break;
            }
            let after = content[1..].trim_start();
            let offset = content.len() - after.len();
            let item = strip_comment(after).to_string();
            if item.starts_with("- ") || item == "-" || split_key(&item).is_some() {
                // A compact nested node: re-read this line as if the item
                // started on its own line at the item's column.
                self.lines[self.pos] = format!("{}{}", " ".repeat(ind + offset), after);
                out.push(self.node(ind + offset));
            } else {
                self.pos += 1;
                out.push(self.value_after(ind, &item, false));
            }
        }
        Value::Array(out)
    }

    fn block_scalar(&mut self, ind: usize, header: &str) -> Value {
        let folded = header.starts_with('>');
        let chomp = header[1..].trim();
        let mut raw: Vec<String> = Vec::new();
        let mut block_ind = None;
        while self.pos < self.lines.len() {
            let line = &self.lines[self.pos];
            if line.trim().is_empty() {
                raw.push(String::new());
                self.pos += 1;
                continue;
            }
            let li = indent(line);
            if li <= ind {
                break;
            }
            let bi = *block_ind.get_or_insert(li);
            if li < bi {
                break;
            }
            raw.push(line[bi..].to_string());
            self.pos += 1;
        }
        let trailing_blank = raw.iter().rev().take_while(|l| l.is_empty()).count();
        raw.truncate(raw.len() - trailing_blank);
        let mut text = if folded {
            // Folding turns single breaks into spaces, keeps blank-line runs.
            fold_blank_runs(&raw)
        } else {
            raw.join("\n")
        };
        if !raw.is_empty() {
            match chomp {
                "-" => {}
                "+" => text.push_str(&"\n".repeat(trailing_blank + 1)),
                _ => text.push('\n'),
            }
        }
        Value::String(text)
    }
}

/// YAML folding: single line breaks become spaces, a run of n blank lines
/// becomes n newlines; more-indented lines keep their breaks.
fn fold_blank_runs(raw: &[String]) -> String {
    let mut text = String::new();
    let mut i = 0;
    let mut prev_more = false;
    let mut first = true;
    while i < raw.len() {
        let mut blanks = 0;
        while i < raw.len() && raw[i].is_empty() {
            blanks += 1;
            i += 1;
        }
        if i >= raw.len() {
            break;
        }
        let line = &raw[i];
        let more = line.starts_with(' ');
        if !first {
            if blanks > 0 {
                text.push_str(&"\n".repeat(blanks + usize::from(more || prev_more)));
            } else if more || prev_more {
                text.push('\n');
            } else {
                text.push(' ');
            }
        } else {
            text.push_str(&"\n".repeat(blanks));
        }
        text.push_str(line);
        prev_more = more;
        first = false;
        i += 1;
    }
    text
}

/// A scalar or flow collection written on one line.
fn inline(text: &str) -> Value {
    let t = text.trim();
    if t.starts_with('[') || t.starts_with('{') {
        let chars: Vec<char> = t.chars().collect();
        let mut i = 0;
        return flow(&chars, &mut i);
    }
    scalar(t)
}

fn flow(c: &[char], i: &mut usize) -> Value {
    fn ws(c: &[char], i: &mut usize) {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
    }
    fn atom(c: &[char], i: &mut usize, stops: &[char]) -> String {
        let start = *i;
        if c[*i] == '"' || c[*i] == '\'' {
            let q = c[*i];
            *i += 1;
            while *i < c.len() && c[*i] != q {
                if c[*i] == '\\' && q == '"' {
                    *i += 1;
                }
                *i += 1;
            }
            *i += 1;
        } else {
            while *i < c.len() && !stops.contains(&c[*i]) {
                *i += 1;
            }
        }
        c[start..*i].iter().collect::<String>().trim().to_string()
    }
    ws(c, i);
    match c[*i] {
        '[' => {
            *i += 1;
            let mut out = Vec::new();
            loop {
                ws(c, i);
                if c[*i] == ']' {
                    *i += 1;
                    break;
                }
                out.push(flow(c, i));
                ws(c, i);
                if c[*i] == ',' {
                    *i += 1;
                }
            }
            Value::Array(out)
        }
        '{' => {
            *i += 1;
            let mut out = Map::new();
            loop {
                ws(c, i);
                if c[*i] == '}' {
                    *i += 1;
                    break;
                }
                let key = scalar(&atom(c, i, &[':']));
                *i += 1;
                let value = flow(c, i);
                out.insert(
                    key.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| key.to_string()),
                    value,
                );
                ws(c, i);
                if c[*i] == ',' {
                    *i += 1;
                }
            }
            Value::Object(out)
        }
        _ => scalar(&atom(c, i, &[',', ']', '}'])),
    }
}

/// A single scalar, typed the way YAML 1.1 core resolvers type it.
fn scalar(t: &str) -> Value {
    if let Some(body) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        return Value::String(out);
    }
    if let Some(body) = t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Value::String(body.replace("''", "'"));
    }
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "on" | "On" => return Value::Bool(true),
        "false" | "False" | "FALSE" | "no" | "No" | "off" | "Off" => return Value::Bool(false),
        _ => {}
    }
    let numeric = t.trim_start_matches(['-', '+']);
    if !numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit()) {
        if let Ok(n) = t.parse::<i64>() {
            return json!(n);
        }
    }
    let looks_float = numeric
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && numeric
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && numeric.contains('.');
    if looks_float {
        if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(t.to_string())
}

/// Which rule set a schema check applies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// The schemas exactly as published.
    Strict,
    /// Every `oneOf` read as `anyOf`: the tolerance the OGC Part 1 ETS
    /// applies for ogcapi-processes issue 350 (overlapping `oneOf` branches
    /// such as `type: number` / `type: integer` and `type: string` /
    /// `format: byte` make some valid values match "more than one schema").
    Issue350,
}

fn to_any_of(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(one_of) = m.remove("oneOf") {
                m.insert("anyOf".into(), one_of);
            }
            m.values_mut().for_each(to_any_of);
        }
        Value::Array(a) => a.iter_mut().for_each(to_any_of),
        _ => {}
    }
}

fn load(path: &Path, mode: Mode) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut v = yaml_to_json(&text);
    if mode == Mode::Issue350 {
        to_any_of(&mut v);
    }
    Ok(v)
}

/// Loads relative `$ref`s from disk; anything remote becomes `{}` (true)
/// so that tests never touch the network.
struct DiskRetriever {
    mode: Mode,
}

impl jsonschema::Retrieve for DiskRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        match uri.scheme().as_str() {
            "file" => Ok(load(Path::new(uri.path().as_str()), self.mode)?),
            _ => Ok(json!({})),
        }
    }
}

/// Errors of `instance` against `schema_file` (relative to `root`, e.g.
/// `schemas/process.yaml`), read as OpenAPI 3.0 schema objects (draft 4
/// rules, formats checked).
pub fn check(
    root: &str,
    schema_file: &str,
    instance: &Value,
    mode: Mode,
) -> Result<(), Vec<String>> {
    let path: PathBuf = Path::new(root).join(schema_file);
    let path = path
        .canonicalize()
        .unwrap_or_else(|e| panic!("official OGC schema {} is missing: {e}", path.display()));
    let schema = load(&path, mode).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_base_uri(format!("file://{}", path.display()))
        .with_retriever(DiskRetriever { mode })
        .build(&schema)
        .unwrap_or_else(|e| panic!("cannot compile {}: {e}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {} (schema {})", e, e.instance_path, e.schema_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Asserts `instance` is valid against the official 1.0 schema `schema_file`
/// (a file name under `schemas/`, e.g. `statusInfo.yaml`), as published.
pub fn validate(schema_file: &str, instance: &Value) {
    validate_in(
        OGC_1_0,
        &format!("schemas/{schema_file}"),
        instance,
        Mode::Strict,
    );
}

/// Asserts `instance` is valid against a 1.0 schema with the ETS's issue-350
/// tolerance for overlapping `oneOf` branches.
pub fn validate_issue350(schema_file: &str, instance: &Value) {
    validate_in(
        OGC_1_0,
        &format!("schemas/{schema_file}"),
        instance,
        Mode::Issue350,
    );
}

/// Asserts `instance` is valid against a schema file under `root`.
pub fn validate_in(root: &str, schema_file: &str, instance: &Value, mode: Mode) {
    if let Err(errors) = check(root, schema_file, instance, mode) {
        panic!(
            "not valid against {schema_file} ({mode:?}):\n  {}\ninstance: {}",
            errors.join("\n  "),
            serde_json::to_string_pretty(instance).unwrap()
        );
    }
}

/// Whether `instance` is valid against the 1.0 schema as published.
pub fn is_valid_strict(schema_file: &str, instance: &Value) -> bool {
    check(
        OGC_1_0,
        &format!("schemas/{schema_file}"),
        instance,
        Mode::Strict,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_yaml_subset() {
        let v = yaml_to_json(
            "a:\n  - x\n  - \"y\" # c\n  - key: 1\n    other: 2.5\nb: |-\n  line1\n  line2\nc: {}\nd: [ a, \"b\" ]\n\"$ref\": 'q'\ne:\n- 1\n- - 2\n  - 3\nf: true\n",
        );
        assert_eq!(
            v,
            json!({"a": ["x", "y", {"key": 1, "other": 2.5}], "b": "line1\nline2", "c": {},
                   "d": ["a", "b"], "$ref": "q", "e": [1, [2, 3]], "f": true})
        );
    }

    #[test]
    fn loads_every_official_1_0_schema() {
        for entry in std::fs::read_dir(Path::new(OGC_1_0).join("schemas")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let v = load(&path, Mode::Strict).unwrap();
                assert!(v.is_object(), "{}", path.display());
            }
        }
    }

    #[test]
    fn the_checks_reject_what_the_schemas_forbid() {
        // Guards against a vacuous validator (e.g. a $ref silently resolved
        // to `{}`): each of these breaks a rule reached through a $ref.
        let status = json!({"jobID": "1", "status": "accepted", "type": "process"});
        validate("statusInfo.yaml", &status);
        let mut bad = status.clone();
        bad["status"] = json!("done");
        assert!(!is_valid_strict("statusInfo.yaml", &bad));
        let mut bad = status.clone();
        bad["created"] = json!("yesterday");
        assert!(!is_valid_strict("statusInfo.yaml", &bad));
        let mut bad = status.clone();
        bad["links"] = json!([{"rel": "self"}]);
        assert!(!is_valid_strict("statusInfo.yaml", &bad));
        assert!(!is_valid_strict(
            "statusInfo.yaml",
            &json!({"jobID": "1", "status": "running"})
        ));
        let summary = json!({"id": "p", "version": "1"});
        validate("processSummary.yaml", &summary);
        assert!(!is_valid_strict(
            "processSummary.yaml",
            &json!({"id": "p", "version": "1", "title": null})
        ));
        assert!(!is_valid_strict(
            "processSummary.yaml",
            &json!({"id": "p", "version": "1", "jobControlOptions": ["sync"]})
        ));
        assert!(!is_valid_strict(
            "process.yaml",
            &json!({"id": "p", "version": "1", "inputs": {"x": {"schema": {"type": "string"}, "maxOccurs": "many"}}})
        ));
        assert!(!is_valid_strict(
            "results.yaml",
            &json!({"o": {"bbox": [1, 2, 3]}})
        ));
        assert!(!is_valid_strict("results.yaml", &json!({"o": {"a": 1}})));
        assert!(!is_valid_strict(
            "exception.yaml",
            &json!({"title": "no type"})
        ));
    }

    /// Compares the YAML subset parser with PyYAML on every OGC YAML file.
    /// Needs python3 with PyYAML; run with `--ignored`.
    #[test]
    #[ignore]
    fn yaml_subset_matches_pyyaml() {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "yaml") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(Path::new(OGC_1_0), &mut files);
        walk(&Path::new(OGC_2_0).join("schemas"), &mut files);
        // One python run for all files; files PyYAML itself cannot read
        // (custom tags in the CQL2 schemas) are reported and skipped.
        let script = "import sys, json, yaml\n\
            out = {}\n\
            for f in sys.argv[1:]:\n\
            \x20   try: out[f] = yaml.safe_load(open(f))\n\
            \x20   except yaml.YAMLError as e: out[f] = {'$pyyaml-error': str(e)}\n\
            print(json.dumps(out, default=str))";
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(&files)
            .output()
            .expect("python3 is needed for this cross-check");
        assert!(
            out.status.success(),
            "python3 with PyYAML (pip install pyyaml) is needed for this cross-check: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut mismatches = Vec::new();
        let mut skipped = Vec::new();
        for f in &files {
            let want = &expected[f.to_str().unwrap()];
            if want.get("$pyyaml-error").is_some() {
                skipped.push(f.display().to_string());
                continue;
            }
            let got = yaml_to_json(&std::fs::read_to_string(f).unwrap());
            if &got != want {
                mismatches.push(f.display().to_string());
            }
        }
        eprintln!(
            "compared {} files; PyYAML could not read {skipped:#?}",
            files.len() - skipped.len()
        );
        assert!(
            mismatches.is_empty(),
            "{} of {} differ: {mismatches:#?}",
            mismatches.len(),
            files.len()
        );
    }
}
