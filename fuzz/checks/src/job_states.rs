//! Job state transitions on the real SQLite job store, against a model of
//! the OGC job life cycle: accepted → running → successful | failed, and
//! dismissed from any state, for good. A sequence of operations on a few
//! jobs (one byte each: operation and job) must leave every job where the
//! model says, and every answer the store gives must agree with it.

use chrono::Utc;
use serde_json::json;
use std::sync::OnceLock;
use wades::model::{JobRecord, JobStatus, Usage};
use wades::store::{JobStore, StoreError};

/// Jobs one input plays with.
const JOBS: usize = 4;

struct Store {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    store: JobStore,
}

fn store() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let store = runtime
            .block_on(JobStore::open(&dir.path().join("jobs.db")))
            .expect("the store opens");
        Store {
            _dir: dir,
            runtime,
            store,
        }
    })
}

fn record(id: &str) -> JobRecord {
    let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    JobRecord {
        id: id.into(),
        process_id: "fuzzed".into(),
        status: JobStatus::Accepted,
        message: None,
        progress: None,
        created: now,
        started: None,
        finished: None,
        updated: now,
        attempts: 0,
        request: json!({"inputs": {}}),
        results: None,
        error: None,
        owner: "fuzzer".into(),
        usage: None,
    }
}

/// Runs the operations `data` encodes.
pub fn check(data: &[u8]) {
    let s = store();
    // Fresh ids per input: inputs never see each other's jobs.
    let ids: Vec<String> = (0..JOBS)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let mut model: [Option<JobStatus>; JOBS] = [None; JOBS];
    s.runtime.block_on(async {
        for &byte in data.iter().take(64) {
            let j = usize::from(byte) % JOBS;
            let (id, before) = (&ids[j], model[j]);
            match (byte >> 2) % 8 {
                0 => {
                    let r = s.store.insert(&record(id)).await;
                    match before {
                        None => {
                            r.expect("inserting a new job");
                            model[j] = Some(JobStatus::Accepted);
                        }
                        Some(_) => assert!(
                            matches!(r, Err(StoreError::DuplicateJob(_))),
                            "a second insert of {id}: {r:?}"
                        ),
                    }
                }
                1 => {
                    let claimed = s.store.claim(id).await.expect("claim");
                    assert_eq!(claimed.is_some(), before == Some(JobStatus::Accepted));
                    if let Some(job) = claimed {
                        assert_eq!(job.status, JobStatus::Running);
                        assert!(job.started.is_some() && job.attempts == 1);
                        model[j] = Some(JobStatus::Running);
                    }
                }
                op @ (2 | 3 | 4) => {
                    let status = [
                        JobStatus::Successful,
                        JobStatus::Failed,
                        JobStatus::Accepted,
                    ][usize::from(op - 2)];
                    let results = (status == JobStatus::Successful).then(|| json!({"r": 1}));
                    let r = s
                        .store
                        .finish(
                            id,
                            status,
                            Some("done"),
                            results.as_ref(),
                            None,
                            Usage::default(),
                        )
                        .await;
                    if status == JobStatus::Accepted {
                        assert!(matches!(r, Err(StoreError::NotFinishable(_))), "{r:?}");
                        continue;
                    }
                    let finished = r.expect("finish");
                    assert_eq!(finished.is_some(), before == Some(JobStatus::Running));
                    if let Some(job) = finished {
                        assert_eq!(job.status, status);
                        assert!(job.finished.is_some());
                        assert_eq!(job.results, results);
                        model[j] = Some(status);
                    }
                }
                5 => {
                    let dismissed = s.store.dismiss(id).await.expect("dismiss");
                    assert_eq!(dismissed.is_some(), before.is_some());
                    if let Some(job) = dismissed {
                        assert_eq!(job.status, JobStatus::Dismissed);
                        assert_eq!(job.results, None, "a dismissed job keeps no results");
                        assert!(job.finished.is_some());
                        model[j] = Some(JobStatus::Dismissed);
                    }
                }
                6 => {
                    let running = s
                        .store
                        .update_progress(id, byte, None)
                        .await
                        .expect("progress");
                    assert_eq!(running, before == Some(JobStatus::Running));
                }
                _ => {}
            }
            let stored = s.store.get(id).await.expect("get").map(|job| job.status);
            assert_eq!(stored, model[j], "job {j} after operation {byte:#04x}");
        }
    });
}
