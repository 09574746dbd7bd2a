//! A `tasks` row selected as `TASK_COLUMNS`, read into a `Task` on PostgreSQL.

use tokio_postgres::Row;

use crate::{
    domain::Task,
    store::{StoreError, row::TaskRow},
};

/// A row selected as `TASK_COLUMNS`. (SQLite has its own twin: the drivers' row types and their
/// `get` signatures differ; what the values mean is shared in `store::row`.)
pub(super) fn task_from_row(row: &Row) -> Result<Task, StoreError> {
    TaskRow {
        id: row.get(0),
        user_id: row.get(1),
        title: row.get(2),
        description: row.get(3),
        complete: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
        priority: i64::from(row.get::<_, i16>(7)),
        tags: row.get(8),
        due_at: row.get(9),
        due_date: row.get(10),
        time_zone: row.get(11),
        recurrence: row.get(12),
        completed_at: row.get(13),
        occurrence: i64::from(row.get::<_, i32>(14)),
        next_task_id: row.get(15),
        version: row.get(16),
    }
    .into_task()
}

/// Every task a statement returned.
pub(super) fn all_tasks(rows: &[Row]) -> Result<Vec<Task>, StoreError> {
    // Sized up front: collecting into a `Result` cannot know the length, and growing a vector
    // of tasks a doubling at a time copied each task several times.
    let mut tasks = Vec::with_capacity(rows.len());
    for row in rows {
        tasks.push(task_from_row(row)?);
    }
    Ok(tasks)
}
