//! File and Directory values: resolving locations, deriving the computed
//! fields (`basename`, `nameroot`, `nameext`, `dirname`), checksums,
//! listings, contents and secondary file names.

use super::types::class_of;
use super::{fail, CwlError, Result};
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How much of a file `loadContents` reads: CWL fixes it at 64 KiB.
pub const CONTENTS_LIMIT: u64 = 64 * 1024;

/// A file path for a `location` (a `file://` URI, an absolute path, or a
/// URI reference relative to `base`).
pub fn resolve_location(location: &str, base: &Path) -> Result<PathBuf> {
    if let Some(rest) = location.strip_prefix("file://") {
        let url = url::Url::parse(location)
            .map_err(|e| CwlError::InvalidValue(format!("bad location {location}: {e}")))?;
        return url.to_file_path().or_else(|()| Ok(PathBuf::from(rest)));
    }
    if location.contains("://") {
        return Err(CwlError::Unsupported(format!(
            "remote location {location} (only local files)"
        )));
    }
    if Path::new(location).is_absolute() {
        return Ok(PathBuf::from(location));
    }
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    if let Ok(base_url) = url::Url::from_directory_path(&base) {
        if let Ok(u) = base_url.join(location) {
            if let Ok(p) = u.to_file_path() {
                return Ok(p);
            }
        }
    }
    Ok(base.join(location))
}

/// The `file://` URI of a path.
pub fn file_uri(path: &Path) -> String {
    url::Url::from_file_path(path)
        .map(|u| u.to_string())
        .unwrap_or_else(|()| format!("file://{}", path.display()))
}

/// Fails unless every File and Directory in `value` (secondary files and
/// listings included), and everything inside a Directory, is under `root`
/// once symlinks are resolved. A server confines a job's runs to its own
/// folder so that an expression or a tool cannot hand it any other file of
/// the host, e.g. `{"class": "File", "location": "file:///etc/shadow"}` or a
/// symlink to it left in an output directory.
pub fn check_confined(value: &Value, root: &Path) -> Result<()> {
    let root = std::fs::canonicalize(root).map_err(|e| fail!("{}: {e}", root.display()))?;
    confined(value, &root)
}

fn confined(value: &Value, root: &Path) -> Result<()> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| confined(v, root)),
        Value::Object(o) => {
            if matches!(class_of(value), Some("File" | "Directory")) {
                let path = match (o.get("path"), o.get("location")) {
                    (Some(Value::String(p)), _) => Some(PathBuf::from(p)),
                    (_, Some(Value::String(l))) if l.starts_with("file:") => {
                        url::Url::parse(l).ok().and_then(|u| u.to_file_path().ok())
                    }
                    (_, Some(Value::String(l))) if !l.starts_with("_:") && !l.contains("://") => {
                        Some(PathBuf::from(l))
                    }
                    _ => None,
                };
                if let Some(p) = path {
                    tree_inside(&p, root)?;
                }
            }
            o.values().try_for_each(|v| confined(v, root))
        }
        _ => Ok(()),
    }
}

/// `path`, and all under it if it is a folder, resolve inside `root`.
fn tree_inside(path: &Path, root: &Path) -> Result<()> {
    let outside = || {
        CwlError::PermanentFail(format!(
            "{} is outside the job's folder, which this runner may not read",
            path.display()
        ))
    };
    let real = std::fs::canonicalize(path).map_err(|_| outside())?;
    if !real.starts_with(root) {
        return Err(outside());
    }
    if real.is_dir() {
        for entry in std::fs::read_dir(&real)? {
            tree_inside(&entry?.path(), root)?;
        }
    }
    Ok(())
}

/// `nameroot` and `nameext` of a basename, split like Python's
/// `os.path.splitext` (leading dots do not start an extension).
pub fn split_name(basename: &str) -> (String, String) {
    let lead = basename.len() - basename.trim_start_matches('.').len();
    match basename[lead..].rfind('.') {
        Some(i) => {
            let i = i + lead;
            (basename[..i].to_string(), basename[i..].to_string())
        }
        None => (basename.to_string(), String::new()),
    }
}

/// Completes every File and Directory inside `value`: an absolute `path`
/// and `file://` `location` (relative ones resolved against `base`),
/// `basename`, `nameroot`, `nameext`, `dirname`. Literals (a File with only
/// `contents`, a Directory with only `listing`) keep no path until staged.
pub fn normalize(value: &mut Value, base: &Path) -> Result<()> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(|v| normalize(v, base)),
        Value::Object(_) if class_of(value).is_some() => normalize_entry(value, base),
        Value::Object(o) => o.values_mut().try_for_each(|v| normalize(v, base)),
        _ => Ok(()),
    }
}

fn normalize_entry(value: &mut Value, base: &Path) -> Result<()> {
    let Value::Object(o) = value else {
        return Ok(());
    };
    let is_file = o.get("class").and_then(Value::as_str) == Some("File");
    let path = match (
        o.get("location").and_then(Value::as_str),
        o.get("path").and_then(Value::as_str),
    ) {
        (Some(loc), _) if !loc.starts_with("_:") => Some(resolve_location(loc, base)?),
        (_, Some(p)) => Some(if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            std::path::absolute(base)
                .unwrap_or_else(|_| base.to_path_buf())
                .join(p)
        }),
        _ => None,
    };
    if let Some(path) = &path {
        o.insert("location".into(), Value::String(file_uri(path)));
        o.insert(
            "path".into(),
            Value::String(path.to_string_lossy().into_owned()),
        );
        if !o.contains_key("basename") {
            let b = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            o.insert("basename".into(), Value::String(b));
        }
        if is_file {
            if let Some(parent) = path.parent() {
                o.insert(
                    "dirname".into(),
                    Value::String(parent.to_string_lossy().into_owned()),
                );
            }
            if !o.contains_key("size") {
                if let Ok(meta) = std::fs::metadata(path) {
                    o.insert("size".into(), Value::from(meta.len()));
                }
            }
        }
    } else if !o.contains_key("basename") {
        let b = super::load::random_hex();
        o.insert("basename".into(), Value::String(b));
    }
    set_name_parts(o);
    if let Some(sf) = o.get_mut("secondaryFiles") {
        normalize(sf, base)?;
    }
    if let Some(l) = o.get_mut("listing") {
        normalize(l, base)?;
    }
    Ok(())
}

/// Sets `nameroot` and `nameext` of a File from its `basename`.
pub fn set_name_parts(o: &mut Map<String, Value>) {
    if o.get("class").and_then(Value::as_str) != Some("File") {
        return;
    }
    if let Some(b) = o.get("basename").and_then(Value::as_str) {
        let (root, ext) = split_name(b);
        o.insert("nameroot".into(), Value::String(root));
        o.insert("nameext".into(), Value::String(ext));
    }
}

/// The path of a File or Directory value, if it has one.
pub fn path_of(value: &Value) -> Option<PathBuf> {
    value.get("path").and_then(Value::as_str).map(PathBuf::from)
}

/// `sha1$<hex>` of a file's contents.
pub fn checksum(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| fail!("{}: {e}", path.display()))?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha1${}", hex::encode(h.finalize())))
}

/// The File or Directory object for an existing path, with `size` (and
/// `checksum` when asked) for files.
pub fn describe_path(path: &Path, with_checksum: bool) -> Result<Value> {
    let meta = std::fs::metadata(path).map_err(|e| fail!("{}: {e}", path.display()))?;
    let mut o = Map::new();
    let class = if meta.is_dir() { "Directory" } else { "File" };
    o.insert("class".into(), Value::String(class.into()));
    o.insert("location".into(), Value::String(file_uri(path)));
    o.insert(
        "path".into(),
        Value::String(path.to_string_lossy().into_owned()),
    );
    let basename = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    o.insert("basename".into(), Value::String(basename));
    if !meta.is_dir() {
        if let Some(parent) = path.parent() {
            o.insert(
                "dirname".into(),
                Value::String(parent.to_string_lossy().into_owned()),
            );
        }
        o.insert("size".into(), Value::from(meta.len()));
        if with_checksum {
            o.insert("checksum".into(), Value::String(checksum(path)?));
        }
        set_name_parts(&mut o);
    }
    Ok(Value::Object(o))
}

/// How deep a Directory's `listing` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// No `listing`.
    None,
    /// The entries, without theirs.
    Shallow,
    /// Everything below.
    Deep,
}

impl Listing {
    /// Parses `loadListing` (unknown and absent values are `None`).
    pub fn parse(s: Option<&str>) -> Option<Listing> {
        match s? {
            "no_listing" => Some(Listing::None),
            "shallow_listing" => Some(Listing::Shallow),
            "deep_listing" => Some(Listing::Deep),
            _ => None,
        }
    }
}

/// The `listing` of a directory on disk, sorted by name.
pub fn list_dir(dir: &Path, depth: Listing, with_checksum: bool) -> Result<Vec<Value>> {
    if depth == Listing::None {
        return Ok(vec![]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        let mut v = describe_path(&p, with_checksum)?;
        if p.is_dir() && depth == Listing::Deep {
            v["listing"] = Value::Array(list_dir(&p, Listing::Deep, with_checksum)?);
        }
        out.push(v);
    }
    Ok(out)
}

/// Fills `listing` of Directories inside `value` to `depth`, where missing.
pub fn fill_listings(value: &mut Value, depth: Listing) -> Result<()> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(|v| fill_listings(v, depth)),
        Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("Directory") => {
            if depth != Listing::None && !o.contains_key("listing") {
                if let Some(p) = o.get("path").and_then(Value::as_str).map(PathBuf::from) {
                    o.insert("listing".into(), Value::Array(list_dir(&p, depth, false)?));
                }
            }
            Ok(())
        }
        Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("File") => Ok(()),
        Value::Object(o) => o.values_mut().try_for_each(|v| fill_listings(v, depth)),
        _ => Ok(()),
    }
}

/// The first 64 KiB of a file as text; larger files are an error, as CWL
/// v1.2 requires.
pub fn read_contents(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path).map_err(|e| fail!("{}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.take(CONTENTS_LIMIT + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > CONTENTS_LIMIT {
        return Err(fail!(
            "loadContents: {} is larger than {} bytes",
            path.display(),
            CONTENTS_LIMIT
        ));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The name of a secondary file: `pattern` appended to the primary's
/// basename, each leading `^` first removing one extension.
pub fn secondary_name(basename: &str, pattern: &str) -> String {
    let mut base = basename.to_string();
    let mut p = pattern;
    while let Some(rest) = p.strip_prefix('^') {
        if let Some(i) = base.rfind('.') {
            base.truncate(i);
        }
        p = rest;
    }
    base + p
}

/// Applies `f` to every File and Directory object inside `value`,
/// outermost first (secondary files and listings included).
pub fn for_each_entry_mut(
    value: &mut Value,
    f: &mut dyn FnMut(&mut Map<String, Value>) -> Result<()>,
) -> Result<()> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(|v| for_each_entry_mut(v, f)),
        Value::Object(o) => {
            let is_entry = matches!(
                o.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            );
            if is_entry {
                f(o)?;
                for key in ["secondaryFiles", "listing"] {
                    if let Some(v) = o.get_mut(key) {
                        for_each_entry_mut(v, f)?;
                    }
                }
                Ok(())
            } else {
                o.values_mut().try_for_each(|v| for_each_entry_mut(v, f))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(split_name("a.tar.gz"), ("a.tar".into(), ".gz".into()));
        assert_eq!(split_name(".bashrc"), (".bashrc".into(), "".into()));
        assert_eq!(split_name("noext"), ("noext".into(), "".into()));
        assert_eq!(secondary_name("r.bam", ".bai"), "r.bam.bai");
        assert_eq!(secondary_name("r.bam", "^.bai"), "r.bai");
        assert_eq!(secondary_name("r.x.bam", "^^.bai"), "r.bai");
    }

    #[test]
    fn locations() {
        let base = Path::new("/data/jobs");
        assert_eq!(
            resolve_location("a%231.txt", base).unwrap(),
            PathBuf::from("/data/jobs/a#1.txt")
        );
        assert_eq!(
            resolve_location("file:///x/y%3Az", base).unwrap(),
            PathBuf::from("/x/y:z")
        );
        assert_eq!(
            resolve_location("/abs", base).unwrap(),
            PathBuf::from("/abs")
        );
    }
}
