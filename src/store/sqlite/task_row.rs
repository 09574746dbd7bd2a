//! A `tasks` row selected as `TASK_COLUMNS`, read into a `Task` on SQLite.

use rusqlite::Row;

use super::map_error;
use crate::{
    domain::Task,
    store::{StoreError, row::TaskRow},
};

/// A row selected as `TASK_COLUMNS`. (PostgreSQL has its own twin: the drivers' row types and
/// their `get` signatures differ; what the values mean is shared in `store::row`.)
pub(super) fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Task, StoreError>> {
    Ok(TaskRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        title: row.get(2)?,
        description: row.get(3)?,
        complete: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        priority: row.get(7)?,
        tags: row.get_ref(8)?.as_str()?,
        due_at: row.get(9)?,
        due_date: row.get_ref(10)?.as_str_or_null()?,
        time_zone: row.get(11)?,
        recurrence: row.get(12)?,
        completed_at: row.get(13)?,
        occurrence: row.get(14)?,
        next_task_id: row.get(15)?,
        version: row.get(16)?,
    }
    .into_task())
}

/// Every task a statement returned.
pub(super) fn all_tasks(
    rows: impl Iterator<Item = rusqlite::Result<Result<Task, StoreError>>>,
) -> Result<Vec<Task>, StoreError> {
    all_tasks_within(rows, 0)
}

/// Every task a statement returned, into room for `expected` of them (a page's size: growing
/// a vector of tasks a doubling at a time copied each task several times).
pub(super) fn all_tasks_within(
    rows: impl Iterator<Item = rusqlite::Result<Result<Task, StoreError>>>,
    expected: usize,
) -> Result<Vec<Task>, StoreError> {
    let mut tasks = Vec::with_capacity(expected);
    for row in rows {
        tasks.push(row.map_err(map_error)??);
    }
    Ok(tasks)
}
