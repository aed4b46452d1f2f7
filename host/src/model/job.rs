//! Jobs as the domain sees them: what was asked, where it stands, what came out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a job stands. The names are the OGC status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Queued, not started.
    Accepted,
    /// A guest is running it.
    Running,
    /// Finished with results.
    Successful,
    /// Finished without results.
    Failed,
    /// Cancelled by a client; its results are gone.
    Dismissed,
}

impl JobStatus {
    /// The OGC status code.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Accepted => "accepted",
            JobStatus::Running => "running",
            JobStatus::Successful => "successful",
            JobStatus::Failed => "failed",
            JobStatus::Dismissed => "dismissed",
        }
    }

    /// Parses an OGC status code.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "accepted" => JobStatus::Accepted,
            "running" => JobStatus::Running,
            "successful" => JobStatus::Successful,
            "failed" => JobStatus::Failed,
            "dismissed" => JobStatus::Dismissed,
            _ => return None,
        })
    }

    /// Whether the job will not change any more (except by dismissal).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Successful | JobStatus::Failed | JobStatus::Dismissed
        )
    }
}

/// One job, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id (a UUID).
    pub id: String,
    /// The process it runs.
    pub process_id: String,
    /// Where it stands.
    pub status: JobStatus,
    /// A human-readable status message.
    pub message: Option<String>,
    /// 0 to 100.
    pub progress: Option<u8>,
    /// When it was accepted.
    pub created: DateTime<Utc>,
    /// When a guest started it.
    pub started: Option<DateTime<Utc>>,
    /// When it reached a final state.
    pub finished: Option<DateTime<Utc>>,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// How many times a worker has started it (restarts count).
    pub attempts: u32,
    /// What to run: the validated request, as the jobs service stores it.
    pub request: serde_json::Value,
    /// What came out, as the jobs service stores it (successful jobs).
    pub results: Option<serde_json::Value>,
    /// Why it failed: an exception document (failed jobs).
    pub error: Option<serde_json::Value>,
    /// The tenant that created it, the only one (with admins) that sees it.
    pub owner: String,
    /// What its run used, once it ended (`None` for a job that never ran,
    /// or whose end is not recorded yet).
    pub usage: Option<Usage>,
}

/// What one run of a job used: what quotas count and bills charge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Fuel burnt.
    pub fuel: u64,
    /// Bytes of results kept.
    pub result_bytes: u64,
}

/// Which jobs to list. Empty vectors and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Only jobs of this tenant.
    pub owner: Option<String>,
    /// Only these processes.
    pub process_ids: Vec<String>,
    /// Only these statuses.
    pub statuses: Vec<JobStatus>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_to: Option<DateTime<Utc>>,
    /// Ran at least this many seconds (finished - started, or now - started while running).
    pub min_duration: Option<f64>,
    /// Ran at most this many seconds.
    pub max_duration: Option<f64>,
    /// Page size.
    pub limit: u32,
    /// Jobs to skip (newest first).
    pub offset: u32,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
}
