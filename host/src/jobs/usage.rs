//! What jobs use of their owner's quota: jobs running per owner on this
//! node, and the fuel and result bytes of each run.

use super::Inner;
use crate::ogc::results::StoredOutput;
use crate::runtime::RunError;
use crate::tenancy::quota::Quota;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Counts of running jobs by owner.
#[derive(Default)]
pub(super) struct RunningOwners(Arc<Mutex<HashMap<String, u64>>>);

/// One running job, counted until dropped.
pub(super) struct Counted {
    owners: Arc<Mutex<HashMap<String, u64>>>,
    owner: String,
}

impl RunningOwners {
    /// How many jobs of `owner` run here.
    pub(super) fn count(&self, owner: &str) -> u64 {
        self.0
            .lock()
            .expect("owners")
            .get(owner)
            .copied()
            .unwrap_or(0)
    }

    /// Counts a job of `owner` while the result lives.
    pub(super) fn enter(&self, owner: &str) -> Counted {
        *self
            .0
            .lock()
            .expect("owners")
            .entry(owner.to_string())
            .or_default() += 1;
        Counted {
            owners: self.0.clone(),
            owner: owner.to_string(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut owners = self.owners.lock().expect("owners");
        if let Some(n) = owners.get_mut(&self.owner) {
            *n -= 1;
            if *n == 0 {
                owners.remove(&self.owner);
            }
        }
    }
}

/// Bytes a job's results take: its output files (if it has an output
/// folder) and its inline values.
pub(super) fn result_bytes(outputs: Option<&Path>, stored: &[(String, StoredOutput)]) -> u64 {
    let inline = serde_json::to_vec(stored).map_or(0, |v| v.len() as u64);
    inline + outputs.map_or(0, dir_bytes)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Refuses results of `bytes` that `owner`'s result quota has no room for.
pub(super) async fn admit_results(
    inner: &Inner,
    owner: &str,
    quota: &Quota,
    bytes: u64,
) -> Result<(), RunError> {
    if quota.result_bytes.is_none() {
        return Ok(());
    }
    let used = inner
        .store
        .result_bytes(owner)
        .await
        .map_err(|e| RunError::Host(e.to_string()))?;
    quota
        .check_results(owner, used, bytes)
        .map_err(|e| match e {
            crate::error::Error::PayloadTooLarge(m) => RunError::ResultsTooLarge(m),
            e => RunError::ResultStorageFull(e.to_string()),
        })
}
