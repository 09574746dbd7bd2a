//! The SQL behind `TaskStore` on PostgreSQL, and mapping a `tasks` row to a `Task`.
//!
//! Creates and deletes are one statement each; a change to a task is one transaction that
//! reads the row `FOR UPDATE` and writes it back. Timestamps come from the database clock.

use tokio_postgres::{Row, types::ToSql};

use super::{PgStore, finish};
use crate::{
    domain::{NewTask, Task, TaskEdit, TaskId, UserId},
    store::{StoreError, TASK_COLUMNS, TaskStore},
};

/// The database clock in epoch milliseconds (floored, like `chrono::timestamp_millis`).
const NOW_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// A row selected as `TASK_COLUMNS`. (SQLite has its own twin: the drivers' row types and their
/// `get` signatures differ.)
pub(super) fn task_from_row(row: &Row) -> Task {
    Task {
        id: row.get(0),
        user_id: row.get(1),
        title: row.get(2),
        description: row.get(3),
        complete: row.get(4),
        created_at_ms: row.get(5),
        updated_at_ms: row.get(6),
    }
}

impl PgStore {
    /// Run one statement that returns at most one task of the owner.
    async fn one_task(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Task, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query_opt(&stmt, params).await
            })
            .await;
        finish(client, reply)?
            .as_ref()
            .map(task_from_row)
            .ok_or(StoreError::NotFound)
    }
}

impl TaskStore for PgStore {
    #[tracing::instrument(name = "postgres.list", skip_all)]
    async fn list(&self, owner: &UserId) -> Result<Vec<Task>, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1 ORDER BY id"
                    ))
                    .await?;
                client.query(&stmt, &[&owner.as_str()]).await
            })
            .await;
        Ok(finish(client, reply)?.iter().map(task_from_row).collect())
    }

    #[tracing::instrument(name = "postgres.create", skip_all)]
    async fn create(&self, owner: &UserId, task: NewTask) -> Result<Task, StoreError> {
        let description = task.description.as_ref().map(|d| d.as_str());
        self.one_task(
            &format!(
                "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at) \
                 SELECT $1::text, $2::text, $3::text, FALSE, clock.ms, clock.ms \
                 FROM (SELECT {NOW_MS} AS ms) AS clock RETURNING {TASK_COLUMNS}"
            ),
            &[&owner.as_str(), &task.title.as_str(), &description],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.get", skip_all)]
    async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        self.one_task(
            &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"),
            &[&id, &owner.as_str()],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.modify", skip_all)]
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
        let mut client = self.client().await?;
        // One transaction; `FOR UPDATE` holds the row until commit, so concurrent changes to the
        // task (from any instance) are serialised and each decides on the state the last wrote.
        // Dropping the transaction without a commit (a refusal, an error) rolls it back.
        let reply = self
            .within_deadline(async {
                let tx = client.transaction().await?;
                let select = tx
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE"
                    ))
                    .await?;
                let Some(row) = tx.query_opt(&select, &[&id, &owner.as_str()]).await? else {
                    return Ok(None);
                };
                let edit = match decide(&task_from_row(&row)) {
                    Ok(edit) => edit,
                    Err(refusal) => return Ok(Some(Err(refusal))),
                };
                let update = tx
                    .prepare_cached(&format!(
                        "UPDATE tasks SET title = $3::text, description = $4::text, \
                           complete = $5::boolean, updated_at = GREATEST({NOW_MS}, updated_at + 1) \
                         WHERE id = $1 AND user_id = $2 RETURNING {TASK_COLUMNS}"
                    ))
                    .await?;
                let row = tx
                    .query_one(
                        &update,
                        &[
                            &id,
                            &owner.as_str(),
                            &edit.title,
                            &edit.description,
                            &edit.complete,
                        ],
                    )
                    .await?;
                tx.commit().await?;
                Ok(Some(Ok(task_from_row(&row))))
            })
            .await;
        finish(client, reply)?.ok_or(StoreError::NotFound)
    }

    #[tracing::instrument(name = "postgres.delete", skip_all)]
    async fn delete(&self, owner: &UserId, id: TaskId) -> Result<(), StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached("DELETE FROM tasks WHERE id = $1 AND user_id = $2")
                    .await?;
                client.execute(&stmt, &[&id, &owner.as_str()]).await
            })
            .await;
        match finish(client, reply)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async { client.simple_query("SELECT 1").await })
            .await;
        finish(client, reply).map(|_| ())
    }
}
