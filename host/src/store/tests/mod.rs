//! Each test opens its own database (a file in a fresh temporary directory,
//! or, when `WADES_TEST_DATABASE` names a PostgreSQL server, a fresh
//! database on it), so tests can run in parallel and nothing leaks between
//! them. The same tests thus hold both stores to one contract.

use super::*;
use crate::model::{JobFilter, JobStatus, LogLine, Usage};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};

mod pg_leases;

/// What a test's store lives in.
pub(super) struct Fixture {
    /// The SQLite file's folder (unused on PostgreSQL).
    _dir: tempfile::TempDir,
    /// The clock of a PostgreSQL store's leases.
    clock: Option<Arc<AtomicI64>>,
}

impl Fixture {
    /// Makes every lease taken so far expire, as if the node holding them
    /// had died: on SQLite, where recovery takes every running job at
    /// start, there is nothing to do.
    fn expire_leases(&self) {
        if let Some(clock) = &self.clock {
            clock.fetch_add(LEASE_MICROS * 2, Ordering::SeqCst);
        }
    }
}

/// The lease of PostgreSQL test stores.
const LEASE_MICROS: i64 = 10_000_000;

/// The admin URL of the PostgreSQL server to test on, if any.
pub(super) fn postgres() -> Option<String> {
    std::env::var("WADES_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A new, empty database on the server of `admin`; returns its URL.
pub(super) async fn new_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("u{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (server, _) = admin.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// A PostgreSQL store on a new database, with a clock the test moves and
/// no background renewal or rescue (tests drive those by hand).
pub(super) async fn fresh_pg(admin: &str) -> (pg::PgStore, Arc<AtomicI64>, String) {
    let url = new_database(admin).await;
    let clock = Arc::new(AtomicI64::new(Utc::now().timestamp_micros()));
    let store = pg::PgStore::connect(&url, pg_options(&clock))
        .await
        .unwrap();
    (store, clock, url)
}

/// Options of a test node on `clock`.
pub(super) fn pg_options(clock: &Arc<AtomicI64>) -> pg::PgOptions {
    pg::PgOptions {
        lease: std::time::Duration::from_micros(LEASE_MICROS as u64),
        clock: Some(clock.clone()),
        background: false,
        max_connections: 8,
        ..Default::default()
    }
}

async fn fresh() -> (Fixture, JobStore) {
    let dir = tempfile::tempdir().unwrap();
    match postgres() {
        Some(admin) => {
            let (store, clock, _) = fresh_pg(&admin).await;
            let fixture = Fixture {
                _dir: dir,
                clock: Some(clock),
            };
            (fixture, store.into())
        }
        None => {
            let store = JobStore::open(&dir.path().join("jobs.db")).await.unwrap();
            (
                Fixture {
                    _dir: dir,
                    clock: None,
                },
                store,
            )
        }
    }
}

/// For tests of the SQLite file itself.
async fn fresh_sqlite() -> (tempfile::TempDir, JobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = JobStore::open(&dir.path().join("jobs.db")).await.unwrap();
    (dir, store)
}

/// A fixed instant plus `secs`, so expected orders do not depend on the clock.
fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).unwrap()
}

/// Now, at the precision the store keeps.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn job(id: &str, process_id: &str, created: DateTime<Utc>) -> JobRecord {
    JobRecord {
        id: id.to_owned(),
        process_id: process_id.to_owned(),
        status: JobStatus::Accepted,
        message: None,
        progress: None,
        created,
        started: None,
        finished: None,
        updated: created,
        attempts: 0,
        request: json!({"inputs": {"x": 1}, "outputs": {}}),
        results: None,
        error: None,
        owner: "alice".into(),
        usage: None,
    }
}

fn ids(jobs: &[JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

fn all() -> JobFilter {
    JobFilter {
        limit: 1000,
        ..JobFilter::default()
    }
}

#[tokio::test]
async fn insert_get_round_trip() {
    let (_dir, store) = fresh().await;
    let full = JobRecord {
        status: JobStatus::Failed,
        message: Some("it broke".into()),
        progress: Some(42),
        started: Some(t(1) + TimeDelta::microseconds(123_456)),
        finished: Some(t(5)),
        updated: t(5),
        attempts: 3,
        request: json!({"inputs": {"a": [1, 2.5, "x", null]}, "response": "document"}),
        results: Some(json!({"r": {"value": true}})),
        error: Some(json!({"title": "boom", "status": 500})),
        ..job("job-1", "echo", t(0))
    };
    store.insert(&full).await.unwrap();
    assert_eq!(store.get("job-1").await.unwrap(), Some(full.clone()));
    assert_eq!(store.get("nope").await.unwrap(), None);

    let sparse = job("job-2", "echo", t(0));
    store.insert(&sparse).await.unwrap();
    assert_eq!(store.get("job-2").await.unwrap(), Some(sparse));

    // Sub-microsecond precision is dropped, nothing more.
    let precise = job("job-3", "echo", t(0) + TimeDelta::nanoseconds(1_234_567));
    store.insert(&precise).await.unwrap();
    assert_eq!(
        store.get("job-3").await.unwrap().unwrap().created,
        t(0) + TimeDelta::microseconds(1_234)
    );

    assert!(
        matches!(store.insert(&full).await, Err(StoreError::DuplicateJob(id)) if id == "job-1")
    );
}

#[tokio::test]
async fn list_is_newest_first_with_paging() {
    let (_dir, store) = fresh().await;
    // Two jobs share a creation time to check the id tie-break.
    for (id, secs) in [("a", 1), ("b", 3), ("c", 2), ("d", 5), ("e", 3)] {
        store.insert(&job(id, "p", t(secs))).await.unwrap();
    }

    let (page, more) = store.list(&all()).await.unwrap();
    assert_eq!(ids(&page), ["d", "b", "e", "c", "a"]);
    assert!(!more);

    let page_of = |limit, offset| JobFilter {
        limit,
        offset,
        ..JobFilter::default()
    };
    let (page, more) = store.list(&page_of(2, 0)).await.unwrap();
    assert_eq!((ids(&page), more), (vec!["d", "b"], true));
    let (page, more) = store.list(&page_of(2, 2)).await.unwrap();
    assert_eq!((ids(&page), more), (vec!["e", "c"], true));
    let (page, more) = store.list(&page_of(2, 4)).await.unwrap();
    assert_eq!((ids(&page), more), (vec!["a"], false));
    let (page, more) = store.list(&page_of(2, 3)).await.unwrap();
    assert_eq!((ids(&page), more), (vec!["c", "a"], false));
    let (page, more) = store.list(&page_of(5, 0)).await.unwrap();
    assert_eq!((page.len(), more), (5, false));
    let (page, more) = store.list(&page_of(2, 10)).await.unwrap();
    assert_eq!((page.len(), more), (0, false));
}

#[tokio::test]
async fn list_filters_by_process_status_and_creation() {
    let (_dir, store) = fresh().await;
    let with = |id: &str, process: &str, secs, status| JobRecord {
        status,
        ..job(id, process, t(secs))
    };
    store
        .insert(&with("1", "echo", 1, JobStatus::Accepted))
        .await
        .unwrap();
    store
        .insert(&with("2", "echo", 2, JobStatus::Running))
        .await
        .unwrap();
    store
        .insert(&with("3", "sum", 3, JobStatus::Successful))
        .await
        .unwrap();
    store
        .insert(&with("4", "sum", 4, JobStatus::Failed))
        .await
        .unwrap();
    store
        .insert(&with("5", "tile", 5, JobStatus::Dismissed))
        .await
        .unwrap();

    let list = |f: JobFilter| {
        let store = store.clone();
        async move { ids(&store.list(&JobFilter { limit: 100, ..f }).await.unwrap().0).join(",") }
    };

    let procs = |p: &[&str]| JobFilter {
        process_ids: p.iter().map(|s| s.to_string()).collect(),
        ..JobFilter::default()
    };
    assert_eq!(list(procs(&["echo"])).await, "2,1");
    assert_eq!(list(procs(&["sum", "tile"])).await, "5,4,3");
    assert_eq!(list(procs(&["unknown"])).await, "");

    let statuses = |s: &[JobStatus]| JobFilter {
        statuses: s.to_vec(),
        ..JobFilter::default()
    };
    assert_eq!(list(statuses(&[JobStatus::Running])).await, "2");
    assert_eq!(
        list(statuses(&[JobStatus::Successful, JobStatus::Failed])).await,
        "4,3"
    );
    assert_eq!(
        list(statuses(&[JobStatus::Dismissed, JobStatus::Accepted])).await,
        "5,1"
    );

    // Both bounds are inclusive.
    let range = |from: Option<i64>, to: Option<i64>| JobFilter {
        created_from: from.map(t),
        created_to: to.map(t),
        ..JobFilter::default()
    };
    assert_eq!(list(range(Some(2), Some(4))).await, "4,3,2");
    assert_eq!(list(range(Some(4), None)).await, "5,4");
    assert_eq!(list(range(None, Some(2))).await, "2,1");
    assert_eq!(list(range(Some(6), None)).await, "");
    // Microsecond bounds are honoured, not rounded to seconds.
    let just_after = JobFilter {
        created_from: Some(t(4) + TimeDelta::microseconds(1)),
        ..JobFilter::default()
    };
    assert_eq!(list(just_after).await, "5");

    // Filters combine with AND, and paging applies to the filtered set.
    let combined = JobFilter {
        process_ids: vec!["echo".into(), "sum".into()],
        statuses: vec![JobStatus::Running, JobStatus::Successful, JobStatus::Failed],
        created_from: Some(t(2)),
        created_to: Some(t(3)),
        ..JobFilter::default()
    };
    assert_eq!(list(combined.clone()).await, "3,2");
    let (page, more) = store
        .list(&JobFilter {
            limit: 1,
            ..combined
        })
        .await
        .unwrap();
    assert_eq!((ids(&page), more), (vec!["3"], true));
}

#[tokio::test]
async fn list_filters_by_duration() {
    let (_dir, store) = fresh().await;
    let ran =
        |id: &str, status, started: Option<DateTime<Utc>>, finished: Option<DateTime<Utc>>| {
            JobRecord {
                status,
                started,
                finished,
                ..job(id, "p", t(0))
            }
        };
    // 10 s and 100 s, finished long ago.
    store
        .insert(&ran(
            "short",
            JobStatus::Successful,
            Some(t(0)),
            Some(t(10)),
        ))
        .await
        .unwrap();
    store
        .insert(&ran("long", JobStatus::Failed, Some(t(0)), Some(t(100))))
        .await
        .unwrap();
    // Still running for about 50 s: measured up to now.
    let started = Utc::now() - TimeDelta::seconds(50);
    store
        .insert(&ran("running", JobStatus::Running, Some(started), None))
        .await
        .unwrap();
    // Never started: no duration at all, even when finished by dismissal.
    store
        .insert(&ran("queued", JobStatus::Accepted, None, None))
        .await
        .unwrap();
    store
        .insert(&ran("gone", JobStatus::Dismissed, None, Some(t(1))))
        .await
        .unwrap();

    let list = |min: Option<f64>, max: Option<f64>| {
        let store = store.clone();
        async move {
            let f = JobFilter {
                min_duration: min,
                max_duration: max,
                limit: 100,
                ..JobFilter::default()
            };
            let (jobs, _) = store.list(&f).await.unwrap();
            let mut ids: Vec<String> = jobs.into_iter().map(|j| j.id).collect();
            ids.sort();
            ids.join(",")
        }
    };
    assert_eq!(list(Some(20.0), None).await, "long,running");
    assert_eq!(list(None, Some(60.0)).await, "running,short");
    assert_eq!(list(Some(20.0), Some(60.0)).await, "running");
    assert_eq!(list(Some(0.0), None).await, "long,running,short");
    // Bounds are inclusive and fractional seconds count.
    assert_eq!(list(Some(10.0), Some(10.0)).await, "short");
    assert_eq!(list(Some(10.5), None).await, "long,running");
    assert_eq!(list(None, Some(9.999)).await, "");
    // Without a duration bound, jobs that never ran are listed as usual.
    assert_eq!(list(None, None).await, "gone,long,queued,running,short");
}

#[tokio::test]
async fn claim_next_takes_oldest_accepted_first() {
    let (_dir, store) = fresh().await;
    store.insert(&job("z", "p", t(1))).await.unwrap();
    store.insert(&job("a", "p", t(1))).await.unwrap();
    store.insert(&job("m", "p", t(0))).await.unwrap();
    // Older, but not accepted: never claimed.
    let running = JobRecord {
        status: JobStatus::Running,
        ..job("r", "p", t(-10))
    };
    store.insert(&running).await.unwrap();
    let failed = JobRecord {
        status: JobStatus::Failed,
        ..job("f", "p", t(-10))
    };
    store.insert(&failed).await.unwrap();

    let before = now();
    let first = store.claim_next().await.unwrap().unwrap();
    assert_eq!(first.id, "m");
    assert_eq!(first.status, JobStatus::Running);
    assert_eq!(first.attempts, 1);
    let started = first.started.unwrap();
    assert!(started >= before && started <= now());
    assert_eq!(first.updated, started);
    assert_eq!(store.get("m").await.unwrap(), Some(first));

    assert_eq!(store.claim_next().await.unwrap().unwrap().id, "a");
    assert_eq!(store.claim_next().await.unwrap().unwrap().id, "z");
    assert_eq!(store.claim_next().await.unwrap(), None);
    assert_eq!(store.count(JobStatus::Running).await.unwrap(), 4);
    assert_eq!(store.count(JobStatus::Accepted).await.unwrap(), 0);
}

#[tokio::test]
async fn claim_takes_a_given_job_only_if_accepted() {
    let (_dir, store) = fresh().await;
    store.insert(&job("old", "p", t(0))).await.unwrap();
    store.insert(&job("new", "p", t(1))).await.unwrap();

    let claimed = store.claim("new").await.unwrap().unwrap();
    assert_eq!(
        (claimed.id.as_str(), claimed.status, claimed.attempts),
        ("new", JobStatus::Running, 1)
    );
    assert_eq!(store.claim("new").await.unwrap(), None);
    assert_eq!(store.claim("unknown").await.unwrap(), None);
    store.dismiss("old").await.unwrap();
    assert_eq!(store.claim("old").await.unwrap(), None);
    assert_eq!(store.get("new").await.unwrap().unwrap().attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job() {
    let (_dir, store) = fresh().await;
    for i in 0..50 {
        store
            .insert(&job(&format!("job-{i:02}"), "p", t(i)))
            .await
            .unwrap();
    }

    let workers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = store.claim_next().await.unwrap() {
                    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
                    mine.push(job.id);
                    tokio::task::yield_now().await;
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }

    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 50, "every job claimed exactly once");
    assert_eq!(unique.len(), 50, "no job claimed twice");
    assert_eq!(store.count(JobStatus::Running).await.unwrap(), 50);
    assert_eq!(store.count(JobStatus::Accepted).await.unwrap(), 0);
}

#[tokio::test]
async fn update_progress_only_while_running() {
    let (_dir, store) = fresh().await;
    store.insert(&job("j", "p", t(0))).await.unwrap();

    assert!(!store
        .update_progress("j", 10, Some("too early"))
        .await
        .unwrap());
    assert!(!store.update_progress("unknown", 10, None).await.unwrap());
    let unchanged = store.get("j").await.unwrap().unwrap();
    assert_eq!((unchanged.progress, unchanged.message), (None, None));

    store.claim("j").await.unwrap().unwrap();
    assert!(store
        .update_progress("j", 40, Some("tile 4 of 10"))
        .await
        .unwrap());
    let j = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        (j.progress, j.message.as_deref()),
        (Some(40), Some("tile 4 of 10"))
    );
    assert!(j.updated >= j.started.unwrap());

    // No message keeps the last one; out-of-range progress is capped.
    assert!(store.update_progress("j", 250, None).await.unwrap());
    let j = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        (j.progress, j.message.as_deref()),
        (Some(100), Some("tile 4 of 10"))
    );

    assert!(store
        .finish("j", JobStatus::Failed, None, None, None, Usage::default())
        .await
        .unwrap()
        .is_some());
    assert!(!store
        .update_progress("j", 50, Some("too late"))
        .await
        .unwrap());
    assert_eq!(store.get("j").await.unwrap().unwrap().message, None);
}

#[tokio::test]
async fn finish_moves_running_jobs_to_a_final_status() {
    let (_dir, store) = fresh().await;
    store.insert(&job("ok", "p", t(0))).await.unwrap();
    store.insert(&job("bad", "p", t(1))).await.unwrap();
    store.insert(&job("queued", "p", t(2))).await.unwrap();
    store.claim("ok").await.unwrap().unwrap();
    store.claim("bad").await.unwrap().unwrap();
    store
        .update_progress("ok", 30, Some("working"))
        .await
        .unwrap();
    store
        .update_progress("bad", 30, Some("working"))
        .await
        .unwrap();

    let results = json!({"sum": {"value": 3}});
    assert!(store
        .finish(
            "ok",
            JobStatus::Successful,
            Some("done"),
            Some(&results),
            None,
            Usage::default()
        )
        .await
        .unwrap()
        .is_some());
    let ok = store.get("ok").await.unwrap().unwrap();
    assert_eq!(ok.status, JobStatus::Successful);
    assert_eq!(
        (ok.progress, ok.message.as_deref()),
        (Some(100), Some("done"))
    );
    assert_eq!((ok.results, ok.error), (Some(results.clone()), None));
    assert_eq!(ok.finished, Some(ok.updated));
    assert!(ok.finished.unwrap() >= ok.started.unwrap());

    let error = json!({"title": "guest trapped", "detail": "unreachable"});
    assert!(store
        .finish(
            "bad",
            JobStatus::Failed,
            Some("trap"),
            None,
            Some(&error),
            Usage::default()
        )
        .await
        .unwrap()
        .is_some());
    let bad = store.get("bad").await.unwrap().unwrap();
    assert_eq!((bad.status, bad.progress), (JobStatus::Failed, Some(30)));
    assert_eq!((bad.results, bad.error), (None, Some(error)));
    assert!(bad.finished.is_some());

    // Only running jobs finish, and only once.
    assert!(store
        .finish("ok", JobStatus::Failed, None, None, None, Usage::default())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get("ok").await.unwrap().unwrap().status,
        JobStatus::Successful
    );
    assert!(store
        .finish(
            "queued",
            JobStatus::Successful,
            None,
            Some(&results),
            None,
            Usage::default()
        )
        .await
        .unwrap()
        .is_none());
    assert!(store
        .finish(
            "unknown",
            JobStatus::Successful,
            None,
            None,
            None,
            Usage::default()
        )
        .await
        .unwrap()
        .is_none());

    for status in [
        JobStatus::Accepted,
        JobStatus::Running,
        JobStatus::Dismissed,
    ] {
        assert!(matches!(
            store.finish("queued", status, None, None, None, Usage::default()).await,
            Err(StoreError::NotFinishable(s)) if s == status
        ));
    }
}

#[tokio::test]
async fn finish_refuses_a_job_dismissed_while_running() {
    let (_dir, store) = fresh().await;
    store.insert(&job("j", "p", t(0))).await.unwrap();
    store.claim_next().await.unwrap().unwrap();
    let dismissed = store.dismiss("j").await.unwrap().unwrap();

    let results = json!({"late": {"value": 1}});
    assert!(store
        .finish(
            "j",
            JobStatus::Successful,
            Some("done"),
            Some(&results),
            None,
            Usage::default()
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.get("j").await.unwrap(), Some(dismissed));
}

#[tokio::test]
async fn dismiss_semantics() {
    let (_dir, store) = fresh().await;
    assert_eq!(store.dismiss("unknown").await.unwrap(), None);

    // A queued job: finished now, never started.
    store.insert(&job("queued", "p", t(0))).await.unwrap();
    let before = now();
    let queued = store.dismiss("queued").await.unwrap().unwrap();
    assert_eq!(queued.status, JobStatus::Dismissed);
    assert_eq!(queued.message.as_deref(), Some("dismissed by client"));
    assert_eq!(queued.started, None);
    assert!(queued.finished.unwrap() >= before);
    assert_eq!(queued.finished, Some(queued.updated));
    assert_eq!(store.get("queued").await.unwrap(), Some(queued.clone()));

    // A running job: stops being running, so it is not claimed or finished.
    store.insert(&job("running", "p", t(1))).await.unwrap();
    let claimed = store.claim("running").await.unwrap().unwrap();
    let running = store.dismiss("running").await.unwrap().unwrap();
    assert_eq!(
        (running.status, running.started),
        (JobStatus::Dismissed, claimed.started)
    );
    assert!(running.finished.is_some());

    // A finished job: results dropped, its finish time and error kept.
    let done = JobRecord {
        status: JobStatus::Successful,
        started: Some(t(2)),
        finished: Some(t(3)),
        updated: t(3),
        attempts: 1,
        progress: Some(100),
        results: Some(json!({"x": {"value": 1}})),
        error: Some(json!({"title": "warning kept"})),
        ..job("done", "p", t(2))
    };
    store.insert(&done).await.unwrap();
    let dismissed = store.dismiss("done").await.unwrap().unwrap();
    assert_eq!(dismissed.status, JobStatus::Dismissed);
    assert_eq!(dismissed.results, None);
    assert_eq!(dismissed.error, done.error);
    assert_eq!(dismissed.finished, Some(t(3)));
    assert!(dismissed.updated > t(3));
    assert_eq!(dismissed.progress, Some(100));

    // Dismissing again changes nothing.
    assert_eq!(
        store.dismiss("done").await.unwrap(),
        Some(dismissed.clone())
    );
    assert_eq!(store.get("done").await.unwrap(), Some(dismissed));
    assert_eq!(store.dismiss("queued").await.unwrap(), Some(queued));
    assert_eq!(store.count(JobStatus::Dismissed).await.unwrap(), 3);
}

#[tokio::test]
async fn recover_interrupted_resumes_or_fails() {
    let (env, store) = fresh().await;
    let running = |id: &str, attempts| JobRecord {
        status: JobStatus::Running,
        started: Some(t(1)),
        progress: Some(70),
        message: Some("halfway".into()),
        attempts,
        ..job(id, "p", t(0))
    };
    store.insert(&running("once", 1)).await.unwrap();
    store.insert(&running("twice", 2)).await.unwrap();
    store.insert(&running("thrice", 3)).await.unwrap();
    let queued = job("queued", "p", t(5));
    store.insert(&queued).await.unwrap();
    let done = JobRecord {
        status: JobStatus::Successful,
        started: Some(t(1)),
        finished: Some(t(2)),
        attempts: 1,
        ..job("done", "p", t(0))
    };
    store.insert(&done).await.unwrap();

    env.expire_leases();
    assert_eq!(store.recover_interrupted(3).await.unwrap(), (2, 1));

    for id in ["once", "twice"] {
        let j = store.get(id).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Accepted);
        assert_eq!(j.message.as_deref(), Some("resumed after a server restart"));
        assert_eq!((j.started, j.progress, j.finished), (None, None, None));
        assert!(j.updated > t(1));
    }
    let failed = store.get("thrice").await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        failed.message.as_deref(),
        Some("interrupted by a server restart")
    );
    let error = failed.error.unwrap();
    assert_eq!(error["error"]["kind"], "host");
    assert!(error["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("server restarted"));
    assert_eq!(failed.finished, Some(failed.updated));
    assert_eq!(failed.attempts, 3);

    assert_eq!(store.get("queued").await.unwrap(), Some(queued));
    assert_eq!(store.get("done").await.unwrap(), Some(done));

    // Resumed jobs queue again in their original order and count the attempt.
    let next = store.claim_next().await.unwrap().unwrap();
    assert_eq!((next.id.as_str(), next.attempts), ("once", 2));

    // Nothing left running but the job just claimed.
    env.expire_leases();
    assert_eq!(store.recover_interrupted(3).await.unwrap(), (1, 0));
    assert_eq!(store.recover_interrupted(3).await.unwrap(), (0, 0));
    // max_attempts = 0 never resumes.
    store.claim("once").await.unwrap().unwrap();
    env.expire_leases();
    assert_eq!(store.recover_interrupted(0).await.unwrap(), (0, 1));
}

#[tokio::test]
async fn logs_round_trip_in_order() {
    let (_dir, store) = fresh().await;
    store.insert(&job("j", "p", t(0))).await.unwrap();
    store.insert(&job("other", "p", t(0))).await.unwrap();
    let line = |secs, level: &str, message: &str| LogLine {
        time: t(secs) + TimeDelta::microseconds(7),
        level: level.into(),
        message: message.into(),
    };

    // Order is append order, even when times tie or go backwards.
    let first = vec![
        line(5, "info", "start"),
        line(5, "debug", "same time"),
        line(4, "warn", "clock skew"),
    ];
    let second = vec![
        line(6, "error", "fail"),
        line(7, "trace", "ünïcode ✓\nsecond line"),
    ];
    store.append_logs("j", &first).await.unwrap();
    store
        .append_logs("other", &[line(1, "info", "not mine")])
        .await
        .unwrap();
    store.append_logs("j", &[]).await.unwrap();
    store.append_logs("j", &second).await.unwrap();

    let expected: Vec<LogLine> = first.into_iter().chain(second).collect();
    assert_eq!(store.logs("j").await.unwrap(), expected);
    assert_eq!(store.logs("other").await.unwrap().len(), 1);
    assert_eq!(store.logs("unknown").await.unwrap(), vec![]);

    // All or nothing for a job that does not exist.
    assert!(matches!(
        store.append_logs("unknown", &[line(1, "info", "x")]).await,
        Err(StoreError::UnknownJob(id)) if id == "unknown"
    ));
    assert_eq!(store.logs("unknown").await.unwrap(), vec![]);
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    // A nested path also checks that the directory is created.
    let path = dir.path().join("state").join("jobs.db");

    let store = JobStore::open(&path).await.unwrap();
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        store.insert(&job(id, "p", t(i as i64))).await.unwrap();
    }
    store.claim_next().await.unwrap().unwrap();
    store
        .finish(
            "a",
            JobStatus::Successful,
            Some("done"),
            Some(&json!({"v": 1})),
            None,
            Usage::default(),
        )
        .await
        .unwrap();
    store.claim_next().await.unwrap().unwrap();
    store.update_progress("b", 60, Some("busy")).await.unwrap();
    let logs = vec![LogLine {
        time: t(9),
        level: "info".into(),
        message: "hello".into(),
    }];
    store.append_logs("a", &logs).await.unwrap();

    let (before, _) = store.list(&all()).await.unwrap();
    store.close().await;

    // Opening again runs the migrations again, which must be a no-op.
    let store = JobStore::open(&path).await.unwrap();
    let (after, more) = store.list(&all()).await.unwrap();
    assert_eq!((after, more), (before, false));
    assert_eq!(store.logs("a").await.unwrap(), logs);
    assert_eq!(store.count(JobStatus::Successful).await.unwrap(), 1);
    assert_eq!(store.count(JobStatus::Running).await.unwrap(), 1);
    assert_eq!(store.count(JobStatus::Accepted).await.unwrap(), 1);

    // The restart path: the job left running is resumed.
    assert_eq!(store.recover_interrupted(3).await.unwrap(), (1, 0));
    store.append_logs("a", &logs).await.unwrap();
    assert_eq!(store.logs("a").await.unwrap().len(), 2);
}

#[tokio::test]
async fn claim_batch_takes_the_oldest_in_order_and_publishes_before_later_writes() {
    let (_dir, store) = fresh().await;
    for (i, id) in ["c", "a", "d", "b"].into_iter().enumerate() {
        store.insert(&job(id, "p", t(i as i64))).await.unwrap();
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let published = seen.clone();
    let jobs = store
        .claim_batch(3, None, move |jobs: &Vec<JobRecord>| {
            published
                .lock()
                .unwrap()
                .extend(jobs.iter().map(|j| j.id.clone()))
        })
        .await
        .unwrap();
    assert_eq!(ids(&jobs), ["c", "a", "d"]);
    assert_eq!(*seen.lock().unwrap(), ["c", "a", "d"]);
    assert!(jobs.iter().all(|j| j.status == JobStatus::Running));
    assert_eq!(
        ids(&store.claim_batch(10, None, |_| {}).await.unwrap()),
        ["b"]
    );
    assert!(store
        .claim_batch(10, None, |_| {})
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn claims_take_turns_across_owners_within_their_running_caps() {
    let (_dir, store) = fresh().await;
    let owned = |id: &str, owner: &str, at: i64| JobRecord {
        owner: owner.into(),
        ..job(id, "p", t(at))
    };
    for i in 0..5 {
        store
            .insert(&owned(&format!("a{i}"), "alice", i))
            .await
            .unwrap();
    }
    store.insert(&owned("b0", "bob", 10)).await.unwrap();
    store.insert(&owned("c0", "carol", 11)).await.unwrap();
    // Alice already runs one; bob and carol run none, so they go first.
    assert_eq!(
        ids(&store.claim_batch(1, None, |_| {}).await.unwrap()),
        ["a0"]
    );
    assert_eq!(
        ids(&store.claim_batch(2, None, |_| {}).await.unwrap()),
        ["b0", "c0"]
    );
    // A cap of 2 running per owner: alice gets one more, then nothing.
    assert_eq!(
        ids(&store.claim_batch(5, Some(2), |_| {}).await.unwrap()),
        ["a1"]
    );
    assert!(store
        .claim_batch(5, Some(2), |_| {})
        .await
        .unwrap()
        .is_empty());
    // Her own quota wins over the default cap.
    let own = crate::tenancy::quota::Quota {
        max_running: Some(3),
        ..Default::default()
    };
    store.set_tenant_quota("alice", Some(&own)).await.unwrap();
    assert_eq!(
        ids(&store.claim_batch(5, Some(2), |_| {}).await.unwrap()),
        ["a2"]
    );
    store.set_tenant_quota("alice", None).await.unwrap();
    assert_eq!(
        ids(&store.claim_batch(5, None, |_| {}).await.unwrap()),
        ["a3", "a4"]
    );
}

#[tokio::test]
async fn usage_counts_fuel_by_day_and_results_of_stored_successful_jobs() {
    let (_dir, store) = fresh().await;
    let ended = |id: &str, owner: &str, status, fuel, result_bytes| JobRecord {
        status,
        owner: owner.into(),
        finished: Some(now()),
        usage: Some(Usage { fuel, result_bytes }),
        ..job(id, "p", now())
    };
    store
        .insert(&ended("kept", "alice", JobStatus::Successful, 7, 100))
        .await
        .unwrap();
    store
        .insert(&ended("failed", "alice", JobStatus::Failed, 5, 0))
        .await
        .unwrap();
    store
        .insert(&ended("other", "bob", JobStatus::Successful, 1, 1))
        .await
        .unwrap();
    // A job that ran under its dismissal: no results, its fuel counts.
    store.insert(&job("gone", "p", now())).await.unwrap();
    store.claim("gone").await.unwrap();
    store.dismiss("gone").await.unwrap();
    let burnt = Usage {
        fuel: 11,
        result_bytes: 0,
    };
    store.set_usage("gone", burnt).await.unwrap();
    assert_eq!(store.get("gone").await.unwrap().unwrap().usage, Some(burnt));

    assert_eq!(store.result_bytes("alice").await.unwrap(), 100);
    let fuel = |since| {
        let store = store.clone();
        async move { store.fuel_since("alice", since).await.unwrap() }
    };
    assert_eq!(fuel(now() - TimeDelta::hours(1)).await, 23);
    assert_eq!(fuel(now() + TimeDelta::hours(1)).await, 0);
    store.dismiss("kept").await.unwrap();
    assert_eq!(
        store.result_bytes("alice").await.unwrap(),
        0,
        "dismissed results are gone"
    );

    // Retention deletes the jobs; the day's fuel still counts them.
    let deleted = store
        .delete_final_before(Some(now() + TimeDelta::seconds(1)))
        .await
        .unwrap();
    assert_eq!(deleted.len(), 4);
    assert_eq!(fuel(quota_day_start()).await, 23);
    assert_eq!(store.fuel_since("bob", quota_day_start()).await.unwrap(), 1);
    assert_eq!(fuel(quota_day_start() + TimeDelta::days(1)).await, 0);
}

/// The start of today, as the daily fuel quota counts.
fn quota_day_start() -> DateTime<Utc> {
    crate::tenancy::quota::start_of_day(Utc::now())
}

#[tokio::test]
async fn retention_deletes_old_final_jobs_with_their_logs() {
    let (_dir, store) = fresh().await;
    let mut old = job("old", "p", t(0));
    old.status = JobStatus::Successful;
    old.finished = Some(t(1));
    let mut queued = job("queued", "p", t(0));
    queued.status = JobStatus::Accepted;
    let mut fresh_job = job("new", "p", now());
    fresh_job.status = JobStatus::Failed;
    fresh_job.finished = Some(now());
    for j in [&old, &queued, &fresh_job] {
        store.insert(j).await.unwrap();
    }
    let line = LogLine {
        time: t(1),
        level: "info".into(),
        message: "hi".into(),
    };
    store.append_logs("old", &[line]).await.unwrap();
    assert!(
        store.delete_final_before(None).await.unwrap().is_empty(),
        "no retention: kept"
    );
    let deleted = store
        .delete_final_before(Some(now() - TimeDelta::seconds(60)))
        .await
        .unwrap();
    assert_eq!(deleted, ["old"]);
    assert!(store.get("old").await.unwrap().is_none());
    assert!(store.logs("old").await.unwrap().is_empty());
    assert!(
        store.get("queued").await.unwrap().is_some() && store.get("new").await.unwrap().is_some()
    );
}

/// Concurrent writes share transactions; one that fails (a duplicate id)
/// must fail alone, and every other write must be durable when answered.
#[tokio::test]
async fn concurrent_writes_commit_together_and_fail_alone() {
    let (dir, store) = fresh_sqlite().await;
    store.insert(&job("taken", "p", t(0))).await.unwrap();
    let writes: Vec<_> = (0..400)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = if i % 100 == 7 {
                    "taken".to_string()
                } else {
                    format!("job-{i:03}")
                };
                store.insert(&job(&id, "p", t(i))).await
            })
        })
        .collect();
    let mut failed = 0;
    for w in writes {
        match w.await.unwrap() {
            Ok(()) => {}
            Err(StoreError::DuplicateJob(id)) => {
                assert_eq!(id, "taken");
                failed += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(failed, 4);
    drop(store);
    // What was answered as written is in the file, seen by a new opener.
    let reopened = JobStore::open(&dir.path().join("jobs.db")).await.unwrap();
    assert_eq!(reopened.count(JobStatus::Accepted).await.unwrap(), 397);
}

#[tokio::test]
async fn finish_returns_the_finished_job() {
    let (_dir, store) = fresh().await;
    store.insert(&job("j", "p", t(0))).await.unwrap();
    store.claim("j").await.unwrap().unwrap();
    let done = store
        .finish(
            "j",
            JobStatus::Successful,
            Some("done"),
            Some(&json!({"v": 1})),
            None,
            Usage::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(done.clone()), store.get("j").await.unwrap());
    assert_eq!(
        (done.status, done.progress),
        (JobStatus::Successful, Some(100))
    );
}
