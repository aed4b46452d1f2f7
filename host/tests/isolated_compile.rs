//! Uploads are compiled by a child `wades __compile` under a time and memory
//! budget; the server process only ever loads the verified artifact.

mod common;

use common::{component, config, s};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wades::model::Value;
use wades::runtime::{CacheOutcome, Job, LoadError, Runtime, RuntimeConfig, Tier};

/// The test configuration, compiling with the real `wades` binary.
fn untrusted_config(cache: &tempfile::TempDir) -> RuntimeConfig {
    let mut config = config(cache);
    config.compiler_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_wades")));
    config
}

fn untrusted_runtime(cache: &tempfile::TempDir) -> Runtime {
    Runtime::new(untrusted_config(cache)).expect("runtime starts")
}

/// A runtime that cannot start a compile child at all: whatever it loads
/// must come from memory or a verified artifact.
fn runtime_without_compiler(cache: &tempfile::TempDir) -> Runtime {
    let mut config = config(cache);
    config.compiler_exe = Some(PathBuf::from("/nonexistent/wades"));
    Runtime::new(config).expect("runtime starts")
}

#[tokio::test]
async fn an_upload_is_compiled_by_the_child_and_runs() {
    let cache = tempfile::tempdir().unwrap();
    let rt = untrusted_runtime(&cache);
    let started = Instant::now();
    let p = rt.load_untrusted(component("hello-world")).await.unwrap();
    eprintln!(
        "hello-world through the compile child: {:?}",
        started.elapsed()
    );
    // The child compiled (with Winch, quickly); this process loaded the
    // artifact it left, and jobs run on it at once.
    assert_eq!(p.cache_outcome(), &CacheOutcome::Hit);
    let [optimized, quick] = rt.artifact_paths(&p.digest());
    let run = |who: &'static str| {
        let (rt, p) = (rt.clone(), p.clone());
        async move {
            let out = rt
                .execute(&p, Job::new(vec![s("name", who)]))
                .await
                .unwrap();
            assert_eq!(
                out.outputs[0].value,
                Value::string(&format!("Hello {who}!"))
            );
            out.fuel_consumed
        }
    };
    let fuel_quick = if p.tier() == Tier::Quick {
        assert!(quick.exists());
        Some(run("World").await)
    } else {
        None // the background compile already finished
    };

    // Then a second child compiles it with Cranelift, and new jobs move to
    // that code; Winch's artifact goes.
    p.optimized().await.unwrap();
    assert_eq!(p.tier(), Tier::Optimized);
    assert!(optimized.exists());
    assert!(!quick.exists());
    let fuel_optimized = run("World").await;
    // Fuel counts wasm operators, not machine code, but the two compilers
    // place their fuel checks a little differently.
    if let (Some(Some(quick)), Some(optimized)) = (fuel_quick, fuel_optimized) {
        let diff = quick.abs_diff(optimized) as f64 / optimized as f64;
        assert!(diff < 0.01, "Winch {quick} vs Cranelift {optimized} fuel");
    }

    // Loaded again: the same process, no child.
    let again = rt.load_untrusted(component("hello-world")).await.unwrap();
    assert!(Arc::ptr_eq(&p, &again));
}

#[tokio::test]
async fn a_cached_upload_spawns_no_child() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = component("echo");
    let first = untrusted_runtime(&cache);
    first
        .load_untrusted(bytes.clone())
        .await
        .unwrap()
        .optimized()
        .await
        .unwrap();
    drop(first);
    // After a restart, the artifact is enough: no compiler is needed.
    let rt = runtime_without_compiler(&cache);
    let p = rt.load_untrusted(bytes).await.unwrap();
    assert_eq!(p.cache_outcome(), &CacheOutcome::Hit);
    assert_eq!(p.tier(), Tier::Optimized);
}

#[tokio::test]
async fn the_server_never_compiles_an_upload_itself() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime_without_compiler(&cache)
        .load_untrusted(component("hello-world"))
        .await
        .err()
        .expect("no compiler, no load");
    assert!(
        matches!(&err, LoadError::Host(m) if m.contains("could not start the compiler")),
        "{err:?}"
    );

    // A "compiler" that succeeds without writing anything is not believed.
    let mut config = config(&cache);
    config.compiler_exe = Some(PathBuf::from("/bin/true"));
    let err = Runtime::new(config)
        .unwrap()
        .load_untrusted(component("hello-world"))
        .await
        .err()
        .expect("no artifact, no load");
    assert!(
        matches!(&err, LoadError::Host(m) if m.contains("no usable artifact")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_corrupt_artifact_is_compiled_again_by_the_child_not_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = component("hello-world");
    let rt = untrusted_runtime(&cache);
    let p = rt.load_untrusted(bytes.clone()).await.unwrap();
    p.optimized().await.unwrap();
    let path = rt.artifact_path(&p.digest());

    // Flip one byte in the middle of the compiled code.
    let mut artifact = std::fs::read(&path).unwrap();
    let mid = artifact.len() / 2;
    artifact[mid] ^= 0x01;
    std::fs::write(&path, &artifact).unwrap();

    // Without a compiler the corrupt file is refused, not deserialized.
    let err = runtime_without_compiler(&cache)
        .load_untrusted(bytes.clone())
        .await
        .err()
        .expect("corrupt artifact refused");
    assert!(matches!(err, LoadError::Host(_)), "{err:?}");

    // With one, the child replaces it and the result runs.
    let rt = untrusted_runtime(&cache);
    let p = rt.load_untrusted(bytes.clone()).await.unwrap();
    p.optimized().await.unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), artifact, "artifact replaced");
    let out = rt
        .execute(&p, Job::new(vec![s("name", "cache")]))
        .await
        .unwrap();
    assert_eq!(out.outputs[0].value, Value::string("Hello cache!"));

    // A well-formed artifact planted without this cache's key would load
    // fine if it were deserialized; it is refused instead.
    let other = tempfile::tempdir().unwrap();
    let foreign = untrusted_runtime(&other);
    let planted = foreign.load_untrusted(bytes.clone()).await.unwrap();
    planted.optimized().await.unwrap();
    let digest = planted.digest();
    std::fs::copy(foreign.artifact_path(&digest), &path).unwrap();
    let err = runtime_without_compiler(&cache)
        .load_untrusted(bytes)
        .await
        .err()
        .expect("foreign artifact refused");
    assert!(matches!(err, LoadError::Host(_)), "{err:?}");
}

#[tokio::test]
async fn bytes_that_are_not_a_component_are_rejected_readably() {
    let cache = tempfile::tempdir().unwrap();
    let rt = untrusted_runtime(&cache);

    let err = rt.load_untrusted(Vec::new()).await.err().unwrap();
    assert!(
        matches!(&err, LoadError::Invalid(m) if m.contains("empty")),
        "{err:?}"
    );

    let err = rt
        .load_untrusted(b"\0asm\x01\0\0\0".to_vec())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, LoadError::Invalid(m) if m.contains("core WebAssembly module, not a component")),
        "{err:?}"
    );

    // Random bytes reach the child, which says what is wrong in one line.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let err = rt.load_untrusted(noise).await.err().unwrap();
    let LoadError::Invalid(message) = &err else {
        panic!("expected Invalid, got {err:?}")
    };
    assert!(message.contains("magic header"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(
        err.to_string()
            .starts_with("not a valid WebAssembly component"),
        "{err}"
    );

    // A component with a broken body (truncated) is caught by the child too.
    let mut truncated = component("hello-world");
    truncated.truncate(truncated.len() / 2);
    let err = rt.load_untrusted(truncated).await.err().unwrap();
    assert!(matches!(err, LoadError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn a_compile_over_its_time_budget_is_stopped() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = untrusted_config(&cache);
    config.compile_budget.time = Duration::from_millis(1);
    let rt = Runtime::new(config).unwrap();
    let err = rt.load_untrusted(component("otsu")).await.err().unwrap();
    assert!(matches!(err, LoadError::OverBudget(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "compiling the component exceeded its time budget of 1 ms"
    );
    for path in rt.artifact_paths(&wades::model::Digest::of(&component("otsu"))) {
        assert!(!path.exists(), "{}", path.display());
    }
}

#[tokio::test]
async fn a_compile_over_its_memory_budget_is_stopped() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = untrusted_config(&cache);
    config.compile_budget.memory_bytes = 64 << 20;
    let rt = Runtime::new(config).unwrap();
    let err = rt.load_untrusted(component("otsu")).await.err().unwrap();
    assert!(matches!(err, LoadError::OverBudget(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "compiling the component exceeded its memory budget of 64 MiB"
    );
}
