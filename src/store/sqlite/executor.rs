//! Running blocking rusqlite work off the async runtime: `pool_size` reader threads and one
//! writer thread with group commit. Knows connections, queues and transactions, never tasks: a
//! job is any `FnOnce(&Connection) -> Result<T, StoreError>`.
//!
//! Reads go through a bounded queue to the reader threads (one per pooled connection, so no
//! thread ever parks waiting for a connection). Writes go through another to the writer thread,
//! which drains whatever is waiting and commits it as one transaction (group commit), each job in
//! its own savepoint so a failed one rolls back alone; callers get their result only after the
//! commit, so every acknowledged write is durable. Every job carries the caller's tracing span.
//!
//! With `synchronous=FULL` the sync is pipelined: the batch commits without waiting for the disk
//! (SQLite's `NORMAL`) and a syncer thread then `fdatasync`s the WAL file and only then answers
//! the batch's callers, while the writer already runs the next batch; one sync covers every batch
//! committed before it. An acknowledged write has reached the disk exactly as with SQLite's own
//! `FULL`, but the disk wait no longer stops the writer (see specs/operations.md, "Durability").

use std::{
    fs::File,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError, SendError, SyncSender, TrySendError, sync_channel},
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

/// Batches committed but not yet synced, beyond which the writer waits for the syncer.
const SYNC_QUEUE_CAPACITY: usize = 64;
/// Longest the syncer waits for more commits to cover with one sync (see `run_syncer`).
const SYNC_GATHER: Duration = Duration::from_millis(1);

/// Work the writer thread does on its own, in a transaction of its own between batches: at most
/// once every `every`, and only when a batch has committed since the last time (so an idle
/// database is never written to). A failure is logged and tried again next time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Upkeep {
    pub every: Duration,
    pub what: &'static str,
    pub run: fn(&Connection) -> rusqlite::Result<()>,
}

/// What must happen after a batch's `COMMIT` before its callers are answered.
#[derive(Debug, Clone)]
pub(super) enum Durability {
    /// Nothing: `COMMIT` under the connection's own `synchronous` is the promise (OFF, NORMAL).
    Commit,
    /// `fdatasync` this WAL file (on the syncer thread): `FULL`'s promise, pipelined.
    SyncWal(PathBuf),
}

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
        durability: Durability,
        upkeep: Option<Upkeep>,
        metrics: StoreMetrics,
    ) -> Result<Self, StoreError> {
        metrics.register_queue(DbQueue::SqliteRead);
        metrics.register_queue(DbQueue::SqliteWrite);
        let (writes, queue) = sync_channel(QUEUE_CAPACITY);
        let sync = match durability {
            Durability::Commit => None,
            Durability::SyncWal(wal) => {
                let (committed, to_sync) = sync_channel(SYNC_QUEUE_CAPACITY);
                let broken = Arc::new(AtomicBool::new(false));
                let syncer_broken = Arc::clone(&broken);
                std::thread::Builder::new()
                    .name("sqlite-syncer".into())
                    .spawn(move || run_syncer(&wal, &to_sync, &syncer_broken))
                    .map_err(|e| StoreError::Internal(Box::new(e)))?;
                Some(Syncer { committed, broken })
            }
        };
        let writer_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                run_writer(&writer, &queue, max_wait, sync, upkeep, &writer_metrics);
            })
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

/// The writer's side of the syncer thread: where committed batches go to be synced, and whether
/// a sync has failed.
struct Syncer {
    committed: SyncSender<Vec<Box<dyn DbJob>>>,
    broken: Arc<AtomicBool>,
}

/// The syncer thread: take every committed batch waiting, `fdatasync` the WAL file once for
/// all of them, answer their callers; until the writer thread stops. A failed sync answers 503
/// and marks the store broken: after a failed `fdatasync` the kernel may have dropped the dirty
/// pages, so no later sync can vouch for them, and writes stay refused until a restart (which
/// recovers from what the WAL file really holds).
///
/// Before syncing it gathers: it waits (at most `SYNC_GATHER`) until as many writes are
/// committed as the previous sync answered, since under load the callers it just answered come
/// straight back; one sync then covers them all instead of every other one. A lone writer is
/// synced at once (the previous sync answered one write, and one is there).
fn run_syncer(wal: &Path, committed: &Receiver<Vec<Box<dyn DbJob>>>, broken: &AtomicBool) {
    let mut expected = 1;
    while let Ok(first) = committed.recv() {
        let deadline = Instant::now() + SYNC_GATHER;
        let mut writes = first.len();
        let mut batches = vec![first];
        loop {
            while let Ok(more) = committed.try_recv() {
                writes += more.len();
                batches.push(more);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if writes >= expected || left.is_zero() {
                break;
            }
            match committed.recv_timeout(left) {
                Ok(more) => {
                    writes += more.len();
                    batches.push(more);
                }
                Err(_) => break,
            }
        }
        expected = writes;
        let synced = if broken.load(Ordering::Acquire) {
            Err(StoreError::Unavailable(
                "an earlier sync of the database failed: restart the server".into(),
            ))
        } else {
            // fdatasync works on the inode: any descriptor of the WAL file flushes the frames
            // the writer connection wrote through its own.
            File::open(wal).and_then(|f| f.sync_data()).map_err(|e| {
                broken.store(true, Ordering::Release);
                tracing::error!(error = %e, wal = %wal.display(), "syncing the WAL failed: refusing writes until a restart");
                StoreError::Unavailable(format!("cannot sync the database: {e}"))
            })
        };
        for job in batches.into_iter().flatten() {
            job.finish(synced.as_ref().map(|_| ()));
        }
    }
}

/// The writer thread: wait for a write, take everything else already queued, commit it as one
/// transaction, answer every caller (through the syncer when there is one); until every handle
/// to the store is dropped. Between batches it does its `upkeep` when due, also when the queue
/// has gone quiet.
/// A write that has waited longer than `max_wait` (the busy timeout) is answered 503 without
/// being run, so a caller that was told to retry never finds its write applied later.
fn run_writer(
    pool: &Pool<SqliteConnectionManager>,
    queue: &Receiver<Box<dyn DbJob>>,
    max_wait: Duration,
    sync: Option<Syncer>,
    upkeep: Option<Upkeep>,
    metrics: &StoreMetrics,
) {
    let mut last_upkeep = Instant::now();
    let mut written_since_upkeep = false;
    loop {
        if let Some(upkeep) = upkeep.filter(|u| last_upkeep.elapsed() >= u.every)
            && written_since_upkeep
        {
            run_upkeep(pool, &upkeep);
            (last_upkeep, written_since_upkeep) = (Instant::now(), false);
        }
        // With upkeep pending, wait for a write only until it is due.
        let first = match upkeep.filter(|_| written_since_upkeep) {
            Some(upkeep) => {
                let due_in = upkeep.every.saturating_sub(last_upkeep.elapsed());
                match queue.recv_timeout(due_in) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
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
        if sync
            .as_ref()
            .is_some_and(|s| s.broken.load(Ordering::Acquire))
        {
            let broken = StoreError::Unavailable(
                "an earlier sync of the database failed: restart the server".into(),
            );
            for job in batch {
                job.finish(Err(&broken));
            }
            continue;
        }
        metrics.write_batch(batch.len());
        let committed = commit_batch(pool, &mut batch, sync.is_some());
        written_since_upkeep |= committed.is_ok();
        match (&sync, committed) {
            (Some(sync), Ok(())) => {
                // Answered by the syncer once the WAL is on disk. It only stops after this
                // thread, so the send fails only if it panicked: then answer here.
                if let Err(SendError(batch)) = sync.committed.send(batch) {
                    let lost = StoreError::Internal("the database syncer stopped".into());
                    for job in batch {
                        job.finish(Err(&lost));
                    }
                }
            }
            (_, committed) => {
                for job in batch {
                    job.finish(committed.as_ref().map(|_| ()));
                }
            }
        }
    }
}

/// Run `upkeep` in a transaction of its own; a failure is logged and rolled back.
fn run_upkeep(pool: &Pool<SqliteConnectionManager>, upkeep: &Upkeep) {
    let outcome = writer_connection(pool)
        .and_then(|conn| in_transaction(&conn, |conn| (upkeep.run)(conn).map_err(map_error)));
    if let Err(e) = outcome {
        tracing::warn!(error = %e, upkeep = upkeep.what, "database upkeep failed; trying again later");
    }
}

/// Execute a parameterless statement, prepared once per connection.
fn execute_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(map_error)
}

/// Commit `batch` as one transaction. With `deferred_sync` the commit does not wait for the
/// disk (`synchronous=NORMAL` for this transaction only: the connection is also the one imports
/// and migrations use, which keep the configured mode); the caller syncs before answering.
fn commit_batch(
    pool: &Pool<SqliteConnectionManager>,
    batch: &mut [Box<dyn DbJob>],
    deferred_sync: bool,
) -> Result<(), StoreError> {
    let conn = writer_connection(pool)?;
    if !deferred_sync {
        return commit_on(&conn, batch);
    }
    let configured: String = conn
        .query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
        .map(|level| level.to_string())
        .map_err(map_error)?;
    execute_cached(&conn, "PRAGMA synchronous = NORMAL")?;
    let result = commit_on(&conn, batch);
    let restored = conn
        .execute_batch(&format!("PRAGMA synchronous = {configured}"))
        .map_err(map_error);
    result.and(restored)
}

fn commit_on(conn: &Connection, batch: &mut [Box<dyn DbJob>]) -> Result<(), StoreError> {
    in_transaction(conn, |conn| run_in_savepoints(conn, batch))
}

/// The writer connection, with any transaction an earlier failure left open rolled back (it
/// would make every `BEGIN` fail).
fn writer_connection(
    pool: &Pool<SqliteConnectionManager>,
) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, StoreError> {
    let conn = pool.get().map_err(pool_error)?;
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    Ok(conn)
}

/// Run `f` in one transaction: committed if it succeeds, rolled back if not. IMMEDIATE takes
/// the write lock up front, so a busy database fails at `BEGIN` instead of half-way through.
fn in_transaction(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    execute_cached(conn, "BEGIN IMMEDIATE")?;
    let result = f(conn).and_then(|()| execute_cached(conn, "COMMIT"));
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

        let committed = commit_batch(&writer, &mut batch, false);
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

        let committed = commit_batch(&writer, &mut batch, false);
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

#[cfg(test)]
mod sync_tests {
    use super::*;

    /// An executor over a fresh WAL file with a one-column table, answering writes only after
    /// syncing `wal` (which a test may point elsewhere).
    fn start(dir: &Path, wal: Option<PathBuf>) -> (Executor, Pool<SqliteConnectionManager>) {
        let manager = || {
            SqliteConnectionManager::file(dir.join("t.db")).with_init(|c| {
                c.execute_batch("PRAGMA busy_timeout = 500; PRAGMA synchronous = FULL;")
            })
        };
        let writer = Pool::builder().max_size(1).build(manager()).unwrap();
        writer
            .get()
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE notes (title TEXT NOT NULL);")
            .unwrap();
        let readers = Pool::builder().max_size(1).build(manager()).unwrap();
        let wal = wal.unwrap_or_else(|| dir.join("t.db-wal"));
        let executor = Executor::start(
            readers,
            1,
            writer.clone(),
            Duration::from_secs(5),
            Durability::SyncWal(wal),
            None,
            StoreMetrics::default(),
        )
        .unwrap();
        (executor, writer)
    }

    fn insert(conn: &Connection) -> Result<(), StoreError> {
        conn.execute("INSERT INTO notes (title) VALUES ('x')", [])
            .map(drop)
            .map_err(map_error)
    }

    fn count(conn: &Connection) -> Result<i64, StoreError> {
        conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .map_err(map_error)
    }

    #[tokio::test]
    async fn with_a_pipelined_sync_writes_are_answered_after_the_wal_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, writer) = start(dir.path(), None);

        let writes: Vec<_> = (0..20).map(|_| executor.write(insert)).collect();
        for write in writes {
            write.await.unwrap();
        }

        assert_eq!(executor.read(count).await.unwrap(), 20);
        let during: i64 = executor
            .write(|c| {
                c.query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(map_error)
            })
            .await
            .unwrap();
        assert_eq!(during, 1, "a batch commits without waiting for the disk");
        let between: i64 = writer
            .get()
            .unwrap()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(between, 2, "the connection is FULL again between batches");
    }

    #[tokio::test]
    async fn a_failed_sync_answers_503_and_refuses_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, _) = start(
            dir.path(),
            Some(dir.path().join("missing").join("t.db-wal")),
        );

        let first = executor.write(insert).await;
        let later = executor.write(insert).await;

        assert!(
            matches!(&first, Err(StoreError::Unavailable(m)) if m.contains("cannot sync")),
            "{first:?}"
        );
        assert!(
            matches!(&later, Err(StoreError::Unavailable(m)) if m.contains("restart")),
            "{later:?}"
        );
    }
}
