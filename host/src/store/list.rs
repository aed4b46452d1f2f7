//! The job-list query: every [`JobFilter`] field as SQL.

use super::rows::{job_columns, to_micros};
use crate::model::JobFilter;
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Builds the listing query for `filter`. It asks for one row beyond the
/// page, so the caller learns whether more jobs match without a second
/// `COUNT` query that could disagree with the first under concurrent writes.
/// `now` closes the duration of jobs still running. The same SQL serves
/// every database wades runs on; only the placeholders differ.
pub(super) fn query<DB>(filter: &JobFilter, now: i64) -> QueryBuilder<'static, DB>
where
    DB: Database,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
{
    let mut q = QueryBuilder::new(concat!("SELECT ", job_columns!(), " FROM jobs WHERE 1 = 1"));

    if let Some(owner) = &filter.owner {
        q.push(" AND owner = ").push_bind(owner.clone());
    }
    if !filter.process_ids.is_empty() {
        q.push(" AND process_id IN (");
        let mut list = q.separated(", ");
        for p in &filter.process_ids {
            list.push_bind(p.clone());
        }
        q.push(")");
    }
    if !filter.statuses.is_empty() {
        q.push(" AND status IN (");
        let mut list = q.separated(", ");
        for s in &filter.statuses {
            list.push_bind(s.as_str().to_string());
        }
        q.push(")");
    }
    if let Some(from) = filter.created_from {
        q.push(" AND created >= ").push_bind(to_micros(from));
    }
    if let Some(to) = filter.created_to {
        q.push(" AND created <= ").push_bind(to_micros(to));
    }
    if filter.min_duration.is_some() || filter.max_duration.is_some() {
        // A job that never started has no duration, so it cannot satisfy a
        // bound on one (NULL arithmetic would exclude it too; this says so).
        q.push(" AND started IS NOT NULL");
        // Compared in microseconds as REAL, so fractional seconds in the
        // bound are honoured exactly enough and no rounding direction has
        // to be chosen.
        if let Some(min) = filter.min_duration {
            q.push(" AND (COALESCE(finished, ")
                .push_bind(now)
                .push(") - started) >= ")
                .push_bind(min * 1e6);
        }
        if let Some(max) = filter.max_duration {
            q.push(" AND (COALESCE(finished, ")
                .push_bind(now)
                .push(") - started) <= ")
                .push_bind(max * 1e6);
        }
    }

    q.push(" ORDER BY created DESC, id LIMIT ")
        .push_bind(i64::from(filter.limit) + 1)
        .push(" OFFSET ")
        .push_bind(i64::from(filter.offset));
    q
}
