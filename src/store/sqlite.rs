//! The embedded SQLite backend: one file, WAL journal, a reader pool and a single writer thread.
//!
//! SQLite allows one writer at a time. Instead of letting concurrent writers collide and spin in
//! SQLite's busy handler (which sleeps in coarse steps and surfaces `SQLITE_BUSY` under load), all
//! writes in this process go through one bounded queue to a dedicated writer thread. The thread
//! drains whatever is waiting and commits it as one transaction (group commit), each operation in
//! its own savepoint so a failed one rolls back alone; callers get their result only after the
//! commit, so every acknowledged write is durable. Readers use their own pool and, thanks to WAL,
//! never wait for the writer. `busy_timeout` guards against other processes (the `migrate`
//! command, a backup tool) holding the lock.
//!
//! rusqlite is blocking, so it never runs on the async runtime: reads go through a bounded queue to
//! `pool_size` reader threads (one per pooled connection, so no thread ever parks waiting for a
//! connection), writes to the writer thread; every operation carries the caller's tracing span.

use std::{
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    time::{Duration, Instant},
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

/// Operations waiting for the reader or writer threads beyond this are refused with 503
/// (back-pressure).
const QUEUE_CAPACITY: usize = 1024;
/// Most operations committed together in one transaction.
const MAX_BATCH: usize = 64;

/// A cloneable handle to the SQLite pools and the writer thread's queue.
#[derive(Clone)]
pub struct SqliteStore {
    readers: Pool<SqliteConnectionManager>,
    /// The one write connection: used by the writer thread, batch by batch, and by imports.
    writer: Pool<SqliteConnectionManager>,
    writes: SyncSender<Box<dyn DbJob>>,
    reads: SyncSender<Box<dyn DbJob>>,
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
        let (writes, queue) = sync_channel(QUEUE_CAPACITY);
        let (pool, busy_timeout) = (writer.clone(), options.busy_timeout);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(&pool, &queue, busy_timeout))
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
        // One reader thread per pooled connection, all taking from one queue: a request never
        // parks a thread on the pool waiting for a connection.
        let (reads, queue) = sync_channel(QUEUE_CAPACITY);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..options.pool_size.max(1) {
            let (pool, queue) = (readers.clone(), Arc::clone(&queue));
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || run_reader(&pool, &queue))
                .map_err(|e| StoreError::Internal(Box::new(e)))?;
        }
        Ok(Self {
            readers,
            writer,
            writes,
            reads,
        })
    }

    /// The schema version the file is at (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.readers.get().map_err(pool_error)?;
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_error)
    }

    /// Run `f` on one of the reader threads.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        submit(&self.reads, f).await
    }

    /// Queue `f` for the writer thread and wait until its batch is committed.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        submit(&self.writes, f).await
    }
}

/// Hand `work` to the threads behind `queue` and wait for its answer.
async fn submit<T, F>(queue: &SyncSender<Box<dyn DbJob>>, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, result) = tokio::sync::oneshot::channel();
    let job = Box::new(Job {
        work: Some(work),
        outcome: None,
        reply,
        span: tracing::Span::current(),
        enqueued: Instant::now(),
    });
    match queue.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return Err(StoreError::Unavailable("database queue is full".into()));
        }
        Err(TrySendError::Disconnected(_)) => {
            return Err(StoreError::Unavailable(
                "database threads have stopped".into(),
            ));
        }
    }
    result
        .await
        .map_err(|_| StoreError::Internal("database thread dropped an operation".into()))?
}

/// A reader thread: take the next read, run it on a pooled connection, answer; until every
/// handle to the store is dropped.
fn run_reader(pool: &Pool<SqliteConnectionManager>, queue: &Mutex<Receiver<Box<dyn DbJob>>>) {
    loop {
        // Only the waiting thread holds the lock; it is released before the work runs.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut job) = next else { return };
        match pool.get() {
            Ok(conn) => {
                job.run(&conn);
                job.finish(Ok(()));
            }
            Err(e) => job.finish(Err(&pool_error(e))),
        }
    }
}

/// One queued operation. A write runs inside its batch's transaction and answers after the
/// commit; a read answers as soon as it has run.
trait DbJob: Send {
    fn run(&mut self, conn: &Connection);
    /// Whether `run` produced an error (its changes must be rolled back).
    fn failed(&self) -> bool;
    fn enqueued(&self) -> Instant;
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct Job<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
    span: tracing::Span,
    enqueued: Instant,
}

impl<T, F> DbJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) {
        let _entered = self.span.enter();
        let Some(work) = self.work.take() else { return };
        self.outcome = Some(
            std::panic::catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
                Err(StoreError::Internal("database operation panicked".into()))
            }),
        );
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Some(Err(_)))
    }

    fn enqueued(&self) -> Instant {
        self.enqueued
    }

    fn finish(self: Box<Self>, committed: Result<(), &StoreError>) {
        let result = match committed {
            Ok(()) => self
                .outcome
                .unwrap_or_else(|| Err(StoreError::Internal("write was not run".into()))),
            Err(e) => Err(e.duplicate()),
        };
        // The caller may have gone away (client disconnected): the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// The writer thread: wait for a write, take everything else already queued, commit it as one
/// transaction, answer every caller; until every handle to the store is dropped.
/// A write that has waited longer than `max_wait` (the busy timeout) is answered 503 without
/// being run, so a caller that was told to retry never finds its write applied later.
fn run_writer(
    pool: &Pool<SqliteConnectionManager>,
    queue: &Receiver<Box<dyn DbJob>>,
    max_wait: Duration,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (stale, mut batch): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|job| job.enqueued().elapsed() > max_wait);
        let too_late = StoreError::Unavailable("write waited longer than the busy timeout".into());
        for job in stale {
            job.finish(Err(&too_late));
        }
        if batch.is_empty() {
            continue;
        }
        let committed = commit_batch(pool, &mut batch);
        for job in batch {
            job.finish(committed.as_ref().map(|_| ()));
        }
    }
}

/// Execute a parameterless statement, prepared once per connection.
fn execute_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(map_error)
}

fn commit_batch(
    pool: &Pool<SqliteConnectionManager>,
    batch: &mut [Box<dyn DbJob>],
) -> Result<(), StoreError> {
    let conn = pool.get().map_err(pool_error)?;
    if !conn.is_autocommit() {
        // A transaction left open by an earlier failure would make every BEGIN fail.
        let _ = conn.execute_batch("ROLLBACK");
    }
    // IMMEDIATE takes the write lock up front, so a busy database fails the batch at BEGIN
    // instead of half-way through.
    execute_cached(&conn, "BEGIN IMMEDIATE")?;
    let result = run_in_savepoints(&conn, batch).and_then(|()| execute_cached(&conn, "COMMIT"));
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// Run each job in its own savepoint: a failed job rolls back alone. If SQLite itself abandons
/// the transaction (disk full, I/O error) or a savepoint cannot be closed, the whole batch fails,
/// so no write is ever reported failed yet committed, or the reverse.
fn run_in_savepoints(conn: &Connection, batch: &mut [Box<dyn DbJob>]) -> Result<(), StoreError> {
    for job in batch.iter_mut() {
        execute_cached(conn, "SAVEPOINT job")?;
        job.run(conn);
        if conn.is_autocommit() {
            return Err(StoreError::Unavailable(
                "the database rolled the transaction back".into(),
            ));
        }
        if job.failed() {
            execute_cached(conn, "ROLLBACK TO job")?;
        }
        execute_cached(conn, "RELEASE job")?;
    }
    Ok(())
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
            let (set_description, description) = changes.description_param();
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

#[cfg(test)]
mod writer_tests {
    use super::*;

    fn open_temp() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&SqliteOptions {
            path: dir.path().join("t.db"),
            pool_size: 2,
            busy_timeout: Duration::from_millis(500),
            synchronous: "NORMAL".into(),
        })
        .unwrap();
        (dir, store)
    }

    fn insert(
        title: &'static str,
        fail_after: bool,
    ) -> impl FnOnce(&Connection) -> Result<(), StoreError> {
        move |conn| {
            conn.execute(
                "INSERT INTO tasks (user_id, title, created_at, updated_at) VALUES ('u', ?1, 0, 0)",
                [title],
            )
            .map_err(map_error)?;
            if fail_after {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        }
    }

    fn job(
        work: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> (
        Box<dyn DbJob>,
        tokio::sync::oneshot::Receiver<Result<(), StoreError>>,
    ) {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job = Job {
            work: Some(work),
            outcome: None,
            reply,
            span: tracing::Span::none(),
            enqueued: Instant::now(),
        };
        (Box::new(job), result)
    }

    #[test]
    fn a_failed_write_in_a_batch_rolls_back_alone_and_the_rest_commit() {
        let (_dir, store) = open_temp();
        let (ok1, r1) = job(insert("kept 1", false));
        let (bad, r2) = job(insert("undone", true));
        let (ok2, r3) = job(insert("kept 2", false));
        let mut batch = vec![ok1, bad, ok2];

        let committed = commit_batch(&store.writer, &mut batch);
        for job in batch {
            job.finish(committed.as_ref().map(|_| ()));
        }

        assert!(committed.is_ok());
        assert!(r1.blocking_recv().unwrap().is_ok());
        assert!(matches!(
            r2.blocking_recv().unwrap(),
            Err(StoreError::NotFound)
        ));
        assert!(r3.blocking_recv().unwrap().is_ok());
        let conn = store.readers.get().unwrap();
        let mut stmt = conn.prepare("SELECT title FROM tasks ORDER BY id").unwrap();
        let titles: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(titles, ["kept 1", "kept 2"]);
    }

    #[test]
    fn when_the_database_is_locked_every_write_in_the_batch_is_told_it_is_unavailable() {
        let (dir, store) = open_temp();
        let blocker = Connection::open(dir.path().join("t.db")).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (a, ra) = job(insert("a", false));
        let (b, rb) = job(insert("b", false));
        let mut batch = vec![a, b];

        let committed = commit_batch(&store.writer, &mut batch);
        for job in batch {
            job.finish(committed.as_ref().map(|_| ()));
        }

        assert!(matches!(
            ra.blocking_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            rb.blocking_recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
    }
}
