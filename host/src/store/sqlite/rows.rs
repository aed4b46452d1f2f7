//! Reading job rows on the writer's own (rusqlite) connection.

use crate::model::JobRecord;
use crate::store::rows::{records, JobRow};
use crate::store::StoreError;

/// Reads a row of a statement that selects `job_columns!`, in that order.
fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        process_id: r.get(1)?,
        status: r.get(2)?,
        message: r.get(3)?,
        progress: r.get(4)?,
        created: r.get(5)?,
        started: r.get(6)?,
        finished: r.get(7)?,
        updated: r.get(8)?,
        attempts: r.get(9)?,
        request: r.get(10)?,
        results: r.get(11)?,
        error: r.get(12)?,
        owner: r.get(13)?,
        fuel: r.get(14)?,
        result_bytes: r.get(15)?,
    })
}

/// Runs a statement that returns jobs on the writing connection.
pub(super) fn write_returning(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<JobRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, job_row)?;
    let rows: Vec<JobRow> = rows.collect::<Result<_, _>>()?;
    records(rows)
}
