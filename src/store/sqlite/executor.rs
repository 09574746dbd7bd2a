//! Running blocking rusqlite work off the async runtime: `pool_size` reader threads and one
//! writer thread with group commit. Knows connections, queues and transactions, never tasks: a
//! job is any `FnOnce(&Connection) -> Result<T, StoreError>`.
//!
//! Reads go through a bounded queue to the reader threads (one per pooled connection, so no
//! thread ever parks waiting for a connection). Writes go through another to the writer thread,
//! which drains whatever is waiting and commits it as one transaction (group commit), each job in
//! its own savepoint so a failed one rolls back alone; callers get their result only after the
//! commit, so every acknowledged write is durable. Every job carries the caller's tracing span.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    time::{Duration, Instant},
};

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::{map_error, pool_error};
use crate::{
    metrics::{DbQueue, StoreMetrics},
    store::StoreError,
};

/// Operations waiting for the reader or writer threads beyond this are refused with 503
/// (back-pressure).
const QUEUE_CAPACITY: usize = 1024;
/// Most operations committed together in one transaction.
const MAX_BATCH: usize = 64;

/// A cloneable handle to the reader and writer threads' queues. The threads stop once every
/// handle is dropped.
#[derive(Clone)]
pub(super) struct Executor {
    writes: SyncSender<Box<dyn DbJob>>,
    reads: SyncSender<Box<dyn DbJob>>,
    metrics: StoreMetrics,
}

impl Executor {
    /// Start the writer thread on `writer` (a pool of one connection) and `reader_threads`
    /// reader threads on `readers`. A write that has waited longer than `max_wait` in the queue
    /// is answered 503 without being run.
    pub(super) fn start(
        readers: Pool<SqliteConnectionManager>,
        reader_threads: u32,
        writer: Pool<SqliteConnectionManager>,
        max_wait: Duration,
        metrics: StoreMetrics,
    ) -> Result<Self, StoreError> {
        metrics.register_queue(DbQueue::SqliteRead);
        metrics.register_queue(DbQueue::SqliteWrite);
        let (writes, queue) = sync_channel(QUEUE_CAPACITY);
        let writer_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(&writer, &queue, max_wait, &writer_metrics))
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
        // One reader thread per pooled connection, all taking from one queue: a request never
        // parks a thread on the pool waiting for a connection.
        let (reads, queue) = sync_channel(QUEUE_CAPACITY);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..reader_threads {
            let (pool, queue) = (readers.clone(), Arc::clone(&queue));
            let metrics = metrics.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || run_reader(&pool, &queue, &metrics))
                .map_err(|e| StoreError::Internal(Box::new(e)))?;
        }
        Ok(Self {
            writes,
            reads,
            metrics,
        })
    }

    /// Run `f` on one of the reader threads.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        submit(&self.reads, f, &self.metrics, DbQueue::SqliteRead).await
    }

    /// Queue `f` for the writer thread and wait until its batch is committed.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        submit(&self.writes, f, &self.metrics, DbQueue::SqliteWrite).await
    }
}

/// Hand `work` to the threads behind `queue` and wait for its answer.
async fn submit<T, F>(
    queue: &SyncSender<Box<dyn DbJob>>,
    work: F,
    metrics: &StoreMetrics,
    name: DbQueue,
) -> Result<T, StoreError>
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
    // Counted before the send so the thread that takes the job never decrements first.
    metrics.enqueued(name);
    let sent = queue.try_send(job);
    if sent.is_err() {
        metrics.dequeued(name, Duration::ZERO);
    }
    match sent {
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
fn run_reader(
    pool: &Pool<SqliteConnectionManager>,
    queue: &Mutex<Receiver<Box<dyn DbJob>>>,
    metrics: &StoreMetrics,
) {
    loop {
        // Only the waiting thread holds the lock; it is released before the work runs.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut job) = next else { return };
        metrics.dequeued(DbQueue::SqliteRead, job.enqueued().elapsed());
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
    metrics: &StoreMetrics,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        for job in &batch {
            metrics.dequeued(DbQueue::SqliteWrite, job.enqueued().elapsed());
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
        metrics.write_batch(batch.len());
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

#[cfg(test)]
mod writer_tests {
    use super::*;

    /// A writer pool of one connection to a fresh file with a one-column table of its own.
    fn open_temp() -> (tempfile::TempDir, Pool<SqliteConnectionManager>) {
        let dir = tempfile::tempdir().unwrap();
        let manager = SqliteConnectionManager::file(dir.path().join("t.db"))
            .with_init(|c: &mut Connection| c.execute_batch("PRAGMA busy_timeout = 500;"));
        let pool = Pool::builder().max_size(1).build(manager).unwrap();
        pool.get()
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE notes (title TEXT NOT NULL);")
            .unwrap();
        (dir, pool)
    }

    fn insert(
        title: &'static str,
        fail_after: bool,
    ) -> impl FnOnce(&Connection) -> Result<(), StoreError> {
        move |conn| {
            conn.execute("INSERT INTO notes (title) VALUES (?1)", [title])
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
        let (dir, writer) = open_temp();
        let (ok1, r1) = job(insert("kept 1", false));
        let (bad, r2) = job(insert("undone", true));
        let (ok2, r3) = job(insert("kept 2", false));
        let mut batch = vec![ok1, bad, ok2];

        let committed = commit_batch(&writer, &mut batch);
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
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT title FROM notes ORDER BY rowid")
            .unwrap();
        let titles: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(titles, ["kept 1", "kept 2"]);
    }

    #[test]
    fn when_the_database_is_locked_every_write_in_the_batch_is_told_it_is_unavailable() {
        let (dir, writer) = open_temp();
        let blocker = Connection::open(dir.path().join("t.db")).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (a, ra) = job(insert("a", false));
        let (b, rb) = job(insert("b", false));
        let mut batch = vec![a, b];

        let committed = commit_batch(&writer, &mut batch);
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
