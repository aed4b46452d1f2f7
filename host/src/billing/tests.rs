//! The billing stores on real databases, migrated by the job store as the
//! server does it: an SQLite file in a fresh folder or, when
//! `WADES_TEST_DATABASE` names a PostgreSQL server (as `cargo xtask test`
//! sets it), a fresh database on it. The same tests hold both stores to
//! one contract.

use super::*;
use crate::store::JobStore;
use chrono::{DateTime, TimeDelta, Utc};

/// A billing store on a new database, and the folder an SQLite one lives in.
async fn fresh() -> (tempfile::TempDir, Arc<dyn BillingStore>) {
    let dir = tempfile::tempdir().unwrap();
    let admin = std::env::var("WADES_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty());
    if let Some(admin) = admin {
        let url = new_database(&admin).await;
        let jobs = crate::store::pg::PgStore::connect(&url, Default::default())
            .await
            .unwrap();
        return (dir, Arc::new(PgBillingStore::new(jobs.pool().clone())));
    }
    let path = dir.path().join("wades.db");
    let jobs = JobStore::open(&path).await.unwrap();
    let store = SqliteBillingStore::open(&path).await.unwrap();
    jobs.close().await;
    (dir, Arc::new(store))
}

/// A new, empty database on the PostgreSQL server of `admin`; its URL.
async fn new_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("b{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (server, _) = admin.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn quotation(id: &str, owner: &str, expires_in: i64) -> Quotation {
    let now = now();
    Quotation {
        id: id.into(),
        process_id: "echo".into(),
        owner: owner.into(),
        created: now,
        expires: now + TimeDelta::seconds(expires_in),
        executed: None,
        job_id: None,
        request: serde_json::json!({"inputs": [], "outputs": []}),
        quote: Quote {
            basis: Basis::DryRun,
            samples: 1,
            estimate: Consumption {
                fuel: 1_000,
                ..Consumption::default()
            },
            charges: Charges {
                fuel: 0.5,
                ..Charges::default()
            },
            price: 0.5,
            max_price: 0.55,
            currency: "EUR".into(),
            margin: 0.1,
            fuel_budget: 1_100,
        },
    }
}

fn bill(id: &str, owner: &str, fuel: u64, amount: f64) -> Bill {
    Bill {
        id: id.into(),
        job_id: format!("job-{id}"),
        process_id: "echo".into(),
        owner: owner.into(),
        created: now(),
        job_status: crate::model::JobStatus::Successful,
        consumption: Consumption {
            fuel,
            ..Consumption::default()
        },
        charges: Charges {
            fuel: amount,
            ..Charges::default()
        },
        amount,
        currency: "EUR".into(),
        quoted_price: amount,
        max_price: amount * 1.1,
    }
}

#[tokio::test]
async fn a_quotation_is_claimed_once_and_never_after_it_expires() {
    let (_dir, store) = fresh().await;
    let q = quotation("q1", "alice", 60);
    store.insert_quotation(&q).await.unwrap();
    assert_eq!(store.quotation("q1").await.unwrap().unwrap(), q);

    assert_eq!(store.claim("q1", now()).await.unwrap(), Ok(()));
    assert_eq!(
        store.claim("q1", now()).await.unwrap(),
        Err(ClaimRefused::Executed)
    );
    // A job that could not start gives the quotation back.
    store.release("q1").await.unwrap();
    assert_eq!(store.claim("q1", now()).await.unwrap(), Ok(()));
    store.attach_job("q1", "job-1").await.unwrap();
    store.release("q1").await.unwrap();
    let claimed = store.quotation("q1").await.unwrap().unwrap();
    assert!(
        claimed.executed.is_some(),
        "a started job's quotation stays executed"
    );
    assert_eq!(claimed.job_id.as_deref(), Some("job-1"));
    assert_eq!(claimed.status(now()), QuotationStatus::Executed);

    store
        .insert_quotation(&quotation("q2", "alice", 1))
        .await
        .unwrap();
    let later = now() + TimeDelta::seconds(2);
    assert_eq!(
        store.claim("q2", later).await.unwrap(),
        Err(ClaimRefused::Expired)
    );
    assert_eq!(
        store.claim("nope", now()).await.unwrap(),
        Err(ClaimRefused::Unknown)
    );
}

#[tokio::test]
async fn bills_page_and_add_up_per_tenant() {
    let (_dir, store) = fresh().await;
    let bills = [
        ("a", "alice", 10, 1.5),
        ("b", "alice", 20, 2.0),
        ("c", "bob", 5, 0.25),
    ]
    .map(|(id, owner, fuel, amount)| bill(id, owner, fuel, amount));
    for b in &bills {
        store.insert_bill(b).await.unwrap();
    }
    assert_eq!(store.bill("c").await.unwrap().as_ref(), Some(&bills[2]));
    assert!(
        store.insert_bill(&bills[0]).await.is_err(),
        "a job is billed once"
    );
    let alice = Page {
        owner: Some("alice".into()),
        limit: 1,
        ..Page::default()
    };
    let (first, more) = store.bills(&alice).await.unwrap();
    assert_eq!((first.len(), more), (1, true));
    let (rest, more) = store
        .bills(&Page {
            offset: 1,
            ..alice.clone()
        })
        .await
        .unwrap();
    assert_eq!((rest.len(), more), (1, false));
    assert_ne!(first[0].id, rest[0].id);

    let totals = store.totals(None).await.unwrap();
    assert_eq!(totals.len(), 2);
    assert_eq!(
        (
            totals[0].owner.as_str(),
            totals[0].bills,
            totals[0].fuel,
            totals[0].amount
        ),
        ("alice", 2, 30, 3.5)
    );
    assert_eq!(store.totals(Some("bob")).await.unwrap()[0].amount, 0.25);
    assert!(store.totals(Some("carol")).await.unwrap().is_empty());
}

#[tokio::test]
async fn samples_are_kept_by_component() {
    let (_dir, store) = fresh().await;
    let (a, b) = (
        crate::model::Digest::of(b"a"),
        crate::model::Digest::of(b"b"),
    );
    let s = estimate::Sample {
        input_bytes: 3,
        fuel: 4,
        memory_peak: 5,
        wall_micros: 6,
        stored_bytes: 7,
    };
    store.add_sample(&a, s).await.unwrap();
    store.add_sample(&a, s).await.unwrap();
    assert_eq!(store.samples(&a, 10).await.unwrap(), vec![s, s]);
    assert_eq!(store.samples(&a, 1).await.unwrap().len(), 1);
    assert!(store.samples(&b, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn of_racing_executions_of_a_quotation_one_wins() {
    let (_dir, store) = fresh().await;
    store
        .insert_quotation(&quotation("q", "alice", 60))
        .await
        .unwrap();
    let claims = futures::future::join_all((0..8).map(|_| store.claim("q", now()))).await;
    let refusals: Vec<_> = claims
        .into_iter()
        .filter_map(|c| c.unwrap().err())
        .collect();
    assert_eq!(refusals, vec![ClaimRefused::Executed; 7]);
}
