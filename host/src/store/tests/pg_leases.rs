//! The lease protocol on PostgreSQL, with an injected clock: several nodes
//! (stores with their own node names) on one database, and every order of
//! a worker finishing and a rescuer taking its job over.
//!
//! These run only when `WADES_TEST_DATABASE` names a PostgreSQL server
//! (`cargo xtask test` starts one); otherwise they return at once.

use super::*;
use crate::store::backend::{JobTable, StoreEvent};
use crate::store::pg::{queries, PgStore};
use std::time::Duration;

/// Two nodes on one new database, sharing a clock.
async fn two_nodes() -> Option<(PgStore, PgStore, Arc<AtomicI64>)> {
    let admin = postgres()?;
    let (a, clock, url) = fresh_pg(&admin).await;
    let b = PgStore::connect(&url, pg_options(&clock)).await.unwrap();
    Some((a, b, clock))
}

fn expire(clock: &AtomicI64) {
    clock.fetch_add(LEASE_MICROS * 2, Ordering::SeqCst);
}

fn done() -> serde_json::Value {
    json!({"v": {"value": 1}})
}

async fn finish_ok(store: &PgStore, id: &str) -> Option<JobRecord> {
    store
        .finish(
            id,
            JobStatus::Successful,
            Some("done"),
            Some(&done()),
            None,
            Usage::default(),
        )
        .await
        .unwrap()
}

/// How many times job `id` became final (the audit trigger's rows).
async fn final_states(store: &PgStore, id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM job_final_states WHERE job_id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_expired_lease_is_rescued_once_and_its_stale_worker_cannot_write() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    a.insert(&job("j", "p", t(0))).await.unwrap();
    assert_eq!(a.claim("j").await.unwrap().unwrap().attempts, 1);
    // Not expired yet: nothing to rescue.
    assert_eq!(b.recover_interrupted(3).await.unwrap(), (0, 0));

    expire(&clock);
    assert_eq!(b.recover_interrupted(3).await.unwrap(), (1, 0));
    assert_eq!(b.tick().await.unwrap(), (0, 0), "rescued once only");
    let rescued = b.get("j").await.unwrap().unwrap();
    assert_eq!(rescued.status, JobStatus::Accepted);

    // The first worker wakes up: every write of its run is refused.
    assert!(!a.update_progress("j", 50, Some("stale")).await.unwrap());
    assert_eq!(finish_ok(&a, "j").await, None);

    let again = JobStore::from(b.clone())
        .claim_next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j", 2));
    // Even once running again: the stale worker's token is not the new one.
    assert!(!a.update_progress("j", 60, None).await.unwrap());
    assert_eq!(finish_ok(&a, "j").await, None);
    let finished = finish_ok(&b, "j").await.unwrap();
    assert_eq!(finished.status, JobStatus::Successful);
    assert_eq!(final_states(&b, "j").await, 1);
}

#[tokio::test]
async fn a_worker_that_finishes_before_the_rescue_wins() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    a.insert(&job("j", "p", t(0))).await.unwrap();
    a.claim("j").await.unwrap().unwrap();
    b.recover_interrupted(3).await.unwrap();
    expire(&clock);
    // Late, but nobody took the job over: the result stands.
    assert!(finish_ok(&a, "j").await.is_some());
    assert_eq!(b.tick().await.unwrap(), (0, 0));
    assert_eq!(
        b.get("j").await.unwrap().unwrap().status,
        JobStatus::Successful
    );
    assert_eq!(final_states(&b, "j").await, 1);
}

/// The rescuer reads the expired job, the worker completes, then the
/// rescuer updates: its update, re-checked under the row lock, changes
/// nothing.
#[tokio::test]
async fn a_worker_completes_between_the_rescuers_read_and_its_update() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    a.insert(&job("j", "p", t(0))).await.unwrap();
    a.claim("j").await.unwrap().unwrap();
    expire(&clock);
    let now = clock.load(Ordering::SeqCst);

    let mut rescuer = b.pool().begin().await.unwrap();
    let expired: Vec<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'running' AND lease_until < $1")
            .bind(now)
            .fetch_all(&mut *rescuer)
            .await
            .unwrap();
    assert_eq!(expired, ["j"], "the rescuer sees the job as expired");

    assert!(finish_ok(&a, "j").await.is_some(), "the worker completes");

    let rescued = sqlx::query(queries::RESCUE)
        .bind(now)
        .bind(3i64)
        .bind(Some(now))
        .execute(&mut *rescuer)
        .await
        .unwrap()
        .rows_affected();
    rescuer.commit().await.unwrap();
    assert_eq!(rescued, 0);
    let j = b.get("j").await.unwrap().unwrap();
    assert_eq!((j.status, j.results), (JobStatus::Successful, Some(done())));
    assert_eq!(final_states(&b, "j").await, 1);
}

/// The other order: the rescue holds the row when the worker completes;
/// the worker waits for it, then finds its token gone.
#[tokio::test]
async fn a_worker_completing_during_the_rescue_loses() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    a.insert(&job("j", "p", t(0))).await.unwrap();
    a.claim("j").await.unwrap().unwrap();
    expire(&clock);
    let now = clock.load(Ordering::SeqCst);

    let mut rescuer = b.pool().begin().await.unwrap();
    let rescued = sqlx::query(queries::RESCUE)
        .bind(now)
        .bind(3i64)
        .bind(Some(now))
        .execute(&mut *rescuer)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(rescued, 1);
    let worker = tokio::spawn({
        let a = a.clone();
        async move { finish_ok(&a, "j").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!worker.is_finished(), "the finish waits for the row lock");
    rescuer.commit().await.unwrap();
    assert_eq!(worker.await.unwrap(), None);
    let j = b.get("j").await.unwrap().unwrap();
    assert_eq!((j.status, j.results), (JobStatus::Accepted, None));
    assert_eq!(final_states(&b, "j").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_rescuers_rescue_each_job_exactly_once() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    for i in 0..40 {
        a.insert(&job(&format!("j{i:02}"), "p", t(i)))
            .await
            .unwrap();
    }
    assert_eq!(
        a.claim_batch(40, None, Box::new(|_: &Vec<JobRecord>| {}))
            .await
            .unwrap()
            .len(),
        40
    );
    expire(&clock);
    let rescuers: Vec<_> = (0..6)
        .map(|i| {
            let node = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { node.recover_interrupted(3).await.unwrap() })
        })
        .collect();
    let mut resumed = 0;
    for r in rescuers {
        let (r, failed) = r.await.unwrap();
        assert_eq!(failed, 0);
        resumed += r;
    }
    assert_eq!(resumed, 40);
    assert_eq!(a.count(JobStatus::Accepted).await.unwrap(), 40);
}

#[tokio::test]
async fn heartbeats_keep_leases_and_tell_a_node_what_it_lost() {
    let Some((a, b, clock)) = two_nodes().await else {
        return;
    };
    let mut events = a.events().unwrap();
    a.insert(&job("j", "p", t(0))).await.unwrap();
    a.claim("j").await.unwrap().unwrap();
    b.recover_interrupted(3).await.unwrap();

    // Renewed before it ran out, the lease outlives its first deadline.
    clock.fetch_add(LEASE_MICROS * 2 / 3, Ordering::SeqCst);
    a.tick().await.unwrap();
    clock.fetch_add(LEASE_MICROS * 2 / 3, Ordering::SeqCst);
    assert_eq!(b.tick().await.unwrap(), (0, 0));

    // Not renewed: rescued, and the node learns at its next heartbeat.
    expire(&clock);
    assert_eq!(b.tick().await.unwrap(), (1, 0));
    a.tick().await.unwrap();
    let lost = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(StoreEvent::LeaseLost(id))) => break id,
            Ok(Ok(_)) => continue,
            other => panic!("no lease-lost event: {other:?}"),
        }
    };
    assert_eq!(lost, "j");
}

#[tokio::test]
async fn dismissals_and_submissions_reach_the_other_nodes() {
    let Some((a, b, _clock)) = two_nodes().await else {
        return;
    };
    let mut events = a.events().unwrap();
    b.insert(&job("j", "p", t(0))).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
    assert!(matches!(next, Ok(Ok(StoreEvent::Queued))), "{next:?}");

    a.claim("j").await.unwrap().unwrap();
    b.dismiss("j").await.unwrap().unwrap();
    let dismissed = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(StoreEvent::Dismissed(id))) => break id,
            Ok(Ok(_)) => continue,
            other => panic!("no dismissal event: {other:?}"),
        }
    };
    assert_eq!(dismissed, "j");
    assert_eq!(finish_ok(&a, "j").await, None, "the dismissal wins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_claiming_at_once_never_share_a_job() {
    let Some((a, b, _clock)) = two_nodes().await else {
        return;
    };
    for i in 0..200 {
        a.insert(&job(&format!("j{i:03}"), "p", t(i)))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = (0..8)
        .map(|i| {
            let node = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let jobs = node
                        .claim_batch(8, None, Box::new(|_: &Vec<JobRecord>| {}))
                        .await
                        .unwrap();
                    if jobs.is_empty() && node.count(JobStatus::Accepted).await.unwrap() == 0 {
                        return mine;
                    }
                    mine.extend(jobs.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (200, 200));
}
