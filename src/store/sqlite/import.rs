//! Data moves on SQLite (`BulkTasks`): reading every task in id order, the `task_ids` high
//! water, and importing into an empty file in one `BEGIN IMMEDIATE` transaction.
//!
//! The import holds the writer connection for its whole life, outside the writer thread's
//! group commit, and runs its statements on the blocking pool.

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, params};

use super::{
    SqliteStore, map_error, pool_error,
    task_row::{all_tasks, task_from_row},
    tasks::insert_tags,
};
use crate::{
    domain::{Task, TaskId},
    store::{
        StoreError, TASK_COLUMNS, import_target_not_empty,
        row::EditColumns,
        transfer::{BulkTasks, TaskImport},
    },
};

impl BulkTasks for SqliteStore {
    type Import = SqliteImport;

    async fn tasks_after(&self, after: TaskId, limit: i64) -> Result<Vec<Task>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))
                .map_err(map_error)?;
            let rows = stmt
                .query_map(params![after, limit], task_from_row)
                .map_err(map_error)?;
            all_tasks(rows)
        })
        .await
    }

    async fn id_high_water(&self) -> Result<TaskId, StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT last_id FROM task_ids", [], |r| r.get(0))
                .map_err(map_error)
        })
        .await
    }

    async fn begin_import(&self) -> Result<SqliteImport, StoreError> {
        let pool = self.writer.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(pool_error)?;
            conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error)?;
            let mut import = SqliteImport { conn: Some(conn) };
            let has_tasks: bool = import
                .conn()
                .query_row("SELECT EXISTS (SELECT 1 FROM tasks)", [], |r| r.get(0))
                .map_err(map_error)?;
            if has_tasks {
                return Err(import_target_not_empty());
            }
            Ok(import.conn.take())
        })
        .await
        .map_err(|e| StoreError::Internal(Box::new(e)))??;
        Ok(SqliteImport { conn })
    }
}

/// An import in progress: one write transaction, so the data appears all at once or not at all.
/// Dropping it without `commit` rolls everything back.
pub struct SqliteImport {
    conn: Option<PooledConnection<SqliteConnectionManager>>,
}

impl SqliteImport {
    fn conn(&mut self) -> &mut PooledConnection<SqliteConnectionManager> {
        self.conn.as_mut().expect("import still open")
    }

    /// Run `f` on the import's connection on the blocking pool.
    async fn with_conn<T, F>(&mut self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.take().expect("import still open");
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(|e| StoreError::Internal(Box::new(e)))?;
        self.conn = Some(conn);
        result
    }
}

impl TaskImport for SqliteImport {
    async fn insert(&mut self, tasks: Vec<Task>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "INSERT INTO tasks ({TASK_COLUMNS}, title_key, search_text) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                      ?17, ?18, ?19)"
                ))
                .map_err(map_error)?;
            for t in &tasks {
                let columns = EditColumns::of_task(t);
                stmt.execute(params![
                    t.id,
                    t.user_id,
                    t.title,
                    t.description,
                    t.complete,
                    t.created_at_ms,
                    t.updated_at_ms,
                    columns.priority,
                    columns.tags,
                    columns.due_at,
                    columns.due_date,
                    t.time_zone,
                    t.recurrence,
                    t.completed_at_ms,
                    t.occurrence,
                    t.next_task_id,
                    t.version,
                    columns.title_key,
                    columns.search_text
                ])
                .map_err(map_error)?;
                insert_tags(conn, &t.user_id, t.id, &t.tags)?;
            }
            Ok(())
        })
        .await
    }

    /// Move the id counter past `high_water` (inserting already moved it past every imported
    /// id), then commit.
    async fn commit(mut self, high_water: TaskId) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            conn.execute(
                "UPDATE task_ids SET last_id = MAX(last_id, ?1)",
                [high_water],
            )
            .map_err(map_error)?;
            conn.execute_batch("COMMIT").map_err(map_error)
        })
        .await?;
        self.conn.take();
        Ok(())
    }
}

impl Drop for SqliteImport {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !conn.is_autocommit()
        {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}
