//! Directory outputs of CWL jobs over HTTP: `GET` of the output gives its
//! listing (JSON, every entry with its own URL), and each file inside is
//! served under the output's URL, so relative links between the files
//! (a STAC catalog's assets) resolve.

use super::results::Raw;
use crate::cwl::describe::by_extension;
use crate::error::Result;
use serde_json::{json, Value};
use std::path::{Component, Path};

/// The listing of `dir`, whose URL is `url`: a CWL Directory object whose
/// entries carry `href` (and, for files, `type` and `size`) instead of
/// server paths.
pub(super) fn listing(dir: &Path, url: &str) -> Result<Raw> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    let url = url.trim_end_matches('/');
    let mut listing = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let meta = e.metadata()?;
        let href = format!("{url}/{name}");
        listing.push(if meta.is_dir() {
            json!({"class": "Directory", "basename": name, "href": href})
        } else {
            json!({"class": "File", "basename": name, "href": href,
                   "type": by_extension(&name), "size": meta.len()})
        });
    }
    let basename = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let body =
        json!({"class": "Directory", "basename": basename, "listing": Value::Array(listing)});
    Ok(Raw {
        bytes: body.to_string().into_bytes(),
        media_type: "application/json".into(),
    })
}

/// The file or folder at `path` inside `dir` (whose URL is `url`): its
/// bytes, or its listing; `None` if there is no such entry inside `dir`.
/// Only plain names are followed, and the entry must resolve inside `dir`.
pub(super) fn inside(dir: &Path, path: &str, url: &str) -> Result<Option<Raw>> {
    let rel = Path::new(path);
    if path.contains('\\') || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Ok(None);
    }
    let (Ok(root), Ok(target)) = (dir.canonicalize(), dir.join(rel).canonicalize()) else {
        return Ok(None);
    };
    if !target.starts_with(&root) {
        return Ok(None);
    }
    if target.is_dir() {
        let url = format!(
            "{}/{}",
            url.trim_end_matches('/'),
            path.trim_end_matches('/')
        );
        return listing(&target, &url).map(Some);
    }
    Ok(Some(Raw {
        bytes: std::fs::read(&target)?,
        media_type: by_extension(path).to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_what_is_inside_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("stac");
        std::fs::create_dir_all(out.join("item")).unwrap();
        std::fs::write(out.join("collection.json"), "{}").unwrap();
        std::fs::write(out.join("item/mask.tif"), "II*").unwrap();
        std::fs::write(tmp.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), out.join("link")).unwrap();
        let url = "http://h/jobs/j/results/cat";

        let l: Value = serde_json::from_slice(&listing(&out, url).unwrap().bytes).unwrap();
        assert_eq!(l["basename"], "stac");
        assert_eq!(
            l["listing"][0]["href"],
            "http://h/jobs/j/results/cat/collection.json"
        );
        assert_eq!(l["listing"][0]["type"], "application/json");
        assert_eq!(l["listing"][0]["size"], 2);
        assert_eq!(l["listing"][1]["class"], "Directory");

        let tif = inside(&out, "item/mask.tif", url).unwrap().unwrap();
        assert_eq!(
            (tif.bytes.as_slice(), tif.media_type.as_str()),
            (&b"II*"[..], "image/tiff")
        );
        let sub: Value =
            serde_json::from_slice(&inside(&out, "item/", url).unwrap().unwrap().bytes).unwrap();
        assert_eq!(
            sub["listing"][0]["href"],
            "http://h/jobs/j/results/cat/item/mask.tif"
        );
        for bad in [
            "../secret",
            "link",
            "item/../../secret",
            "/etc/passwd",
            "missing",
            "./collection.json",
        ] {
            assert!(inside(&out, bad, url).unwrap().is_none(), "{bad}");
        }
    }
}
