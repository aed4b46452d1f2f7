//! Deploy, replace and undeploy (OGC API - Processes Part 2).

use super::{Entry, Implementation, Registry};
use crate::error::{Error, Result};
use crate::model::{Deployment, Digest, Principal, ProcessDescription, Role, Visibility};
use crate::ogc::package::{self, AppPackage, ExecutionUnit, PackageError};
use crate::tenancy::require;
use serde_json::{json, Value};

/// What a client deploys.
#[derive(Debug, Clone)]
pub enum Deployable {
    /// A component's bytes (`application/wasm`), with an optional process
    /// id to use instead of the one the component describes.
    Component {
        /// The bytes.
        bytes: Vec<u8>,
        /// The id to deploy it under.
        id: Option<String>,
    },
    /// An application package (`application/ogcapppkg+json`) naming a
    /// component, a CWL document or a container image.
    Package(Value),
    /// A CWL document (`application/cwl`, `+json`, `+yaml`).
    Cwl {
        /// The document (YAML or JSON).
        text: String,
        /// Its media type, kept with it.
        media_type: String,
        /// The process of a `$graph` to deploy (`?w=`).
        w: Option<String>,
        /// The id to deploy it under, instead of the document's.
        id: Option<String>,
    },
}

/// Bounds on what may be deployed.
#[derive(Debug, Clone, Copy)]
pub struct DeployLimits {
    /// Largest component, in bytes.
    pub max_module_bytes: usize,
}

/// What a deployment loads to, before its id and texts are settled.
pub(super) struct Loaded {
    /// What goes to the module store.
    pub bytes: Vec<u8>,
    /// What runs its jobs.
    pub implementation: Implementation,
    /// What the unit says of itself.
    pub described: ProcessDescription,
    /// The package as kept.
    pub package: Value,
}

/// A process ready to be registered: loaded, described, and with the
/// package to keep for it.
struct Prepared {
    bytes: Vec<u8>,
    entry: Entry,
    package: Value,
}

impl From<PackageError> for Error {
    fn from(e: PackageError) -> Self {
        match e {
            PackageError::Invalid(m) => Error::InvalidParameter(m),
            PackageError::Unsupported(m) => Error::UnsupportedMediaType(m),
        }
    }
}

impl Registry {
    /// Deploys a new process owned by `who`, private to it, and returns
    /// it. Its id is the one the package or the request gives, else the
    /// component's own.
    pub async fn deploy(&self, what: Deployable, who: &Principal) -> Result<Entry> {
        require(who, Role::Developer, "deploying a process")?;
        let prepared = self
            .prepare(what, None, &who.tenant, Visibility::Private)
            .await?;
        let id = prepared.entry.description.id.clone();
        let _changing = self.changes.lock().await;
        if self.get(&id).is_ok() {
            return Err(Error::DuplicateProcess(id));
        }
        self.admit_module(&who.tenant, None, prepared.bytes.len())
            .await?;
        let stored = async {
            let digest = self.modules.put(&prepared.bytes)?;
            self.store
                .insert_process(&id, digest, &prepared.package, &who.tenant)
                .await
                .map_err(|e| match e {
                    crate::store::StoreError::DuplicateProcess(id) => Error::DuplicateProcess(id),
                    e => e.into(),
                })?;
            Ok::<_, Error>(digest)
        };
        let digest = match stored.await {
            Ok(digest) => digest,
            Err(e) => {
                // Nothing may stay of a deployment that did not happen (a
                // full disk, say): not its module, nor its compiled code.
                self.collect(Digest::of(&prepared.bytes)).await;
                return Err(e);
            }
        };
        self.insert(prepared.entry.clone());
        tracing::info!(%id, %digest, "deployed");
        Ok(prepared.entry)
    }

    /// Replaces deployed process `id`, which `who` must own. Jobs already
    /// running finish on the old component; jobs started from now on run
    /// the new one.
    pub async fn replace(&self, id: &str, what: Deployable, who: &Principal) -> Result<Entry> {
        let old = self.owned(id, who)?;
        let prepared = self
            .prepare(what, Some(id), &old.owner, old.visibility.clone())
            .await?;
        let _changing = self.changes.lock().await;
        let old = self.owned(id, who)?;
        self.admit_module(&old.owner, Some(id), prepared.bytes.len())
            .await?;
        let stored = async {
            let digest = self.modules.put(&prepared.bytes)?;
            self.store
                .replace_process(id, digest, &prepared.package)
                .await?
                .ok_or_else(|| Error::NoSuchProcess(id.into()))?;
            Ok::<_, Error>(digest)
        };
        let digest = match stored.await {
            Ok(digest) => digest,
            Err(e) => {
                self.collect(Digest::of(&prepared.bytes)).await;
                return Err(e);
            }
        };
        self.insert(prepared.entry.clone());
        tracing::info!(%id, %digest, "replaced");
        self.collect(old.process.digest()).await;
        Ok(prepared.entry)
    }

    /// Undeploys process `id`, which `who` must own. Its jobs stay readable.
    pub async fn undeploy(&self, id: &str, who: &Principal) -> Result<()> {
        let _changing = self.changes.lock().await;
        let old = self.owned(id, who)?;
        self.store.delete_process(id).await?;
        self.remove(id);
        tracing::info!(%id, "undeployed");
        self.collect(old.process.digest()).await;
        Ok(())
    }

    /// Refuses a component of `bytes` that `owner`'s module quota has no
    /// room for, `replacing`'s old component not counted. Called with the
    /// change lock held, so two deployments cannot both take the last room.
    async fn admit_module(&self, owner: &str, replacing: Option<&str>, bytes: usize) -> Result<()> {
        let quota = self.quotas.of(owner).await?;
        if quota.module_bytes.is_some() {
            quota.check_modules(owner, self.module_bytes_of(owner, replacing), bytes as u64)?;
        }
        Ok(())
    }

    /// Who may see process `id`; `who` must own it.
    pub fn visibility(&self, id: &str, who: &Principal) -> Result<Visibility> {
        Ok(self.owned(id, who)?.visibility)
    }

    /// Sets who may see process `id`; `who` must own it.
    pub async fn set_visibility(
        &self,
        id: &str,
        visibility: Visibility,
        who: &Principal,
    ) -> Result<()> {
        let _changing = self.changes.lock().await;
        let mut entry = self.owned(id, who)?;
        if !self.store.set_visibility(id, &visibility).await? {
            return Err(Error::NoSuchProcess(id.into()));
        }
        entry.visibility = visibility;
        self.insert(entry);
        Ok(())
    }

    /// What process `id` was deployed with (built-in processes: their
    /// component and description), and its component's digest, if `who`
    /// may see it.
    pub async fn package(&self, id: &str, who: &Principal) -> Result<(Value, Digest)> {
        let entry = self.get_for(id, who)?;
        let digest = entry.process.digest();
        if entry.mutable {
            if let Some(d) = self.store.deployment(id).await? {
                return Ok((d.package, d.digest));
            }
        }
        let description = crate::ogc::process_document(&entry.description, "", entry.mutable);
        Ok((
            json!({"processDescription": {"process": description}, "executionUnit": package::stored_unit(digest)}),
            digest,
        ))
    }

    /// The bytes of module `digest`.
    pub fn module(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.modules
            .get(digest)?
            .ok_or_else(|| Error::Internal(format!("module {digest} is missing from the store")))
    }

    /// The process `id`, if `who` may change it: 404 if it may not see
    /// it, 403 if it is built in or someone else's.
    fn owned(&self, id: &str, who: &Principal) -> Result<Entry> {
        let entry = self.get_for(id, who)?;
        if !entry.mutable {
            return Err(Error::ImmutableProcess(id.into()));
        }
        if !who.owns(&entry.owner) {
            return Err(Error::Forbidden(format!(
                "process '{id}' belongs to another tenant; only its owner may change it"
            )));
        }
        Ok(entry)
    }

    /// Loads what a client sent, checks it, and works out its description.
    /// With `replacing`, the id is fixed and the package may not change it.
    async fn prepare(
        &self,
        what: Deployable,
        replacing: Option<&str>,
        owner: &str,
        visibility: Visibility,
    ) -> Result<Prepared> {
        let (loaded, given_id, description) = self.load(what).await?;
        let mut described = package::apply_description(&loaded.described, description.as_ref())?;
        if let Some(id) = given_id {
            described.id = id;
        }
        if let Some(id) = replacing {
            if described.id != id && description.as_ref().is_some_and(|d| d.get("id").is_some()) {
                return Err(Error::InvalidParameter(format!(
                    "the package describes process '{}', but it is replacing '{id}'",
                    described.id
                )));
            }
            described.id = id.to_string();
        }
        if described.id.is_empty() {
            return Err(Error::InvalidParameter(
                "the CWL document gives its process no id: add an `id`, or deploy with ?id=<process id>".into(),
            ));
        }
        if !package::valid_process_id(&described.id) {
            return Err(Error::InvalidParameter(format!(
                "'{}' is not a valid process id: use 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit",
                described.id
            )));
        }
        Ok(Prepared {
            bytes: loaded.bytes,
            entry: Entry::deployed(loaded.implementation, described, owner, visibility),
            package: loaded.package,
        })
    }

    /// Loads what a client sent: what runs it, the id the request gives,
    /// and the package's `processDescription`.
    async fn load(&self, what: Deployable) -> Result<(Loaded, Option<String>, Option<Value>)> {
        Ok(match what {
            Deployable::Component { bytes, id } => {
                (self.load_component(bytes, None).await?, id, None)
            }
            Deployable::Cwl {
                text,
                media_type,
                w,
                id,
            } => (
                self.load_cwl(text, &media_type, w.as_deref(), None)?,
                id,
                None,
            ),
            Deployable::Package(doc) => {
                let parsed = AppPackage::parse(&doc)?;
                let given = parsed.description.as_ref();
                let loaded = match parsed.unit {
                    ExecutionUnit::Cwl(unit) => self.load_cwl_unit(unit, &doc, given).await?,
                    ExecutionUnit::Docker(unit) => self.load_docker_unit(&unit, &doc, given)?,
                    unit => {
                        let bytes = self.unit_bytes(unit).await?;
                        self.load_component(bytes, Some(&doc)).await?
                    }
                };
                (loaded, None, parsed.description)
            }
        })
    }

    /// Refuses a unit larger than the operator allows.
    pub(super) fn check_size(&self, bytes: usize, what: &str) -> Result<()> {
        if bytes > self.limits.max_module_bytes {
            return Err(Error::PayloadTooLarge(format!(
                "the {what} is {bytes} bytes; this server accepts up to {} bytes",
                self.limits.max_module_bytes
            )));
        }
        Ok(())
    }

    /// Compiles a component (in a child process) and describes it.
    async fn load_component(&self, bytes: Vec<u8>, package: Option<&Value>) -> Result<Loaded> {
        if bytes.is_empty() {
            return Err(Error::InvalidParameter(
                "the component is empty: deploy the bytes of a WebAssembly component".into(),
            ));
        }
        self.check_size(bytes.len(), "component")?;
        let process = self.runtime.load_untrusted(bytes.clone()).await?;
        let digest = process.digest();
        let package = match package {
            Some(doc) => package::as_stored(doc, digest),
            None => json!({"executionUnit": package::stored_unit(digest)}),
        };
        Ok(Loaded {
            bytes,
            described: process.description().clone(),
            implementation: Implementation::Component(process),
            package,
        })
    }

    async fn unit_bytes(&self, unit: ExecutionUnit) -> Result<Vec<u8>> {
        match unit {
            ExecutionUnit::Inline(bytes) => Ok(bytes),
            ExecutionUnit::Stored(digest) => self.modules.get(&digest)?.ok_or_else(|| {
                Error::InvalidParameter(format!("no module {digest} is stored on this server"))
            }),
            ExecutionUnit::Href(href) => Ok(self.fetcher.fetch(&href).await?.bytes),
            ExecutionUnit::Cwl(_) | ExecutionUnit::Docker(_) => Err(Error::Internal(
                "a CWL or docker unit is not a component".into(),
            )),
        }
    }

    /// Rebuilds the entry of a process deployed before this start.
    pub(super) async fn restore(&self, d: &Deployment) -> Result<Entry> {
        let (loaded, _, given) = self.load(Deployable::Package(d.package.clone())).await?;
        let mut described = package::apply_description(&loaded.described, given.as_ref())?;
        described.id = d.id.clone();
        Ok(Entry::deployed(
            loaded.implementation,
            described,
            &d.owner,
            d.visibility.clone(),
        ))
    }

    /// Forgets module `digest` (bytes, compiled artifact, loaded code) once
    /// no process uses it. Jobs still running on it keep their copy.
    async fn collect(&self, digest: Digest) {
        if self.in_use(digest) {
            return;
        }
        match self.store.module_uses(digest).await {
            Ok(0) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(%digest, error = %e, "not collecting a module: its uses are unknown");
                return;
            }
        }
        self.runtime.unload(&digest);
        let [optimized, quick] = self.runtime.artifact_paths(&digest);
        let removed = [
            self.modules.remove(&digest),
            remove_file(&optimized),
            remove_file(&quick),
        ];
        for removed in removed {
            if let Err(e) = removed {
                tracing::warn!(%digest, error = %e, "collecting an unused module failed");
            }
        }
        tracing::info!(%digest, "collected an unused module");
    }
}

fn remove_file(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
