//! Hostile guests fail their own job, with their own error, and nothing else.

mod common;

use common::{component, output, runtime, s};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wades::model::{Limits, NamedValue, Value};
use wades::runtime::{Job, JobDirs, RunError, Runtime};

fn attack(kind: &str) -> Job {
    Job::new(vec![s("attack", kind)])
}

/// Runs a well-behaved echo job that lasts `pause` seconds alongside.
async fn bystander(rt: &Runtime, pause: f64) -> Result<(), RunError> {
    let echo = rt.load(component("echo")).await.unwrap();
    let out = rt
        .execute(
            &echo,
            Job::new(vec![
                s("stringInput", "still here"),
                NamedValue::new("pause", Value::Number { value: pause }),
            ]),
        )
        .await?;
    assert_eq!(
        output(&out.outputs, "stringInput"),
        &Value::string("still here")
    );
    Ok(())
}

/// Runs `job` on the hostile process while a good job runs on the same engine.
async fn hostile_with_bystander(job: Job) -> RunError {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let hostile = rt.load(component("hostile")).await.unwrap();
    let (bad, good) = tokio::join!(rt.execute(&hostile, job), bystander(&rt, 0.2));
    good.expect("the well-behaved job succeeds next to a hostile one");
    bad.expect_err("the hostile job fails")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_runs_out_of_fuel() {
    let job = attack("loop").with_limits(Limits {
        fuel: Some(200_000_000),
        ..Limits::default()
    });
    assert_eq!(
        hostile_with_bystander(job).await,
        RunError::OutOfFuel { fuel: 200_000_000 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_with_fuel_to_burn_times_out() {
    let limit = Duration::from_millis(300);
    let job = attack("loop").with_limits(Limits {
        timeout: Some(limit),
        ..Limits::default()
    });
    let started = Instant::now();
    assert_eq!(
        hostile_with_bystander(job).await,
        RunError::Timeout { limit }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_limit() {
    let job = attack("memory").with_limits(Limits {
        memory_bytes: Some(64 << 20),
        ..Limits::default()
    });
    assert_eq!(
        hostile_with_bystander(job).await,
        RunError::MemoryLimit { limit: 64 << 20 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack() {
    match hostile_with_bystander(attack("recursion")).await {
        RunError::Trap { message } => assert!(message.contains("stack overflow"), "{message}"),
        other => panic!("expected a stack overflow trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_output_is_refused() {
    match hostile_with_bystander(attack("huge-output")).await {
        RunError::InvalidOutput(message) => {
            assert!(message.contains("exceed the limit"), "{message}")
        }
        other => panic!("expected an invalid output, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_the_panic_message() {
    match hostile_with_bystander(attack("panic")).await {
        RunError::Trap { message } => assert!(
            message.contains("hostile guest panicked on purpose"),
            "{message}"
        ),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test]
async fn a_guest_cannot_reach_outside_its_folders() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let hostile = rt.load(component("hostile")).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let dirs = JobDirs {
        inputs: root.path().join("in"),
        outputs: root.path().join("out"),
    };
    std::fs::create_dir_all(&dirs.inputs).unwrap();
    std::fs::create_dir_all(&dirs.outputs).unwrap();
    let out = rt
        .execute(&hostile, attack("escape").with_dirs(dirs.clone()))
        .await
        .unwrap();
    assert_eq!(
        output(&out.outputs, "result"),
        &Value::string(""),
        "nothing outside the sandbox worked"
    );
    assert!(
        !dirs.inputs.join("planted").exists(),
        "/inputs is read-only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_a_spinning_guest_within_10_ms() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let hostile = rt.load(component("hostile")).await.unwrap();
    let cancel = CancellationToken::new();
    let job = attack("loop").with_cancel(cancel.clone());
    let rt2 = rt.clone();
    let running = tokio::spawn(async move {
        let r = rt2.execute(&hostile, job).await;
        (r, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!running.is_finished(), "the loop spins until cancelled");
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (result, ended_at) = running.await.unwrap();
    assert_eq!(result.unwrap_err(), RunError::Cancelled);
    let latency = ended_at - cancelled_at;
    assert!(
        latency <= Duration::from_millis(10),
        "stopped {latency:?} after cancel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_a_guest_blocked_in_a_sleep() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let echo = rt.load(component("echo")).await.unwrap();
    let cancel = CancellationToken::new();
    let job = Job::new(vec![NamedValue::new(
        "pause",
        Value::Number { value: 30.0 },
    )])
    .with_cancel(cancel.clone());
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        rt.execute(&echo, job).await.unwrap_err(),
        RunError::Cancelled
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_process_lowers_the_operator_limit_with_its_own() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let hostile = rt.load(component("hostile")).await.unwrap();
    assert_eq!(hostile.description().limits.memory_bytes, Some(256 << 20));
    assert!(rt.config().job_limits.memory_bytes > Some(256 << 20));
    assert_eq!(
        rt.execute(&hostile, attack("memory")).await.unwrap_err(),
        RunError::MemoryLimit { limit: 256 << 20 }
    );
}

#[tokio::test]
async fn a_request_can_lower_but_not_raise_the_limits() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = common::config(&cache);
    config.job_limits.memory_bytes = Some(48 << 20);
    let rt = Runtime::new(config).unwrap();
    let hostile = rt.load(component("hostile")).await.unwrap();
    let greedy = attack("memory").with_limits(Limits {
        memory_bytes: Some(1 << 30),
        ..Limits::default()
    });
    assert_eq!(
        rt.execute(&hostile, greedy).await.unwrap_err(),
        RunError::MemoryLimit { limit: 48 << 20 }
    );
    let modest = attack("memory").with_limits(Limits {
        memory_bytes: Some(24 << 20),
        ..Limits::default()
    });
    assert_eq!(
        rt.execute(&hostile, modest).await.unwrap_err(),
        RunError::MemoryLimit { limit: 24 << 20 }
    );
}
