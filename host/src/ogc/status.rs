//! Job status documents (`/jobs`, `/jobs/{id}`).

use super::{link, trim_base, REL_RESULTS};
use crate::model::{JobRecord, JobStatus};
use crate::runtime::RunError;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// The exception document of a failed job: built from the run error the
/// job service stores (`{"error": <RunError>}`), or the stored document
/// itself if it already is one (`type` is its one required member).
/// Anything else is left out, as it would make the status document
/// invalid; `message` says what happened either way.
fn exception_of(job: &JobRecord) -> Option<Value> {
    let stored = job.error.as_ref()?;
    if let Some(run) = stored
        .get("error")
        .and_then(|e| serde_json::from_value::<RunError>(e.clone()).ok())
    {
        return Some(super::exception::job_exception(&run));
    }
    stored
        .get("type")
        .is_some_and(Value::is_string)
        .then(|| stored.clone())
}

/// The OGC `statusInfo` of a job.
///
/// It carries the members of both versions: 1.0 requires `jobID` and
/// `type: "process"`; 2.0 requires `id` and `processingEntityType`, whose
/// 2.0 schema allows `ogc-api-processes` (not `process`) for this API. On
/// failure the job's exception document is included as 2.0's `exception`.
pub fn status_info(job: &JobRecord, base: &str) -> Value {
    let base = trim_base(base);
    let mut m = Map::new();
    m.insert("jobID".into(), json!(job.id));
    m.insert("id".into(), json!(job.id));
    m.insert("processID".into(), json!(job.process_id));
    m.insert("type".into(), json!("process"));
    m.insert("processingEntityType".into(), json!("ogc-api-processes"));
    m.insert("status".into(), json!(job.status.as_str()));
    if let Some(msg) = &job.message {
        m.insert("message".into(), json!(msg));
    }
    if job.status == JobStatus::Failed {
        if let Some(e) = exception_of(job) {
            m.insert("exception".into(), e);
        }
    }
    m.insert("created".into(), json!(time(job.created)));
    if let Some(t) = job.started {
        m.insert("started".into(), json!(time(t)));
    }
    if let Some(t) = job.finished {
        m.insert("finished".into(), json!(time(t)));
    }
    m.insert("updated".into(), json!(time(job.updated)));
    if let Some(p) = job.progress {
        m.insert("progress".into(), json!(p.min(100)));
    }
    let here = format!("{base}/jobs/{}", job.id);
    let mut links = vec![
        link(here.clone(), "self", "application/json", "Job status"),
        // `monitor` is what 2.0 clients look for to poll a job.
        link(here.clone(), "monitor", "application/json", "Job status"),
    ];
    if job.status == JobStatus::Successful {
        links.push(link(
            format!("{here}/results"),
            REL_RESULTS,
            "application/json",
            "Job results",
        ));
    }
    // A quoted job's bill is written before the job is final.
    let quotation = job.request.get("quotation").and_then(Value::as_str);
    if let (true, Some(q)) = (job.status.is_final(), quotation) {
        links.push(link(
            format!("{base}/bills/{q}"),
            super::billing::REL_BILL,
            "application/json",
            "Bill",
        ));
    }
    links.push(link(
        format!("{here}/logs"),
        "related",
        "text/plain",
        "Job log",
    ));
    m.insert("links".into(), Value::Array(links));
    Value::Object(m)
}

/// The OGC `jobList` of `GET /jobs`; `links` are the caller's paging links.
pub fn job_list(jobs: &[JobRecord], base: &str, links: Vec<Value>) -> Value {
    json!({
        "jobs": jobs.iter().map(|j| status_info(j, base)).collect::<Vec<_>>(),
        "links": links,
    })
}

/// RFC 3339 in UTC with milliseconds: the schemas' `date-time`, precise
/// enough to compute durations from.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::testing::{check, validate, Mode, OGC_2_0};
    use chrono::TimeZone;

    fn job(status: JobStatus) -> JobRecord {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
        let running = !matches!(status, JobStatus::Accepted);
        let done = status.is_final() && status != JobStatus::Dismissed;
        JobRecord {
            id: "7d3c9a52-0f5e-4f59-9c1a-3f2d1f2b4d10".into(),
            process_id: "echo".into(),
            status,
            message: running.then(|| "working".to_string()),
            progress: running.then_some(if done { 100 } else { 40 }),
            created: t0,
            started: running.then_some(t0 + chrono::Duration::seconds(1)),
            finished: done.then_some(t0 + chrono::Duration::milliseconds(2500)),
            updated: t0 + chrono::Duration::seconds(3),
            attempts: 1,
            request: json!({}),
            results: None,
            error: (status == JobStatus::Failed).then(|| {
                crate::ogc::exception(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/server-error",
                    "Guest trapped",
                    500,
                    "out of fuel",
                )
            }),
            owner: "alice".into(),
            usage: None,
        }
    }

    const ALL: [JobStatus; 5] = [
        JobStatus::Accepted,
        JobStatus::Running,
        JobStatus::Successful,
        JobStatus::Failed,
        JobStatus::Dismissed,
    ];

    #[test]
    fn status_info_validates_for_every_status() {
        for s in ALL {
            let doc = status_info(&job(s), "https://h.example/");
            validate("statusInfo.yaml", &doc);
            assert_eq!(doc["status"], s.as_str());
            assert_eq!(doc["jobID"], doc["id"]);
        }
    }

    #[test]
    fn status_info_also_fits_the_2_0_draft() {
        // The 2.0 draft types processID as `format: uri`; ours is a plain id,
        // so errors about processID are the one accepted difference.
        for s in ALL {
            let doc = status_info(&job(s), "https://h.example");
            if let Err(errors) = check(
                OGC_2_0,
                "schemas/processes-core/statusInfo.yaml",
                &doc,
                Mode::Strict,
            ) {
                let real: Vec<&String> =
                    errors.iter().filter(|e| !e.contains("processID")).collect();
                assert!(real.is_empty(), "{real:#?}");
            }
        }
    }

    #[test]
    fn status_info_members() {
        let doc = status_info(&job(JobStatus::Successful), "https://h.example/");
        let id = "7d3c9a52-0f5e-4f59-9c1a-3f2d1f2b4d10";
        assert_eq!(doc["processID"], "echo");
        assert_eq!(doc["type"], "process");
        assert_eq!(doc["created"], "2025-01-02T03:04:05.000Z");
        assert_eq!(doc["finished"], "2025-01-02T03:04:07.500Z");
        assert_eq!(doc["progress"], 100);
        let links = doc["links"].as_array().unwrap();
        let rel = |r: &str| {
            links
                .iter()
                .find(|l| l["rel"] == r)
                .unwrap_or_else(|| panic!("no {r} link"))
        };
        assert_eq!(rel("self")["href"], format!("https://h.example/jobs/{id}"));
        assert_eq!(
            rel(REL_RESULTS)["href"],
            format!("https://h.example/jobs/{id}/results")
        );
        assert_eq!(
            rel("related")["href"],
            format!("https://h.example/jobs/{id}/logs")
        );
        assert_eq!(rel("related")["type"], "text/plain");

        let accepted = status_info(&job(JobStatus::Accepted), "https://h.example");
        for absent in ["message", "progress", "started", "finished", "exception"] {
            assert!(accepted.get(absent).is_none(), "{absent}");
        }
        assert!(!accepted["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == REL_RESULTS));

        let failed = status_info(&job(JobStatus::Failed), "https://h.example");
        assert_eq!(failed["exception"]["detail"], "out of fuel");
        validate("exception.yaml", &failed["exception"]);
    }

    #[test]
    fn stored_run_errors_become_the_exception_member() {
        // What the jobs service records: `{"error": <RunError>}`.
        let mut failed = job(JobStatus::Failed);
        failed.error = Some(json!({"error": {"kind": "guest", "detail": {
            "code": "invalid-input", "message": "not a TIFF"}}}));
        let doc = status_info(&failed, "https://h.example");
        assert_eq!(doc["exception"]["type"], crate::ogc::INVALID_PARAMETER);
        assert_eq!(doc["exception"]["status"], 400);
        assert!(doc["exception"]["detail"]
            .as_str()
            .unwrap()
            .contains("not a TIFF"));
        validate("statusInfo.yaml", &doc);
        validate("exception.yaml", &doc["exception"]);
        if let Err(errors) = check(
            OGC_2_0,
            "schemas/processes-core/statusInfo.yaml",
            &doc,
            Mode::Strict,
        ) {
            let real: Vec<&String> = errors.iter().filter(|e| !e.contains("processID")).collect();
            assert!(real.is_empty(), "{real:#?}");
        }

        // Anything else is left out rather than sent as an invalid exception.
        failed.error = Some(json!({"title": "interrupted"}));
        let doc = status_info(&failed, "https://h.example");
        assert!(doc.get("exception").is_none(), "{doc}");
        assert_eq!(doc["message"], "working");
    }

    #[test]
    fn job_list_validates() {
        let jobs: Vec<JobRecord> = ALL.into_iter().map(job).collect();
        let next = json!({"href": "https://h.example/jobs?limit=5&offset=5", "rel": "next", "type": "application/json"});
        let doc = job_list(&jobs, "https://h.example", vec![next]);
        validate("jobList.yaml", &doc);
        assert_eq!(doc["jobs"].as_array().unwrap().len(), 5);
        validate("jobList.yaml", &job_list(&[], "https://h.example", vec![]));
    }
}
