//! Shared helpers of the runtime tests: the example components and runtimes.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wades::model::{NamedValue, Value};
use wades::runtime::{JobEvents, LogLevel, Runtime, RuntimeConfig};

/// Bytes of an example component built by `cargo xtask guests`.
pub fn component(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("WADES_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the example components first with `cargo xtask guests`",
            path.display()
        )
    })
}

/// A runtime with a small pool and its own cache folder.
pub fn runtime(cache: &tempfile::TempDir) -> Runtime {
    Runtime::new(config(cache)).expect("runtime starts")
}

/// The test configuration: a small pool, otherwise the defaults.
pub fn config(cache: &tempfile::TempDir) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(cache.path());
    config.max_concurrent_jobs = 8;
    config
}

/// A string input.
pub fn s(id: &str, v: &str) -> NamedValue {
    NamedValue::new(id, Value::string(v))
}

/// The value of output `id`.
pub fn output<'a>(outputs: &'a [NamedValue], id: &str) -> &'a Value {
    &outputs
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no output '{id}' in {outputs:?}"))
        .value
}

/// Records every event a job sends.
#[derive(Default)]
pub struct Recorder {
    pub logs: Mutex<Vec<(LogLevel, String)>>,
    pub progress: Mutex<Vec<u8>>,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

impl JobEvents for Recorder {
    fn log(&self, level: LogLevel, message: &str) {
        self.logs.lock().unwrap().push((level, message.to_string()));
    }
    fn progress(&self, percent: u8, _message: Option<&str>) {
        self.progress.lock().unwrap().push(percent);
    }
}
