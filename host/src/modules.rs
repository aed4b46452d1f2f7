//! The content-addressed module store: every deployed component's bytes,
//! once per sha256, whatever number of processes use them.
//!
//! Blobs are written to a temporary name and renamed, so a reader never sees
//! half a module, and read back with their hash checked, so a blob damaged on
//! disk is reported instead of run.

use crate::model::Digest;
use std::io;
use std::path::{Path, PathBuf};

/// Modules by digest, in a folder of `<hex>.wasm` files.
#[derive(Debug, Clone)]
pub struct ModuleStore {
    dir: PathBuf,
}

impl ModuleStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ModuleStore { dir: dir.into() })
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}.wasm", digest.hex()))
    }

    /// Stores `bytes` unless a module with the same digest is already here,
    /// and returns their digest.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.path(&digest);
        if !path.exists() {
            let tmp = path.with_extension(format!("tmp{}", unique()));
            write_then_rename(&tmp, &path, bytes)?;
        }
        Ok(digest)
    }

    /// The bytes of module `digest`, `None` if it is not stored. A blob whose
    /// bytes no longer hash to its name is an error, never returned.
    pub fn get(&self, digest: &Digest) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(digest)) {
            Ok(bytes) if Digest::of(&bytes) == *digest => Ok(Some(bytes)),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("module {digest} is damaged: its bytes no longer match its digest"),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bytes of module `digest`; 0 if it is not stored.
    pub fn size(&self, digest: &Digest) -> u64 {
        std::fs::metadata(self.path(digest)).map_or(0, |m| m.len())
    }

    /// Whether module `digest` is stored.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).exists()
    }

    /// Removes module `digest`; removing a missing one is not an error.
    pub fn remove(&self, digest: &Digest) -> io::Result<()> {
        match std::fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every stored module.
    pub fn digests(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(d) = name.strip_suffix(".wasm").and_then(Digest::parse) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// Writes `bytes` to `tmp`, then renames it to `path`, so that `path` is
/// either absent or whole. A failed write (a full disk) removes `tmp`
/// rather than leave half a file taking the space that is short.
pub(crate) fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let written = std::fs::write(tmp, bytes).and_then(|()| std::fs::rename(tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// Distinguishes temporary files of concurrent writers.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_bytes_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModuleStore::open(dir.path()).unwrap();
        let a = store.put(b"component").unwrap();
        let b = store.put(b"component").unwrap();
        assert_eq!(a, b);
        assert_eq!(store.digests().unwrap(), vec![a]);
        assert_eq!(store.get(&a).unwrap().as_deref(), Some(&b"component"[..]));
    }

    #[test]
    fn a_damaged_blob_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModuleStore::open(dir.path()).unwrap();
        let d = store.put(b"component").unwrap();
        std::fs::write(dir.path().join(format!("{}.wasm", d.hex())), b"tampered").unwrap();
        assert!(store.get(&d).is_err());
        store.remove(&d).unwrap();
        assert_eq!(store.get(&d).unwrap(), None);
    }
}
