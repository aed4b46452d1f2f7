//! A capped dry run: a process run once on the given inputs, outside any
//! job, to learn what a job of them would use. Its outputs are thrown away;
//! nothing is stored or listed.

use super::{staging, Inner, Jobs};
use crate::error::{Error, Result};
use crate::model::{Limits, NamedValue};
use crate::ogc::results::StoredOutput;
use crate::registry::Implementation;
use crate::runtime::{Job as RuntimeJob, JobDirs, JobMeter, RunError};
use std::sync::Arc;
use std::time::Duration;

/// What a dry run used, and how it ended.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Fuel burnt (the cap, if it ran out).
    pub fuel: u64,
    /// Most linear memory the guest held, in bytes.
    pub memory_peak: u64,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// Bytes of the inputs, as [`super::input_bytes`] counts them.
    pub input_bytes: u64,
    /// Bytes its results would take in storage, counted as for a job.
    pub result_bytes: u64,
    /// Why it did not succeed, if it did not: out of fuel means the job
    /// costs more than the cap.
    pub failure: Option<RunError>,
}

impl Jobs {
    /// Runs process `process_id` once on `inputs` for `owner`, under the
    /// owner's limits and at most `fuel_cap` fuel. Only WebAssembly
    /// components can be dry-run: a CWL process's container steps cannot be
    /// capped by fuel.
    pub async fn dry_run(
        &self,
        process_id: &str,
        inputs: Vec<NamedValue>,
        owner: &str,
        fuel_cap: u64,
    ) -> Result<DryRun> {
        let inner = self.inner.clone();
        let (process_id, owner) = (process_id.to_string(), owner.to_string());
        // On the job threads, like every guest, so that a dry run does
        // not take CPU from the HTTP workers.
        self.inner
            .threads
            .handle()
            .spawn(async move { run(&inner, &process_id, inputs, &owner, fuel_cap).await })
            .await
            .map_err(|e| Error::Internal(format!("dry run: {e}")))?
    }
}

async fn run(
    inner: &Inner,
    process_id: &str,
    inputs: Vec<NamedValue>,
    owner: &str,
    fuel_cap: u64,
) -> Result<DryRun> {
    let entry = inner.registry.get(process_id)?;
    let Implementation::Component(component) = &entry.process else {
        return Err(Error::InvalidParameter(format!(
            "process '{process_id}' is a CWL process: only WebAssembly processes can be dry-run, \
             so it can be quoted only from its execution history"
        )));
    };
    let input_bytes = super::input_bytes(&inputs);
    let root = inner.dir.join(format!(".dry-run-{}", uuid::Uuid::new_v4()));
    let dirs = JobDirs {
        inputs: root.join("inputs"),
        outputs: root.join("outputs"),
    };
    let result = async {
        for d in [&dirs.inputs, &dirs.outputs] {
            std::fs::create_dir_all(d)?;
        }
        let inputs =
            staging::stage(&inner.fetcher, &entry.description, inputs, &dirs.inputs).await?;
        // A dry run is a run: the owner's quota admits it like a sync job
        // and it counts as running while it runs.
        let running = inner.owners.count(owner);
        let quota = inner.quotas.admit_sync(owner, running).await?;
        let _counted = inner.owners.enter(owner);
        let cap = Limits {
            fuel: Some(fuel_cap),
            ..Limits::default()
        };
        let meter = Arc::new(JobMeter::default());
        let mut job = RuntimeJob::new(inputs)
            .with_limits(quota.job_limits().lowered_by(cap))
            .with_meter(meter.clone());
        let mounted = entry.description.stages_files();
        if mounted {
            job = job.with_dirs(dirs.clone());
        }
        let outcome = inner.runtime.execute(component, job).await;
        let (fuel, failure, result_bytes) = match outcome {
            Ok(output) => {
                let fuel = output.fuel_consumed.unwrap_or(0);
                // Stored as a job's would be (in the dry run's folder, then
                // dropped), so that the count is the same.
                let mut stored = Vec::with_capacity(output.outputs.len());
                for (i, out) in output.outputs.into_iter().enumerate() {
                    stored.push((out.id.clone(), super::store_output(&dirs, i, out)?));
                }
                let files = mounted
                    || stored
                        .iter()
                        .any(|(_, o)| matches!(o, StoredOutput::File { .. }));
                let bytes =
                    super::usage::result_bytes(files.then_some(dirs.outputs.as_path()), &stored);
                (fuel, None, bytes)
            }
            Err(e @ RunError::OutOfFuel { fuel }) => (fuel, Some(e), 0),
            Err(e) => (0, Some(e), 0),
        };
        Ok::<_, Error>(DryRun {
            fuel,
            memory_peak: meter.memory_peak(),
            wall: meter.elapsed(),
            input_bytes,
            result_bytes,
            failure,
        })
    }
    .await;
    super::remove_dir(&root);
    result
}
