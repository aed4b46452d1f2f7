//! Writes a job's results to files, one per output.

use super::{Client, Results};
use anyhow::{Context, Result};
use base64::Engine;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// One output written to a file.
#[derive(Debug)]
pub struct Saved {
    /// The output's id (`result` for a lone raw output).
    pub output: String,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// Writes every output of `results` into `dir` (created if missing), as
/// `<output id>.<extension of its media type>`: values by value, binary
/// values decoded, links downloaded.
pub async fn save(client: &Client, results: &Results, dir: &Path) -> Result<Vec<Saved>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut saved = Vec::new();
    match results {
        Results::Raw { media_type, bytes } => {
            saved.push(write(dir, "result", media_type, bytes)?);
        }
        Results::Document(doc) => {
            let outputs = doc
                .as_object()
                .context("a results document is a JSON object")?;
            for (id, value) in outputs {
                let (media_type, bytes) = content(client, value).await?;
                saved.push(write(dir, id, &media_type, &bytes)?);
            }
        }
    }
    Ok(saved)
}

/// The media type and bytes of one output of a results document.
async fn content(client: &Client, value: &Json) -> Result<(String, Vec<u8>)> {
    let declared = value["mediaType"]
        .as_str()
        .or_else(|| value["type"].as_str())
        .map(String::from);
    if let Some(href) = value["href"].as_str() {
        let (served, bytes) = client.download(href).await?;
        return Ok((declared.unwrap_or(served), bytes));
    }
    let qualified = value
        .get("value")
        .filter(|_| value.get("mediaType").is_some() || value.get("encoding").is_some());
    let Some(inner) = qualified else {
        return Ok(plain(value));
    };
    let media_type = declared.unwrap_or_else(|| "application/octet-stream".into());
    match inner {
        Json::String(s) if value["encoding"] == "base64" || !is_text(&media_type) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .with_context(|| format!("a {media_type} value is not base64"))?;
            Ok((media_type, bytes))
        }
        Json::String(s) => Ok((media_type, s.clone().into_bytes())),
        other => Ok((media_type, serde_json::to_vec_pretty(other)?)),
    }
}

/// A value given as plain JSON: text as text, anything else as JSON.
fn plain(value: &Json) -> (String, Vec<u8>) {
    match value {
        Json::String(s) => ("text/plain".into(), s.clone().into_bytes()),
        other => (
            "application/json".into(),
            serde_json::to_vec_pretty(other).unwrap_or_default(),
        ),
    }
}

fn is_text(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/") || essence.ends_with("json") || essence.ends_with("xml")
}

fn write(dir: &Path, id: &str, media_type: &str, bytes: &[u8]) -> Result<Saved> {
    // Output ids come from the server: keep them to one harmless file name.
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    let path = dir.join(format!("{name}.{}", extension(media_type)));
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(Saved {
        output: id.to_string(),
        path,
        bytes: bytes.len() as u64,
    })
}

/// The usual file extension of a media type.
pub fn extension(media_type: &str) -> &'static str {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/plain" => "txt",
        "application/json" => "json",
        "application/geo+json" => "geojson",
        "text/html" => "html",
        "text/csv" => "csv",
        "application/xml" | "text/xml" => "xml",
        "image/tiff" => "tif",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "application/zip" => "zip",
        "application/wasm" => "wasm",
        _ => "bin",
    }
}

/// The media type of a file to send, from its extension.
pub fn media_type_of(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("geojson") => "application/geo+json",
        Some("csv") => "text/csv",
        Some("xml") => "application/xml",
        Some("tif" | "tiff") => "image/tiff; application=geotiff",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("zip") => "application/zip",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}
