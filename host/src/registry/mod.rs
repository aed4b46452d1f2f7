//! The processes this server offers, by id.
//!
//! Built-in processes are loaded from components at start-up and cannot be
//! changed through the API; deployed ones (Part 2) will join them here.

use crate::error::{Error, Result};
use crate::ogc::ExecuteParser;
use crate::runtime::{Process, Runtime};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// A process the server offers.
#[derive(Clone)]
pub struct Entry {
    /// The loaded component.
    pub process: Arc<Process>,
    /// Whether clients may replace or undeploy it.
    pub mutable: bool,
    /// Reads execute requests for it.
    pub parser: Arc<ExecuteParser>,
}

/// Processes by id, in id order.
pub struct Registry {
    runtime: Runtime,
    entries: RwLock<BTreeMap<String, Entry>>,
}

impl Registry {
    /// An empty registry on `runtime`.
    pub fn new(runtime: Runtime) -> Self {
        Registry {
            runtime,
            entries: RwLock::new(BTreeMap::new()),
        }
    }

    /// Loads `<dir>/<name>.wasm` for every name as an immutable process.
    pub async fn load_builtins(&self, dir: &Path, names: &[String]) -> Result<()> {
        for name in names {
            let path = dir.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Internal(format!("built-in process {}: {e}", path.display()))
            })?;
            let process = self.runtime.load(bytes).await?;
            let id = process.description().id.clone();
            tracing::info!(%id, digest = %process.digest(), "built-in process");
            self.entries.write().expect("registry lock").insert(
                id,
                Entry {
                    parser: Arc::new(ExecuteParser::new(process.description())),
                    process,
                    mutable: false,
                },
            );
        }
        Ok(())
    }

    /// The process `id`.
    pub fn get(&self, id: &str) -> Result<Entry> {
        self.entries
            .read()
            .expect("registry lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSuchProcess(id.into()))
    }

    /// Every process, in id order.
    pub fn list(&self) -> Vec<Entry> {
        self.entries
            .read()
            .expect("registry lock")
            .values()
            .cloned()
            .collect()
    }
}
