//! Component intake: whatever bytes are uploaded, vetting them (component
//! check, validation, compile, world check, linking) answers with an error
//! or success, never a panic or a crash of the server's process.

use std::sync::OnceLock;
use wades::runtime::{Runtime, RuntimeConfig};

fn runtime() -> &'static Runtime {
    static R: OnceLock<(tempfile::TempDir, Runtime)> = OnceLock::new();
    &R.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = RuntimeConfig::new(dir.path());
        // No pooled slots: a fuzzer wants small, quick engines.
        config.pooling_allocator = false;
        let runtime = Runtime::new(config).expect("the engines build");
        (dir, runtime)
    })
    .1
}

/// Vets `data` as an uploaded component. Bytes that start like neither a
/// module nor a component are given the component preamble, so that the
/// fuzzer spends its time past the magic number.
pub fn check(data: &[u8]) {
    const COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let bytes = if data.starts_with(b"\0asm") {
        data.to_vec()
    } else {
        [&COMPONENT[..], data].concat()
    };
    let _ = runtime().vet(&bytes);
}
