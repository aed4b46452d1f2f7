//! The wasm components a server job's CWL steps may name: the processes the
//! job's owner can see, already vetted and compiled at deploy.

use super::{Implementation, Registry};
use crate::cwl::wasm::{ComponentRef, WasmCatalog};
use crate::cwl::{CwlError, Result};
use crate::model::{Principal, Role};
use crate::runtime::{CommandProgram, Process, Runtime};
use futures::future::BoxFuture;
use std::sync::Arc;

/// The WebAssembly processes visible to one tenant, for the
/// `wades:WasmRequirement` steps of its jobs.
///
/// A step sees exactly what its owner could execute over the API: a
/// process id or digest that the owner cannot see is "not found", like any
/// foreign object. WASI commands are the operator's (`[cwl] commands`),
/// by name or digest. Host paths are never accepted.
pub struct DeployedComponents {
    registry: Arc<Registry>,
    owner: Principal,
}

impl DeployedComponents {
    /// The components visible to `owner` (a tenant id, as jobs record it).
    pub fn for_owner(registry: Arc<Registry>, owner: &str) -> Self {
        DeployedComponents {
            registry,
            // A plain user's view: a job owned by an admin still sees only
            // what is its own, shared with it, or public.
            owner: Principal {
                tenant: owner.to_string(),
                role: Role::User,
            },
        }
    }

    fn find(&self, wanted: &ComponentRef) -> Result<Arc<Process>> {
        let not_found = || CwlError::PermanentFail(format!("no process {wanted} is deployed"));
        let entry = match wanted {
            ComponentRef::Id(id) => self
                .registry
                .get_for(id, &self.owner)
                .map_err(|_| not_found())?,
            ComponentRef::Digest(d) => self
                .registry
                .list_for(&self.owner)
                .into_iter()
                .find(|e| e.process.digest() == *d)
                .ok_or_else(not_found)?,
            ComponentRef::Path(p) => {
                return Err(CwlError::Unsupported(format!(
                    "wasm component {}: a server's steps name deployed processes, not files",
                    p.display()
                )))
            }
        };
        match entry.process {
            Implementation::Component(process) => Ok(process),
            Implementation::Cwl(_) => Err(CwlError::Unsupported(format!(
                "process {wanted} is a CWL process, not a WebAssembly component: \
                 call it as a workflow step instead"
            ))),
        }
    }
}

impl WasmCatalog for DeployedComponents {
    fn process<'a>(
        &'a self,
        _runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<Process>>> {
        Box::pin(async move { self.find(wanted) })
    }

    fn command<'a>(
        &'a self,
        _runtime: &'a Runtime,
        wanted: &'a ComponentRef,
    ) -> BoxFuture<'a, Result<Arc<CommandProgram>>> {
        Box::pin(async move {
            let found = match wanted {
                ComponentRef::Id(name) => self.registry.command(Some(name), None),
                ComponentRef::Digest(d) => self.registry.command(None, Some(*d)),
                ComponentRef::Path(p) => {
                    return Err(CwlError::Unsupported(format!(
                        "WASI command {}: a server's steps name installed commands, not files",
                        p.display()
                    )))
                }
            };
            found.ok_or_else(|| {
                CwlError::PermanentFail(format!(
                    "no WASI command {wanted} is installed on this server ([cwl] commands)"
                ))
            })
        })
    }
}
