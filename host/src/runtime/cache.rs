//! On-disk cache of compiled components, keyed by module hash and engine.
//!
//! Deserializing compiled code is only sound for code we compiled ourselves,
//! so every artifact carries an HMAC under a key private to this data
//! directory. An artifact that fails the check (corrupt, truncated, planted)
//! is never deserialized: the module is compiled again and the file replaced.

use super::engine::Tier;
use super::LoadError;
use crate::model::Digest;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

const MAGIC: &[u8; 8] = b"WADESCW1";
const MAC_LEN: usize = 32;
const KEY_FILE: &str = "artifact.key";

/// How a component was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A verified artifact was loaded from disk.
    Hit,
    /// No artifact existed; the module was compiled and cached.
    Compiled,
    /// An artifact existed but failed verification; it was replaced.
    Recompiled {
        /// Why the old artifact was rejected.
        reason: String,
    },
}

/// Why no usable artifact was loaded.
pub(crate) enum Miss {
    /// None is cached.
    Absent,
    /// One is cached but was refused, for this reason.
    Rejected(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Absent => f.write_str("no artifact was cached"),
            Miss::Rejected(reason) => f.write_str(reason),
        }
    }
}

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
    fingerprint: String,
    /// Set apart for quick-tier artifacts, so that an operator (or a
    /// benchmark) can tell from the folder which code is still Winch's.
    suffix: &'static str,
}

impl ArtifactCache {
    pub(crate) fn open(dir: &Path, fingerprint: String, tier: Tier) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            key,
            fingerprint,
            suffix: match tier {
                Tier::Optimized => "cwasm",
                Tier::Quick => "winch.cwasm",
            },
        })
    }

    /// The engine fingerprint artifacts here are compiled for.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Where the artifact of `digest` lives.
    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.{}",
            digest.hex(),
            self.fingerprint,
            self.suffix
        ))
    }

    fn mac(&self, digest: &Digest, artifact: &[u8]) -> Hmac<Sha256> {
        mac(&self.key, &digest.hex(), &self.fingerprint, artifact)
    }

    /// The artifact of `digest`, deserialized only if it passes the HMAC check.
    pub(crate) fn load_verified(
        &self,
        engine: &Engine,
        digest: &Digest,
    ) -> Result<Component, Miss> {
        let file = match std::fs::read(self.path(digest)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
            Err(e) => return Err(Miss::Rejected(format!("unreadable artifact: {e}"))),
        };
        let artifact = self.verified(digest, &file).map_err(Miss::Rejected)?;
        // SAFETY: the HMAC proves we serialized these bytes with an engine of
        // the same fingerprint.
        unsafe { Component::deserialize(engine, artifact) }
            .map_err(|e| Miss::Rejected(format!("verified artifact did not load: {e}")))
    }

    /// Loads the verified artifact of `bytes`, or compiles and caches it.
    /// Only for trusted bytes: the compile runs in this process, unbounded.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let rejected = match self.load_verified(engine, digest) {
            Ok(c) => return Ok((c, CacheOutcome::Hit)),
            Err(Miss::Absent) => None,
            Err(Miss::Rejected(reason)) => Some(reason),
        };
        if let Some(reason) = &rejected {
            tracing::warn!(%digest, %reason, "recompiling a rejected artifact");
        }
        let component =
            Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let artifact = component
            .serialize()
            .map_err(|e| LoadError::Host(e.to_string()))?;
        self.store(digest, &artifact).map_err(|e| {
            let message = format!("caching artifact: {e}");
            if crate::error::is_disk_full(&e) {
                LoadError::DiskFull(message)
            } else {
                LoadError::Host(message)
            }
        })?;
        let outcome = match rejected {
            Some(reason) => CacheOutcome::Recompiled { reason },
            None => CacheOutcome::Compiled,
        };
        Ok((component, outcome))
    }

    fn verified<'a>(&self, digest: &Digest, file: &'a [u8]) -> Result<&'a [u8], String> {
        verify(&self.key, &digest.hex(), &self.fingerprint, file)
    }

    /// Signs `artifact` (serialized by an engine of this cache's fingerprint)
    /// and puts it where [`Self::load_verified`] looks. The one writer of
    /// artifacts, shared by in-process compiles and the compile child.
    pub(crate) fn store(&self, digest: &Digest, artifact: &[u8]) -> std::io::Result<()> {
        let tag = self.mac(digest, artifact).finalize().into_bytes();
        let mut file = Vec::with_capacity(MAGIC.len() + MAC_LEN + artifact.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&tag);
        file.extend_from_slice(artifact);
        // Write then rename, so a reader never sees half a file. The pid keeps
        // two processes compiling the same bytes from sharing a temp file.
        let path = self.path(digest);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        crate::modules::write_then_rename(&tmp, &path, &file)
    }
}

/// The HMAC of an artifact: over the module's digest and the engine's
/// fingerprint too, so an artifact cannot be passed off as another's.
fn mac(key: &[u8; 32], digest_hex: &str, fingerprint: &str, artifact: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(digest_hex.as_bytes());
    mac.update(fingerprint.as_bytes());
    mac.update(artifact);
    mac
}

/// The serialized code in artifact `file`, if its header and HMAC hold.
fn verify<'a>(
    key: &[u8; 32],
    digest_hex: &str,
    fingerprint: &str,
    file: &'a [u8],
) -> Result<&'a [u8], String> {
    let header = MAGIC.len() + MAC_LEN;
    if file.len() < header || &file[..MAGIC.len()] != MAGIC {
        return Err("artifact header is missing".into());
    }
    let (tag, artifact) = file[MAGIC.len()..].split_at(MAC_LEN);
    mac(key, digest_hex, fingerprint, artifact)
        .verify_slice(tag)
        .map_err(|_| "artifact failed its integrity check".to_string())?;
    Ok(artifact)
}

/// What `wades store verify` finds of one file in the artifact folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactFinding {
    /// A signed artifact whose HMAC holds, compiled from module `digest`.
    Sound {
        /// The module it was compiled from.
        digest: Digest,
    },
    /// An artifact the server would refuse to load (and recompile).
    Damaged {
        /// The module it claims to be compiled from.
        digest: Digest,
        /// Why it is refused.
        reason: String,
    },
    /// A half-written file left by a writer that died before its rename.
    Leftover,
    /// The cache's signing key itself.
    Key,
    /// Nothing the cache writes.
    Foreign,
}

/// Judges the artifact folder's file `name` holding `file`, against the
/// key of `dir` (`None` if the folder has no usable key: no artifact can
/// then be verified). No engine is needed: the HMAC alone says whether the
/// server made the file, which is all a load trusts.
pub fn audit_artifact(key: Option<&[u8; 32]>, name: &str, file: &[u8]) -> ArtifactFinding {
    if name == KEY_FILE {
        return ArtifactFinding::Key;
    }
    let Some((stem, tail)) = name.split_once('.') else {
        return ArtifactFinding::Foreign;
    };
    let Some((hex, fingerprint)) = stem.split_once('-') else {
        return ArtifactFinding::Foreign;
    };
    let Some(digest) = Digest::parse(hex).filter(|_| hex.len() == 64) else {
        return ArtifactFinding::Foreign;
    };
    let last = tail.rsplit('.').next().unwrap_or(tail);
    if last.starts_with("tmp") {
        return ArtifactFinding::Leftover;
    }
    if tail != "cwasm" && tail != "winch.cwasm" {
        return ArtifactFinding::Foreign;
    }
    let Some(key) = key else {
        return ArtifactFinding::Damaged {
            digest,
            reason: "the cache's signing key is missing".into(),
        };
    };
    match verify(key, hex, fingerprint, file) {
        Ok(_) => ArtifactFinding::Sound { digest },
        Err(reason) => ArtifactFinding::Damaged { digest, reason },
    }
}

/// The signing key of the artifact folder `dir`, without creating one.
pub fn artifact_key(dir: &Path) -> Option<[u8; 32]> {
    let bytes = std::fs::read(dir.join(KEY_FILE)).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(&tmp)?.write_all(&key)?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(key)
}
