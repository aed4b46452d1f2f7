//! A process deployed through the API (OGC API - Processes Part 2).

use super::{Digest, Visibility};
use chrono::{DateTime, Utc};

/// What the server keeps about a deployed process: its component, by
/// content address, and the package it was deployed with.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Process id.
    pub id: String,
    /// The component's digest in the module store.
    pub digest: Digest,
    /// The package as deployed (`processDescription` and `executionUnit`),
    /// with an inline component replaced by its digest; served back by
    /// `GET /processes/{id}/package`.
    pub package: serde_json::Value,
    /// When it was first deployed.
    pub created: DateTime<Utc>,
    /// When it was last replaced.
    pub updated: DateTime<Utc>,
    /// The tenant that deployed it.
    pub owner: String,
    /// Who else may see it.
    pub visibility: Visibility,
}
