//! The embedded SQLite backend: one file, WAL journal, a reader pool and a single writer thread.
//! This module owns the options, opening the file (PRAGMAs, pools, migration) and the mapping of
//! rusqlite errors; `executor` runs the blocking work, `tasks` holds the SQL behind `TaskStore`,
//! `migrate` the schema steps, `import` the bulk reads and writes of data moves.
//!
//! SQLite allows one writer at a time. Instead of letting concurrent writers collide and spin in
//! SQLite's busy handler (which sleeps in coarse steps and surfaces `SQLITE_BUSY` under load), all
//! writes in this process go through one bounded queue to a dedicated writer thread that commits
//! whatever is waiting as one transaction (group commit; see `executor`). Readers use their own
//! pool and, thanks to WAL, never wait for the writer. `busy_timeout` guards against other
//! processes (the `migrate` command, a backup tool) holding the lock.

pub mod backup;
mod executor;
mod import;
pub mod integrity;
mod migrate;
mod readiness;
mod sync;
mod task_row;
mod tasks;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
    time::Duration,
};

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode};

pub use import::SqliteImport;

use super::{StoreError, totals::Totals};
use crate::{config::WalIndex, metrics::StoreMetrics};
use executor::{Durability, Executor, Upkeep};

/// After a checkpoint has reset the write-ahead log, it is truncated to this size: readers that
/// hold a checkpoint back under load can grow it (75 MB was seen in a soak run), and it should
/// not stay that big.
const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The write-ahead log is checkpointed into the database file once it holds this many pages
/// (32 MiB at 4 KiB pages), by the writer right after the commit that crossed it. SQLite's
/// default of 1,000 made the writer checkpoint about a hundred times a second under a burst of
/// creates (each create dirties a leaf in every index: ~50 KB of log), copying and syncing the
/// same hot pages again each time; at 8,000 a page rewritten by many commits is copied once,
/// and creates at 50 connections went from 9,600-9,800 to 11,300/s (`specs/performance.md`).
/// The price: a log of up to ~32 MiB on disk, replayed after a crash (well under a second).
const WAL_CHECKPOINT_PAGES: u32 = 8_000;

/// Prepared statements each connection keeps (rusqlite's default is 16). A list's statements
/// differ by filter, order and page size (`store::page` writes the limit into the SQL), so a
/// busy reader sees more than 16 kinds; one evicted is parsed and planned again next time.
const PREPARED_STATEMENTS: usize = 128;

/// Keeping the search index fast. FTS5 writes a new segment of the index at every commit, and
/// a search reads every segment; its own merging (`automerge`, migration 3) leaves up to 15 a
/// level. Under a steady trickle of small commits, searches got steadily dearer: in a 10-minute
/// soak the server's CPU per request doubled, FTS5's segment iterators taking most of it, and
/// merging a copy of that database took a search from 1.24 to 0.16 ms. So once a second, after
/// writes, the writer merges up to 64 pages' worth of the index (~10 ms), from any level (the
/// negative budget): merging only levels of 4 or more segments still let the soak's CPU per
/// request creep up by a third in 4 minutes, since the deletions' markers stay until merged
/// into the oldest segment; merging from any level kept it flat.
const SEARCH_INDEX_UPKEEP: Upkeep = Upkeep {
    every: Duration::from_secs(1),
    what: "merging the search index",
    run: |conn| {
        conn.execute(
            "INSERT INTO task_search (task_search, rank) VALUES ('merge', -64)",
            [],
        )
        .map(drop)
    },
};

/// Reader threads for a configured `pool_size`: as many, but at most two per CPU. A read is
/// CPU work (the file's pages come from the operating system's cache), so more threads only
/// wait for a core, each with a page cache of its own: on 2 CPUs, 4 readers instead of 8 paged
/// through a 100,000-task list with 14% less CPU a page and 10 MiB less resident memory
/// (specs/performance.md, "Lists at scale").
fn reader_threads(pool_size: u32) -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = u32::try_from(cpus.saturating_mul(2)).unwrap_or(u32::MAX);
    pool_size.clamp(1, most.max(2))
}

/// How to open the database file.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// Reader connections (the writer is always one more).
    pub pool_size: u32,
    /// How long a statement waits for a lock, and a request for a connection, before giving up with 503.
    pub busy_timeout: Duration,
    /// `PRAGMA synchronous`: `FULL` (an acknowledged write survives power loss; our default),
    /// `NORMAL` (survives a process crash only) or `OFF`.
    pub synchronous: String,
    /// Where the WAL index lives: the shared `-shm` file, or this process's heap.
    pub wal_index: WalIndex,
    /// Where queue depths, waits and write batch sizes are recorded.
    pub metrics: StoreMetrics,
}

/// A cloneable handle to the writer connection and the reader and writer threads' queues.
#[derive(Clone)]
pub struct SqliteStore {
    /// The one write connection: used by the writer thread, batch by batch, and by imports.
    writer: Pool<SqliteConnectionManager>,
    executor: Executor,
    /// The database file, for the integrity check.
    path: PathBuf,
    /// Set when an integrity check found the file damaged: readiness then fails.
    damage: Arc<OnceLock<String>>,
    /// Set when the last write failed because the file could not grow or be written (disk
    /// full, read-only, I/O error); cleared by the next write that commits.
    out_of_room: Arc<std::sync::atomic::AtomicBool>,
    /// Totals of filtered lists, kept while their owner's revision holds.
    totals: Arc<Totals>,
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
        // FULL and EXTRA promise that a commit is on disk when it returns (in WAL mode both sync
        // the WAL once per commit); the executor keeps that promise with a pipelined sync.
        let durability = match synchronous.as_str() {
            "FULL" | "EXTRA" => {
                let mut wal = options.path.clone().into_os_string();
                wal.push("-wal");
                Durability::SyncWal(wal.into())
            }
            _ => Durability::Commit,
        };
        let busy_ms = options.busy_timeout.as_millis();
        let init = format!(
            "PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; \
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}; PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
        );
        let target = match options.wal_index {
            WalIndex::File => options.path.clone(),
            // The `unix-excl` VFS takes a lock for the whole process and keeps the WAL index in
            // the heap, shared by this process's connections: no `-shm` file is mapped.
            WalIndex::Heap => {
                PathBuf::from(format!("file:{}?vfs=unix-excl", uri_path(&options.path)))
            }
        };
        let manager = || {
            let init = init.clone();
            SqliteConnectionManager::file(&target).with_init(move |c: &mut Connection| {
                c.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
                c.execute_batch(&init)
            })
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
            migrate::migrate(&mut conn)?;
        }
        let reader_count = reader_threads(options.pool_size);
        tracing::debug!(readers = reader_count, "SQLite reader threads");
        let readers = Pool::builder()
            .max_size(reader_count)
            .min_idle(Some(1))
            .connection_timeout(options.busy_timeout)
            .build(manager())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let executor = Executor::start(
            readers,
            reader_count,
            writer.clone(),
            options.busy_timeout,
            durability,
            Some(SEARCH_INDEX_UPKEEP),
            options.metrics.clone(),
        )?;
        Ok(Self {
            writer,
            executor,
            path: options.path.clone(),
            damage: Arc::default(),
            out_of_room: Arc::default(),
            totals: Arc::default(),
        })
    }

    /// Run `f` on one of the reader threads.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.executor.read(f).await
    }

    /// Queue `f` for the writer thread and wait until its batch is committed.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let result = self.executor.write(f).await;
        let out_of_room = match &result {
            Ok(_) => Some(false),
            Err(StoreError::Unavailable(reason)) if cannot_store(reason) => Some(true),
            Err(_) => None,
        };
        if let Some(out_of_room) = out_of_room {
            self.out_of_room
                .store(out_of_room, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
}

/// Whether an `Unavailable` reason says the file cannot take more data (as opposed to a busy
/// lock or a full queue), by SQLite's messages for `SQLITE_FULL`, `SQLITE_READONLY` and
/// `SQLITE_IOERR`.
fn cannot_store(reason: &str) -> bool {
    ["disk is full", "readonly database", "disk I/O error"]
        .iter()
        .any(|message| reason.contains(message))
}

/// `path` as the path part of a `file:` URI: absolute, with every byte that could end it or be
/// read as an escape (`?`, `#`, `%`, ...) percent-encoded.
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut uri = String::new();
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(*byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri
}

fn pool_error(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection available: {e}"))
}

/// Busy, locked, unopenable, read-only, full or failing files are `Unavailable` (503); anything
/// else is `Internal` (500).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> SqliteStore {
        SqliteStore::open(&SqliteOptions {
            path: dir.join("todo.db"),
            pool_size: 1,
            busy_timeout: Duration::from_secs(5),
            synchronous: "FULL".into(),
            wal_index: WalIndex::default(),
            metrics: StoreMetrics::default(),
        })
        .unwrap()
    }

    fn search_segments(store: &SqliteStore) -> i64 {
        let conn = store.writer.get().unwrap();
        conn.query_row(
            "SELECT count(DISTINCT segid) FROM task_search_idx",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_writer_merges_the_search_index_that_small_commits_split_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        // One commit each: FTS5 writes one segment per commit and, on its own, merges only
        // when 16 pile up at a level.
        for n in 0..100 {
            store
                .write(move |conn| {
                    conn.execute(
                        "INSERT INTO tasks (id, user_id, title, created_at, updated_at, \
                           search_text) VALUES (?1, 'u', ?2, 0, 0, ?2)",
                        rusqlite::params![n + 1, format!("task number {n}")],
                    )
                    .map(drop)
                    .map_err(map_error)
                })
                .await
                .unwrap();
        }
        let unmerged = search_segments(&store);
        assert!(unmerged > 4, "{unmerged} segments before the upkeep");
        // Within a second or two of the last write, the quiet writer merges them.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while search_segments(&store) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(search_segments(&store), 1, "merged into one segment");
        let found: i64 = store
            .writer
            .get()
            .unwrap()
            .query_row(
                "SELECT count(*) FROM task_search WHERE task_search MATCH '\"number 4\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 11, "number 4, 40..=49: nothing lost in the merge");
    }

    #[test]
    fn readers_are_as_many_as_configured_but_at_most_two_per_cpu() {
        let cpus = std::thread::available_parallelism().unwrap().get() as u32;
        assert_eq!(reader_threads(0), 1);
        assert_eq!(reader_threads(1), 1);
        assert_eq!(reader_threads(2), 2);
        assert_eq!(reader_threads(1_000), (2 * cpus).max(2));
    }

    #[test]
    fn every_connection_keeps_the_configured_sync_and_the_large_checkpoint_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let conn = store.writer.get().unwrap();
        let pragma = |name: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            pragma("wal_autocheckpoint"),
            i64::from(WAL_CHECKPOINT_PAGES)
        );
        assert_eq!(pragma("journal_size_limit"), WAL_SIZE_LIMIT_BYTES as i64);
        assert_eq!(pragma("synchronous"), 2, "FULL");
        // The migration that rebuilds the tasks table turns foreign keys off while it runs.
        assert_eq!(
            pragma("foreign_keys"),
            1,
            "foreign keys back on after migrating"
        );
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
