//! The embedded SQLite backend: one file, WAL journal, a reader pool and a single-writer pool.
//!
//! SQLite allows one writer at a time. Instead of letting concurrent writers collide and spin in
//! SQLite's busy handler (which sleeps in coarse steps and surfaces `SQLITE_BUSY` under load), all
//! writes in this process queue for one dedicated connection; readers use their own pool and, thanks
//! to WAL, never wait for the writer. `busy_timeout` still guards against other processes (the
//! `migrate` command, a backup tool) holding the lock.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool (`spawn_blocking`), bounded by
//! the pools' sizes, and carries the caller's tracing span.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::{StoreError, TaskStore};
use crate::domain::{NewTask, Task, TaskChanges, TaskId, UserId, now_ms};

/// Schema migrations, applied in order; the index + 1 is the `PRAGMA user_version` they lead to.
const MIGRATIONS: &[&str] = &[include_str!("migrations/sqlite/0001_create_tasks.sql")];

const TASK_COLUMNS: &str = "id, user_id, title, description, complete, created_at, updated_at";

/// How to open the database file.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// Reader connections (the writer is always one more).
    pub pool_size: u32,
    /// How long a statement waits for a lock, and a request for a connection, before giving up with 503.
    pub busy_timeout: Duration,
    /// `PRAGMA synchronous`: `NORMAL` (durable against a process crash, the default with WAL),
    /// `FULL` (also against power loss) or `OFF`.
    pub synchronous: String,
}

/// A cloneable handle to the SQLite pools.
#[derive(Clone)]
pub struct SqliteStore {
    readers: Pool<SqliteConnectionManager>,
    writer: Pool<SqliteConnectionManager>,
}

impl SqliteStore {
    /// Open (creating the file and its folder if needed) and migrate to the latest schema.
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        let synchronous = match options.synchronous.to_ascii_uppercase().as_str() {
            s @ ("OFF" | "NORMAL" | "FULL" | "EXTRA") => s.to_owned(),
            other => {
                return Err(StoreError::Internal(
                    format!("unsupported synchronous mode {other:?}").into(),
                ));
            }
        };
        if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let busy_ms = options.busy_timeout.as_millis();
        let init = format!(
            "PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};"
        );
        let manager = || {
            let init = init.clone();
            SqliteConnectionManager::file(&options.path)
                .with_init(move |c: &mut Connection| c.execute_batch(&init))
        };

        let writer = Pool::builder()
            .max_size(1)
            .connection_timeout(options.busy_timeout)
            .build(manager())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        {
            let mut conn = writer.get().map_err(pool_error)?;
            // WAL is a property of the file: set once, every later connection inherits it.
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(map_error)?;
            migrate(&mut conn)?;
        }
        let readers = Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.busy_timeout)
            .build(manager())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { readers, writer })
    }

    /// The schema version the file is at (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.readers.get().map_err(pool_error)?;
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_error)
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        run_blocking(self.readers.clone(), move |conn| f(conn)).await
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        run_blocking(self.writer.clone(), move |conn| {
            // IMMEDIATE takes the write lock up front, so a busy database fails fast at BEGIN
            // instead of half-way through.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_error)?;
            let out = f(&tx)?;
            tx.commit().map_err(map_error)?;
            Ok(out)
        })
        .await
    }
}

/// Run `f` with a pooled connection on the blocking pool, inside the caller's span.
async fn run_blocking<T, F>(pool: Pool<SqliteConnectionManager>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut PooledConnection<SqliteConnectionManager>) -> Result<T, StoreError>
        + Send
        + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(pool_error)?;
        f(&mut conn)
    })
    .await
    .map_err(|e| StoreError::Internal(Box::new(e)))?
}

/// Bring the schema up to date. Each step runs in its own transaction with its version bump.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_error)?;
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::Internal(
            format!(
                "database schema version {current} is newer than this binary knows ({})",
                MIGRATIONS.len()
            )
            .into(),
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index + 1;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_error)?;
        tx.execute_batch(sql).map_err(map_error)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(map_error)?;
        tx.commit().map_err(map_error)?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(())
}

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
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

fn pool_error(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection available: {e}"))
}

fn map_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::ReadOnly
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(Box::new(e)),
    }
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

    #[tracing::instrument(name = "sqlite.update", skip_all)]
    async fn update(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> Result<Task, StoreError> {
        let owner = owner.clone();
        self.write(move |conn| {
            // One statement, so the read-modify-write is atomic. `updated_at` moves forward by at
            // least a millisecond on every change, even if the clock steps back.
            let mut stmt = conn
                .prepare_cached(&format!(
                    "UPDATE tasks SET \
                       title = COALESCE(?3, title), \
                       description = CASE WHEN ?4 THEN ?5 ELSE description END, \
                       complete = COALESCE(?6, complete), \
                       updated_at = MAX(?7, updated_at + 1) \
                     WHERE id = ?1 AND user_id = ?2 RETURNING {TASK_COLUMNS}"
                ))
                .map_err(map_error)?;
            let title = changes.title.as_ref().map(|t| t.as_str());
            let set_description = changes.description.is_some();
            let description = changes
                .description
                .as_ref()
                .and_then(|d| d.as_ref().map(|d| d.as_str()));
            one_task(
                stmt.query_row(
                    params![
                        id,
                        owner.as_str(),
                        title,
                        set_description,
                        description,
                        changes.complete,
                        now_ms()
                    ],
                    task_from_row,
                )
                .optional(),
            )
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.toggle_complete", skip_all)]
    async fn toggle_complete(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        let owner = owner.clone();
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "UPDATE tasks SET complete = 1 - complete, updated_at = MAX(?3, updated_at + 1) \
                     WHERE id = ?1 AND user_id = ?2 RETURNING {TASK_COLUMNS}"
                ))
                .map_err(map_error)?;
            one_task(
                stmt.query_row(params![id, owner.as_str(), now_ms()], task_from_row)
                    .optional(),
            )
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

/// Bulk access for data moves (`todo-api migrate-data`): not part of the owner-scoped port.
impl SqliteStore {
    /// Every task with an id above `after`, in id order, at most `limit` of them.
    pub async fn tasks_after(&self, after: TaskId, limit: i64) -> Result<Vec<Task>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM tasks WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))
                .map_err(map_error)?;
            let rows = stmt
                .query_map(params![after, limit], task_from_row)
                .map_err(map_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(map_error)
        })
        .await
    }

    /// The highest id ever handed out (0 if none), deleted tasks included.
    pub async fn id_high_water(&self) -> Result<TaskId, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(map_error)
        })
        .await
    }

    /// Begin an import into this (empty) database: see `SqliteImport`.
    pub async fn begin_import(&self) -> Result<SqliteImport, StoreError> {
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
                return Err(StoreError::Internal(
                    "the target database already has tasks: import only into an empty one".into(),
                ));
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

    /// Insert tasks exactly as given (ids and timestamps included).
    pub async fn insert(&mut self, tasks: Vec<Task>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "INSERT INTO tasks ({TASK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ))
                .map_err(map_error)?;
            for t in &tasks {
                stmt.execute(params![
                    t.id,
                    t.user_id,
                    t.title,
                    t.description,
                    t.complete,
                    t.created_at_ms,
                    t.updated_at_ms
                ])
                .map_err(map_error)?;
            }
            Ok(())
        })
        .await
    }

    /// Move the id counter past `high_water` (inserting already moved it past every imported
    /// id), then commit.
    pub async fn commit(mut self, high_water: TaskId) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            conn.execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'tasks'",
                [high_water],
            )
            .map_err(map_error)?;
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'tasks', ?1 \
                 WHERE ?1 > 0 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tasks')",
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

/// Parse `DATABASE_URL` forms that mean SQLite: a plain path, `sqlite://path` or `sqlite:path`.
pub fn path_from_url(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || url.contains("://") && !url.starts_with("sqlite://") {
        return None;
    }
    Some(Path::new(path).to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::path_from_url;
    use std::path::PathBuf;

    #[test]
    fn database_urls_that_mean_sqlite_are_recognised() {
        assert_eq!(
            path_from_url("data/todo.db"),
            Some(PathBuf::from("data/todo.db"))
        );
        assert_eq!(
            path_from_url("sqlite://data/todo.db"),
            Some(PathBuf::from("data/todo.db"))
        );
        assert_eq!(
            path_from_url("sqlite:///tmp/t.db"),
            Some(PathBuf::from("/tmp/t.db"))
        );
        assert_eq!(path_from_url("sqlite:t.db"), Some(PathBuf::from("t.db")));
        assert_eq!(path_from_url("postgres://u@h/db"), None);
        assert_eq!(path_from_url(""), None);
    }
}
