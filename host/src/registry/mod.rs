//! The processes this server offers, by id.
//!
//! Built-in processes are loaded from components at start-up and cannot be
//! changed through the API. Deployed ones (Part 2) are kept in the job
//! store's database, their components in the content-addressed module
//! store, and are loaded again at every start from the compiled-artifact
//! cache. Uploaded components are compiled in a child process under a
//! budget ([`Runtime::load_untrusted`]), never in the server itself.

mod components;
mod cwl;
mod deploy;

pub use components::DeployedComponents;
pub use deploy::{DeployLimits, Deployable};

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::model::{Digest, Principal, ProcessDescription, Visibility};
use crate::modules::ModuleStore;
use crate::ogc::ExecuteParser;
use crate::runtime::{CommandProgram, Process, Runtime};
use crate::store::JobStore;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// What runs the jobs of a process.
#[derive(Clone)]
pub enum Implementation {
    /// A loaded WebAssembly component.
    Component(Arc<Process>),
    /// A CWL process: a deployed CWL document, or a Part 2 `docker` unit
    /// turned into one.
    Cwl(Arc<CwlProcess>),
}

/// A deployed CWL process, ready to run.
pub struct CwlProcess {
    /// The digest of its document in the module store.
    pub digest: Digest,
    /// The process chosen from the document.
    pub process: Arc<crate::cwl::Process>,
}

impl Implementation {
    /// The digest of what is stored for it in the module store.
    pub fn digest(&self) -> Digest {
        match self {
            Implementation::Component(p) => p.digest(),
            Implementation::Cwl(c) => c.digest,
        }
    }
}

/// A process the server offers.
#[derive(Clone)]
pub struct Entry {
    /// What runs its jobs.
    pub process: Implementation,
    /// The description clients see: the component's own, completed by the
    /// package it was deployed with.
    pub description: Arc<ProcessDescription>,
    /// Whether clients may replace or undeploy it.
    pub mutable: bool,
    /// Reads execute requests for it.
    pub parser: Arc<ExecuteParser>,
    /// The tenant that deployed it; empty for built-in processes.
    pub owner: String,
    /// Who besides its owner may see it; built-in processes are public.
    pub visibility: Visibility,
}

impl Entry {
    fn builtin(process: Implementation, description: ProcessDescription) -> Self {
        Entry {
            parser: Arc::new(ExecuteParser::new(&description)),
            description: Arc::new(description),
            process,
            mutable: false,
            owner: String::new(),
            visibility: Visibility::Public,
        }
    }

    fn deployed(
        process: Implementation,
        description: ProcessDescription,
        owner: &str,
        visibility: Visibility,
    ) -> Self {
        Entry {
            mutable: true,
            owner: owner.to_string(),
            visibility,
            ..Entry::builtin(process, description)
        }
    }

    /// Whether `who` may see (list, describe, execute) it.
    pub fn visible_to(&self, who: &Principal) -> bool {
        self.visibility.admits(&self.owner, who)
    }
}

/// Processes by id, in id order.
pub struct Registry {
    runtime: Runtime,
    modules: ModuleStore,
    store: JobStore,
    fetcher: Fetcher,
    limits: DeployLimits,
    quotas: crate::tenancy::quota::Quotas,
    entries: RwLock<BTreeMap<String, Entry>>,
    /// The WASI commands CWL steps may run, by name (the operator's).
    commands: RwLock<BTreeMap<String, Arc<CommandProgram>>>,
    /// Deploy, replace and undeploy one at a time, so that collecting a
    /// module no process uses cannot race a deployment that is about to.
    changes: tokio::sync::Mutex<()>,
}

impl Registry {
    /// An empty registry running components on `runtime`, keeping deployed
    /// ones in `modules` and `store`, and fetching package hrefs with
    /// `fetcher`; each tenant's components within its `quotas`.
    pub fn new(
        runtime: Runtime,
        modules: ModuleStore,
        store: JobStore,
        fetcher: Fetcher,
        limits: DeployLimits,
        quotas: crate::tenancy::quota::Quotas,
    ) -> Self {
        Registry {
            runtime,
            modules,
            store,
            fetcher,
            limits,
            quotas,
            entries: RwLock::new(BTreeMap::new()),
            commands: RwLock::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads `<dir>/<name>.wasm` for every name as an immutable process.
    /// Their bytes go to the module store too, so that their package can be
    /// served like any other.
    pub async fn load_builtins(&self, dir: &Path, names: &[String]) -> Result<()> {
        for name in names {
            let path = dir.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Internal(format!("built-in process {}: {e}", path.display()))
            })?;
            self.modules.put(&bytes)?;
            let process = self.runtime.load(bytes).await?;
            let description = process.description().clone();
            tracing::info!(id = %description.id, digest = %process.digest(), "built-in process");
            self.insert(Entry::builtin(
                Implementation::Component(process),
                description,
            ));
        }
        Ok(())
    }

    /// Loads `<dir>/<name>.wasm` for every name as a WASI command that CWL
    /// steps may run by name or digest.
    pub async fn load_commands(&self, dir: &Path, names: &[String]) -> Result<()> {
        for name in names {
            let path = dir.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Internal(format!("WASI command {}: {e}", path.display())))?;
            // Stored like a built-in's, so that its compiled artifact belongs
            // to a module of the store (`wades store verify`).
            self.modules.put(&bytes)?;
            let program = self.runtime.load_command(bytes).await?;
            tracing::info!(name = %name, digest = %program.digest(), "WASI command");
            self.commands
                .write()
                .expect("registry lock")
                .insert(name.clone(), program);
        }
        Ok(())
    }

    /// The WASI command named `name`, or whose digest is `digest`.
    pub fn command(
        &self,
        name: Option<&str>,
        digest: Option<Digest>,
    ) -> Option<Arc<CommandProgram>> {
        let commands = self.commands.read().expect("registry lock");
        match (name, digest) {
            (Some(n), _) => commands.get(n).cloned(),
            (None, Some(d)) => commands.values().find(|c| c.digest() == d).cloned(),
            (None, None) => None,
        }
    }

    /// Loads every process deployed before this start. One whose module is
    /// missing or damaged is left out, with an error in the log, rather
    /// than keeping the server from starting.
    pub async fn load_deployed(&self) -> Result<()> {
        for d in self.store.deployments().await? {
            match self.restore(&d).await {
                Ok(entry) => self.insert(entry),
                Err(e) => {
                    tracing::error!(id = %d.id, digest = %d.digest, error = %e, "a deployed process could not be loaded")
                }
            }
        }
        Ok(())
    }

    /// The process `id`, whoever asks (for the job service, which checked
    /// access when the job was created).
    pub fn get(&self, id: &str) -> Result<Entry> {
        self.entries
            .read()
            .expect("registry lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSuchProcess(id.into()))
    }

    /// The process `id` as `who` may see it: one it may not see does not
    /// exist for it, so that private ids cannot be discovered.
    pub fn get_for(&self, id: &str, who: &Principal) -> Result<Entry> {
        self.get(id)
            .ok()
            .filter(|e| e.visible_to(who))
            .ok_or_else(|| Error::NoSuchProcess(id.into()))
    }

    /// Every process `who` may see, in id order.
    pub fn list_for(&self, who: &Principal) -> Vec<Entry> {
        self.entries
            .read()
            .expect("registry lock")
            .values()
            .filter(|e| e.visible_to(who))
            .cloned()
            .collect()
    }

    fn insert(&self, entry: Entry) {
        self.entries
            .write()
            .expect("registry lock")
            .insert(entry.description.id.clone(), entry);
    }

    fn remove(&self, id: &str) {
        self.entries.write().expect("registry lock").remove(id);
    }

    /// Bytes of the components of `owner`'s deployed processes, but
    /// `except`'s (the one being replaced). A component deployed twice
    /// counts twice: each deployment is the tenant's own.
    fn module_bytes_of(&self, owner: &str, except: Option<&str>) -> u64 {
        self.entries
            .read()
            .expect("registry lock")
            .values()
            .filter(|e| e.mutable && e.owner == owner && Some(e.description.id.as_str()) != except)
            .map(|e| self.modules.size(&e.process.digest()))
            .sum()
    }

    /// Whether a loaded process still runs module `digest`.
    fn in_use(&self, digest: Digest) -> bool {
        self.entries
            .read()
            .expect("registry lock")
            .values()
            .any(|e| e.process.digest() == digest)
    }
}
