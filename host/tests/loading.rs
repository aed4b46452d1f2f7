//! Loading components: compiled once per content hash, cached on disk and
//! verified, checked against the world.

mod common;

use common::{component, runtime, s};
use std::sync::Arc;
use wades::model::Value;
use wades::runtime::{CacheOutcome, Job, LoadError};

#[tokio::test]
async fn the_same_bytes_are_compiled_once() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let first = rt.load(component("hello-world")).await.unwrap();
    let again = rt.load(component("hello-world")).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "one loaded process per content hash"
    );
    assert_eq!(first.cache_outcome(), &CacheOutcome::Compiled);
    assert!(rt.artifact_path(&first.digest()).exists());
}

#[tokio::test]
async fn a_cached_artifact_is_reused_and_a_corrupt_one_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = component("hello-world");
    let digest = runtime(&cache).load(bytes.clone()).await.unwrap().digest();

    // A new runtime (as after a restart) loads the artifact instead of compiling.
    let p = runtime(&cache).load(bytes.clone()).await.unwrap();
    assert_eq!(p.cache_outcome(), &CacheOutcome::Hit);

    // Flip one byte in the middle of the compiled code.
    let rt = runtime(&cache);
    let path = rt.artifact_path(&digest);
    let mut artifact = std::fs::read(&path).unwrap();
    let mid = artifact.len() / 2;
    artifact[mid] ^= 0x01;
    std::fs::write(&path, &artifact).unwrap();
    let p = rt.load(bytes.clone()).await.unwrap();
    assert!(
        matches!(p.cache_outcome(), CacheOutcome::Recompiled { reason } if reason.contains("integrity")),
        "{:?}",
        p.cache_outcome()
    );
    let out = rt
        .execute(&p, Job::new(vec![s("name", "cache")]))
        .await
        .unwrap();
    assert_eq!(out.outputs[0].value, Value::string("Hello cache!"));

    // The replacement is good again.
    assert_eq!(
        runtime(&cache)
            .load(bytes.clone())
            .await
            .unwrap()
            .cache_outcome(),
        &CacheOutcome::Hit
    );

    // A truncated file and a file planted without our key are refused too.
    std::fs::write(&path, b"WADESCW1").unwrap();
    assert!(matches!(
        runtime(&cache)
            .load(bytes.clone())
            .await
            .unwrap()
            .cache_outcome(),
        CacheOutcome::Recompiled { .. }
    ));
    let other = tempfile::tempdir().unwrap();
    let foreign = runtime(&other).load(bytes.clone()).await.unwrap();
    std::fs::copy(runtime(&other).artifact_path(&foreign.digest()), &path).unwrap();
    assert!(matches!(
        runtime(&cache).load(bytes).await.unwrap().cache_outcome(),
        CacheOutcome::Recompiled { .. }
    ));
}

#[tokio::test]
async fn a_component_for_another_world_is_rejected_with_what_is_wrong() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let err = rt
        .load(component("wrong-world"))
        .await
        .err()
        .expect("rejected");
    let LoadError::WrongWorld(message) = &err else {
        panic!("expected WrongWorld, got {err:?}")
    };
    assert!(message.contains("missing export `describe`"), "{message}");
    assert!(message.contains("missing export `execute`"), "{message}");
    assert!(
        message.contains("import `evil:net/socket@0.1.0` is not allowed"),
        "{message}"
    );
    assert!(message.contains("exports [greet]"), "{message}");
    assert!(err.to_string().contains("wades:process world"), "{err}");
}

#[tokio::test]
async fn bytes_that_are_not_a_component_are_rejected() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let err = rt.load(b"\0asm\x01\0\0\0".to_vec()).await.err().unwrap();
    assert!(
        matches!(&err, LoadError::Invalid(m) if m.contains("core WebAssembly module, not a component")),
        "{err:?}"
    );
    let err = rt
        .load(b"#!/bin/sh\nrm -rf /\n".to_vec())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Invalid(_)), "{err:?}");
}
