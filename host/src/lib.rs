//! wades: the WebAssembly Application Deployment and Execution Service.
//!
//! An OGC API – Processes server whose processes are WebAssembly components.
//! This crate is organised by concern:
//!
//! - [`model`]: processes, values and limits as the domain sees them, free of
//!   wasm and HTTP types;
//! - [`runtime`]: the sandbox: one wasmtime engine, compiled components
//!   cached by content hash, and a fresh instance per job under fuel, memory
//!   and wall-clock limits.

#![warn(missing_docs)]

pub mod model;
pub mod runtime;
