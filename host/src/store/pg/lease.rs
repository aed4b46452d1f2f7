//! The node's side of the lease protocol: heartbeats, rescue of expired
//! leases, and the notifications other nodes send.

use super::{queries, PgStore};
use crate::store::backend::StoreEvent;
use crate::store::rows::now_micros;
use crate::store::StoreError;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The channels every node listens to.
const QUEUE: &str = "wades_queue";
const DISMISS: &str = "wades_dismiss";

/// Starts turning notifications into [`StoreEvent`]s. Listens before
/// returning, so nothing sent after the store is open is missed.
pub(super) async fn listen(store: PgStore) -> Result<(), StoreError> {
    let mut listener = PgListener::connect_with(&store.pool).await?;
    listener.listen_all([QUEUE, DISMISS]).await?;
    tokio::spawn(async move {
        let events = &store.shared.events;
        loop {
            let next = tokio::select! {
                _ = store.shared.stop.cancelled() => return,
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(n)) if n.channel() == DISMISS => {
                    let _ = events.send(StoreEvent::Dismissed(n.payload().to_string()));
                }
                Ok(Some(_)) => {
                    let _ = events.send(StoreEvent::Queued);
                }
                // The connection dropped and is being re-established:
                // whatever was sent meanwhile is lost, so look at the queue.
                // (Dismissals are caught by the next guarded write.)
                Ok(None) => {
                    let _ = events.send(StoreEvent::Queued);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening to the job store failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}

/// Renews this node's leases and rescues expired ones every third of a
/// lease, until the store closes. A node that cannot renew for a whole
/// lease gives its jobs up: another node will have rescued them.
pub(super) async fn keep(store: PgStore) {
    let every = store.shared.options.lease / 3;
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            _ = store.shared.stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match heartbeat(&store).await {
            Ok(()) => renewed = Instant::now(),
            Err(e) => {
                tracing::warn!(error = %e, "renewing job leases failed");
                if renewed.elapsed() >= store.shared.options.lease {
                    let lost: Vec<String> = store
                        .shared
                        .leases
                        .lock()
                        .expect("leases")
                        .drain()
                        .map(|(id, _)| id)
                        .collect();
                    for id in lost {
                        let _ = store.shared.events.send(StoreEvent::LeaseLost(id));
                    }
                }
                continue;
            }
        }
        let max = store.shared.max_attempts.load(Ordering::Acquire);
        if max > 0 {
            match rescue(&store, max).await {
                Ok((0, 0)) => {}
                Ok((resumed, failed)) => {
                    tracing::warn!(resumed, failed, "rescued jobs whose node stopped");
                }
                Err(e) => tracing::warn!(error = %e, "rescuing expired jobs failed"),
            }
        }
    }
}

/// Renews every lease this node holds, and gives up (with
/// [`StoreEvent::LeaseLost`]) those the database no longer gives it.
pub(super) async fn heartbeat(store: &PgStore) -> Result<(), StoreError> {
    // Taken before the statement: a job claimed while it runs is not in
    // its answer, and must not count as lost.
    let before: HashMap<String, i64> = store.shared.leases.lock().expect("leases").clone();
    let held: Vec<(String, Option<i64>)> = sqlx::query_as(queries::HEARTBEAT)
        .bind(store.node())
        .bind(store.clock())
        .bind(store.lease_micros())
        .fetch_all(&store.pool)
        .await?;
    let held: HashMap<String, Option<i64>> = held.into_iter().collect();
    let mut leases = store.shared.leases.lock().expect("leases");
    for (id, token) in before {
        let kept = held.get(&id) == Some(&Some(token));
        if !kept && leases.get(&id) == Some(&token) {
            leases.remove(&id);
            let _ = store.shared.events.send(StoreEvent::LeaseLost(id));
        }
    }
    Ok(())
}

/// Puts the jobs whose lease expired back in the queue (or fails those out
/// of attempts), all in one transaction, and wakes the nodes if any went
/// back. Returns (resumed, failed).
pub(super) async fn rescue(store: &PgStore, max_attempts: u32) -> Result<(u64, u64), StoreError> {
    // The form the job service stores failures in: `{"error": <RunError>}`.
    let error = serde_json::to_string(&serde_json::json!({
        "error": {
            "kind": "host",
            "detail": format!(
                "the server restarted (or stopped) while the job was running, \
                 and it had already been attempted {max_attempts} time(s)"
            ),
        }
    }))?;
    let now = now_micros();
    let clock = store.clock();
    let mut tx = store.pool.begin().await?;
    let resumed = sqlx::query(queries::RESCUE)
        .bind(now)
        .bind(i64::from(max_attempts))
        .bind(clock)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let failed = sqlx::query(queries::FAIL_EXPIRED)
        .bind(error)
        .bind(now)
        .bind(clock)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if resumed > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(QUEUE)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((resumed, failed))
}
