//! wades: the WebAssembly Application Deployment and Execution Service.
//!
//! An OGC API – Processes server whose processes are WebAssembly components.
//! This crate is organised by concern:
//!
//! - [`model`]: processes, values and limits as the domain sees them, free of
//!   wasm and HTTP types;
//! - [`runtime`]: the sandbox: one wasmtime engine, compiled components
//!   cached by content hash, and a fresh instance per job under fuel, memory
//!   and wall-clock limits;
//! - [`registry`], [`jobs`], [`store`], [`modules`]: the processes offered
//!   (built in or deployed), the job queue, their SQLite persistence, and
//!   the content-addressed store of deployed components;
//! - [`ogc`]: the OGC JSON wire format; [`http`]: the axum handlers;
//!   [`server`]: assembly from the [`config`].
//! - [`cwl`]: a CWL v1.2 runner (documents, expressions, workflows, step backends).
//! - [`billing`]: quotations priced from fuel metering, and bills.
//! - [`integrity`]: the audit of the module store and artifact cache.
//! - [`metrics`]: what the service counts, for Prometheus.
//! - [`client`]: a client of any OGC API – Processes server, for the CLI.

#![warn(missing_docs)]

pub mod auth;
pub mod billing;
pub mod client;
pub mod config;
pub mod cwl;
pub mod error;
pub mod fetch;
pub mod http;
pub mod integrity;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod modules;
pub mod ogc;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
pub mod tenancy;
