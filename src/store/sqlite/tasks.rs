//! The SQL behind `TaskStore` on SQLite, and mapping a `tasks` row to a `Task`.
//!
//! Reads run on the reader threads, writes on the writer thread (see `executor`). Timestamps
//! come from this process's clock; `updated_at = MAX(now, updated_at + 1)` keeps them strictly
//! monotonic per task even if the clock steps back.

use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, map_error};
use crate::{
    domain::{NewTask, Task, TaskEdit, TaskId, UserId, now_ms},
    store::{StoreError, TASK_COLUMNS, TaskStore},
};

/// A row selected as `TASK_COLUMNS`. (PostgreSQL has its own twin: the drivers' row types and
/// their `get` signatures differ.)
pub(super) fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: row.get(0)?,
        user_id: row.get(1)?,
        title: row.get(2)?,
        description: row.get(3)?,
        complete: row.get(4)?,
        created_at_ms: row.get(5)?,
        updated_at_ms: row.get(6)?,
    })
}

/// `NotFound` when the statement matched no row of this owner.
fn one_task(result: rusqlite::Result<Option<Task>>) -> Result<Task, StoreError> {
    result.map_err(map_error)?.ok_or(StoreError::NotFound)
}

impl TaskStore for SqliteStore {
    #[tracing::instrument(name = "sqlite.list", skip_all)]
    async fn list(&self, owner: &UserId) -> Result<Vec<Task>, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1 ORDER BY id"
                ))
                .map_err(map_error)?;
            let rows = stmt
                .query_map([owner.as_str()], task_from_row)
                .map_err(map_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(map_error)
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.create", skip_all)]
    async fn create(&self, owner: &UserId, task: NewTask) -> Result<Task, StoreError> {
        let owner = owner.clone();
        self.write(move |conn| {
            let now = now_ms();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, 0, ?4, ?4) RETURNING {TASK_COLUMNS}"
                ))
                .map_err(map_error)?;
            let description = task.description.as_ref().map(|d| d.as_str());
            one_task(
                stmt.query_row(
                    params![owner.as_str(), task.title.as_str(), description, now],
                    task_from_row,
                )
                .optional(),
            )
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.get", skip_all)]
    async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2"
                ))
                .map_err(map_error)?;
            one_task(
                stmt.query_row(params![id, owner.as_str()], task_from_row)
                    .optional(),
            )
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.modify", skip_all)]
    async fn modify<E, F>(
        &self,
        owner: &UserId,
        id: TaskId,
        decide: F,
    ) -> Result<Result<Task, E>, StoreError>
    where
        E: Send + 'static,
        F: FnOnce(&Task) -> Result<TaskEdit, E> + Send + 'static,
    {
        let owner = owner.clone();
        // The writer thread is the only writer, so nothing can change the row between the read
        // and the write below. `updated_at` moves forward by at least a millisecond on every
        // change, even if the clock steps back.
        self.write(move |conn| {
            let mut select = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2"
                ))
                .map_err(map_error)?;
            let current = one_task(
                select
                    .query_row(params![id, owner.as_str()], task_from_row)
                    .optional(),
            )?;
            let edit = match decide(&current) {
                Ok(edit) => edit,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let mut update = conn
                .prepare_cached(&format!(
                    "UPDATE tasks SET title = ?3, description = ?4, complete = ?5, \
                       updated_at = MAX(?6, updated_at + 1) \
                     WHERE id = ?1 AND user_id = ?2 RETURNING {TASK_COLUMNS}"
                ))
                .map_err(map_error)?;
            one_task(
                update
                    .query_row(
                        params![
                            id,
                            owner.as_str(),
                            edit.title,
                            edit.description,
                            edit.complete,
                            now_ms()
                        ],
                        task_from_row,
                    )
                    .optional(),
            )
            .map(Ok)
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.delete", skip_all)]
    async fn delete(&self, owner: &UserId, id: TaskId) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached("DELETE FROM tasks WHERE id = ?1 AND user_id = ?2")
                .map_err(map_error)?;
            match stmt
                .execute(params![id, owner.as_str()])
                .map_err(map_error)?
            {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(map_error)
        })
        .await
    }
}
