//! What a process can do besides computing: log, report progress, use files.

use crate::bindings::wades::process::host;
use crate::bindings::wades::process::types as wit;
use crate::value::{ProcessValue, Value};
use serde_json::{json, Value as JsonValue};
use std::path::{Path, PathBuf};

/// Severity of a log line.
pub use host::LogLevel as Level;

/// Adds a line to the job's log.
pub fn log(level: Level, message: impl AsRef<str>) {
    host::log(level, message.as_ref());
}

/// Logs at debug level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message)
}

/// Logs at info level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message)
}

/// Logs at warn level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message)
}

/// Logs at error level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message)
}

/// Reports progress (0 to 100) to the job's status.
pub fn progress(percent: u8, message: impl AsRef<str>) {
    let message = message.as_ref();
    host::progress(percent.min(100), (!message.is_empty()).then_some(message));
}

/// Buffer size of [`File::reader`] and [`File::writer`].
pub const IO_BUFFER: usize = 1 << 20;

/// A file in the job's sandbox: an input staged under `/inputs`, or an output
/// written under `/outputs`.
///
/// Large rasters travel this way instead of being copied through the call.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Absolute path inside the sandbox.
    pub path: PathBuf,
    /// Media type, e.g. `image/tiff; application=geotiff`.
    pub media_type: Option<String>,
}

impl File {
    /// The folder where inputs are staged (read-only).
    pub const INPUTS: &'static str = "/inputs";
    /// The folder where outputs are written.
    pub const OUTPUTS: &'static str = "/outputs";

    /// An output file `/outputs/<name>`, to be written by the process.
    pub fn output(name: &str, media_type: impl Into<String>) -> File {
        File {
            path: Path::new(Self::OUTPUTS).join(name),
            media_type: Some(media_type.into()),
        }
    }

    /// Reads the whole file.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }

    /// Opens the file for reading.
    pub fn open(&self) -> std::io::Result<std::fs::File> {
        std::fs::File::open(&self.path)
    }

    /// A buffered reader. Each unbuffered read would be a call into the host,
    /// so the buffer is large.
    pub fn reader(&self) -> std::io::Result<std::io::BufReader<std::fs::File>> {
        Ok(std::io::BufReader::with_capacity(IO_BUFFER, self.open()?))
    }

    /// A buffered writer (flush it before returning the file).
    pub fn writer(&self) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(IO_BUFFER, self.create()?))
    }

    /// Creates (or truncates) the file for writing.
    pub fn create(&self) -> std::io::Result<std::fs::File> {
        std::fs::File::create(&self.path)
    }

    /// Writes the whole file.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(&self.path, bytes)
    }
}

impl ProcessValue for File {
    fn schema() -> JsonValue {
        // `x-wades-staging` tells the host to stage the data as a file in
        // `/inputs` (JSON Schema ignores unknown keywords).
        json!({
            "type": "string",
            "contentEncoding": "binary",
            "contentMediaType": "application/octet-stream",
            "x-wades-staging": "file"
        })
    }
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::File(f) => Ok(File {
                path: f.path.into(),
                media_type: f.media_type,
            }),
            Value::Binary(_) => {
                Err("expected a staged file, got inline bytes (use `Binary`)".into())
            }
            _ => Err("expected a file".into()),
        }
    }
    fn into_value(self) -> Value {
        Value::File(wit::File {
            path: self.path.to_string_lossy().into_owned(),
            media_type: self.media_type,
        })
    }
}
