//! Where the components of wasm steps come from: the [`WasmCatalog`] a
//! runner's owner passes in (the server: its deployed processes; the
//! command line and tests: a folder, [`DirCatalog`]).

use super::{fail, CwlError, Result};
use crate::model::Digest;
use crate::runtime::{CommandProgram, Process, Runtime};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How a `wades:WasmRequirement` names a component.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ComponentRef {
    /// A process id, or a command's name.
    Id(String),
    /// The sha256 of the component's bytes.
    Digest(Digest),
    /// A `.wasm` file on this host (resolved against the document).
    Path(PathBuf),
}

impl std::fmt::Display for ComponentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentRef::Id(id) => write!(f, "'{id}'"),
            ComponentRef::Digest(d) => write!(f, "{d}"),
            ComponentRef::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Finds and loads the components CWL steps name.
pub trait WasmCatalog: Send + Sync {
    /// The wades process `wanted` names, loaded in `runtime`.
    fn process<'a>(
        &'a self,
        runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<Process>>>;
    /// The WASI command `wanted` names, loaded in `runtime`.
    fn command<'a>(
        &'a self,
        runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<CommandProgram>>>;
}

/// Components from a folder: `<id>.wasm` by id, any `.wasm` in it by
/// digest, and, when allowed, any file by path. Loaded once and kept.
///
/// It compiles in this process without a budget, like
/// [`Runtime::load`]: meant for the command line's local mode and for
/// components the operator built; a server catalog resolves deployed
/// (already vetted) components instead.
pub struct DirCatalog {
    dir: Option<PathBuf>,
    allow_paths: bool,
    processes: Mutex<HashMap<ComponentRef, Arc<Process>>>,
    commands: Mutex<HashMap<ComponentRef, Arc<CommandProgram>>>,
}

impl DirCatalog {
    /// A catalog of the `.wasm` files in `dir` (none: ids and digests are
    /// not found); `allow_paths` lets documents name any file.
    pub fn new(dir: Option<PathBuf>, allow_paths: bool) -> Self {
        DirCatalog {
            dir,
            allow_paths,
            processes: Mutex::default(),
            commands: Mutex::default(),
        }
    }

    fn bytes(&self, wanted: &ComponentRef) -> Result<Vec<u8>> {
        let no_dir = || {
            CwlError::Unsupported(format!(
                "wasm component {wanted}: no folder of components was given (--wasm-dir)"
            ))
        };
        match wanted {
            ComponentRef::Id(id) => {
                if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
                    return Err(fail!("'{id}' is not a component id"));
                }
                let path = self
                    .dir
                    .as_ref()
                    .ok_or_else(no_dir)?
                    .join(format!("{id}.wasm"));
                std::fs::read(&path)
                    .map_err(|e| fail!("wasm component {wanted}: {}: {e}", path.display()))
            }
            ComponentRef::Digest(d) => {
                let dir = self.dir.as_ref().ok_or_else(no_dir)?;
                for entry in std::fs::read_dir(dir)? {
                    let path = entry?.path();
                    if path.extension().is_some_and(|e| e == "wasm") {
                        let bytes = std::fs::read(&path)?;
                        if Digest::of(&bytes) == *d {
                            return Ok(bytes);
                        }
                    }
                }
                Err(fail!("no component in {} has digest {d}", dir.display()))
            }
            ComponentRef::Path(p) if self.allow_paths => {
                std::fs::read(p).map_err(|e| fail!("wasm component {}: {e}", p.display()))
            }
            ComponentRef::Path(p) => Err(CwlError::Unsupported(format!(
                "wasm component {}: components may not be named by path here",
                p.display()
            ))),
        }
    }
}

impl WasmCatalog for DirCatalog {
    fn process<'a>(
        &'a self,
        runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<Process>>> {
        Box::pin(async move {
            let kept = self.processes.lock().expect("catalog").get(wanted).cloned();
            if let Some(p) = kept {
                return Ok(p);
            }
            let process = runtime
                .load(self.bytes(wanted)?)
                .await
                .map_err(|e| fail!("wasm component {wanted}: {e}"))?;
            if let ComponentRef::Id(id) = wanted {
                if process.description().id != *id {
                    return Err(fail!(
                        "{id}.wasm is process '{}', not '{id}'",
                        process.description().id
                    ));
                }
            }
            let mut kept = self.processes.lock().expect("catalog");
            Ok(kept.entry(wanted.clone()).or_insert(process).clone())
        })
    }

    fn command<'a>(
        &'a self,
        runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<CommandProgram>>> {
        Box::pin(async move {
            let kept = self.commands.lock().expect("catalog").get(wanted).cloned();
            if let Some(c) = kept {
                return Ok(c);
            }
            let program = runtime
                .load_command(self.bytes(wanted)?)
                .await
                .map_err(|e| fail!("WASI command {wanted}: {e}"))?;
            let mut kept = self.commands.lock().expect("catalog");
            Ok(kept.entry(wanted.clone()).or_insert(program).clone())
        })
    }
}
