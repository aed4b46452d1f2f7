//! Core module → component, with the WASI preview1 adapter.

use anyhow::Result;

/// Which preview1 adapter a core module gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// For libraries (processes): no `_start`, exports called at will.
    Reactor,
    /// For programs: `_start` becomes `wasi:cli/run`.
    Command,
}

/// Turns a core module built for `wasm32-wasip1` into a component; a
/// component passes through unchanged.
pub fn componentize(bytes: &[u8], adapter: Adapter) -> Result<Vec<u8>> {
    // Bytes 4..8 are the version/layer field: 0x0d 0x00 0x01 0x00 marks a component.
    if bytes.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00]) {
        return Ok(bytes.to_vec());
    }
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    let adapter = match adapter {
        Adapter::Reactor => WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        Adapter::Command => WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    };
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(bytes)?
        .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter)?
        .encode()
}
