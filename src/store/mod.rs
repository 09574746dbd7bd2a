//! Task storage: the narrow, owner-scoped port the use cases talk to (`TaskStore`), the errors
//! and schema facts both backends share, and `open`, which picks a backend from `DATABASE_URL`.
//!
//! Every operation takes the owner, so a query can never reach another user's rows: a task that
//! exists but belongs to someone else is indistinguishable from one that does not exist.
//!
//! Backends live in `sqlite` and `postgres` (all SQL is there); `url` recognises and redacts
//! database URLs; `transfer` moves every task from one database to another.

mod page;
pub mod postgres;
mod row;
pub mod sqlite;
mod sync_rows;
mod totals;
pub mod transfer;
pub mod url;

use std::future::Future;

use crate::{
    config::DatabaseSettings,
    domain::{
        Task, TaskEdit, TaskId, TaskWrite, UserId,
        list::{PageQuery, TaskPage},
        sync::{ChangeRead, Claim, Expected, Position, Written},
    },
    metrics::StoreMetrics,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
use url::DatabaseUrl;

/// An opened backend, whichever `DATABASE_URL` chose. Handlers never see this: start-up matches
/// on it and builds the app over the concrete store.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Evaluate `$body` with `$store` bound to the concrete store inside the `AnyStore` `$any`: the
/// one place that names every backend, so the code around it stays generic.
macro_rules! with_store {
    ($any:expr, |$store:ident| $body:expr) => {
        match $any {
            $crate::store::AnyStore::Sqlite($store) => $body,
            $crate::store::AnyStore::Postgres($store) => $body,
        }
    };
}
pub(crate) use with_store;

impl AnyStore {
    /// Cheap round trip, whichever the backend.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_store!(self, |store| store.ping().await)
    }
}

/// Open (creating and migrating) the database `url` names: PostgreSQL for `postgres://` and
/// `postgresql://` URLs, SQLite for a path or `sqlite://` URL. Pool sizes and timeouts come
/// from `db`; its own `url` is not consulted.
pub async fn open(url: &str, db: &DatabaseSettings) -> Result<AnyStore, OpenError> {
    open_observed(url, db, StoreMetrics::default()).await
}

/// `open`, recording queue depths, waits and write batches into `metrics`.
pub async fn open_observed(
    url: &str,
    db: &DatabaseSettings,
    metrics: StoreMetrics,
) -> Result<AnyStore, OpenError> {
    match DatabaseUrl::parse(url) {
        Some(DatabaseUrl::Postgres) => {
            let options = postgres::PgOptions {
                url: url.to_owned(),
                pool_size: db.pool_size,
                acquire_timeout: db.busy_timeout(),
                connect_timeout: db.connect_timeout(),
                statement_timeout: db.statement_timeout(),
                metrics,
            };
            let store = PgStore::connect(&options).await?;
            tracing::info!(backend = "postgres", url = %url::redact(url), "database ready");
            Ok(AnyStore::Postgres(store))
        }
        Some(DatabaseUrl::Sqlite(path)) => {
            let options = sqlite::SqliteOptions {
                path,
                pool_size: db.pool_size,
                busy_timeout: db.busy_timeout(),
                synchronous: db.synchronous.clone(),
                wal_index: db.wal_index,
                metrics,
            };
            // Opening and migrating a file blocks: keep it off the async runtime.
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&options))
                .await
                .map_err(|e| StoreError::Internal(Box::new(e)))??;
            tracing::info!(backend = "sqlite", url, "database ready");
            Ok(AnyStore::Sqlite(store))
        }
        None => Err(OpenError::UnsupportedUrl(url::redact(url))),
    }
}

/// Copy the database `url` names into the new file `target` while it may be in use, and check
/// the copy; returns the number of tasks in it. SQLite only: PostgreSQL has `pg_dump`.
pub async fn backup(url: &str, target: &std::path::Path) -> Result<i64, OpenError> {
    match DatabaseUrl::parse(url) {
        Some(DatabaseUrl::Sqlite(path)) => {
            let target = target.to_owned();
            // Copying a file blocks: keep it off the async runtime.
            let copied =
                tokio::task::spawn_blocking(move || sqlite::backup::backup(&path, &target))
                    .await
                    .map_err(|e| StoreError::Internal(Box::new(e)))??;
            Ok(copied)
        }
        Some(DatabaseUrl::Postgres) => Err(OpenError::Store(StoreError::Internal(
            "backup copies SQLite files; for PostgreSQL use pg_dump".into(),
        ))),
        None => Err(OpenError::UnsupportedUrl(url::redact(url))),
    }
}

/// Why `open` failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no backend (shown redacted).
    #[error(
        "unsupported DATABASE_URL {0:?}: use a file path, a sqlite:// URL or a postgres:// URL"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
}

/// Why the store cannot serve every request right now (`GET /health/ready`). The messages are
/// safe to show clients; the sources (driver errors) are for logs.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database cannot be read")]
    Read(#[source] StoreError),
    #[error("the database cannot be written (disk full, read-only or failing storage)")]
    Write(#[source] StoreError),
    #[error("the database schema is at version {found}; this server needs version {expected}")]
    Schema { found: i64, expected: usize },
    #[error("the database file is damaged: run `todo-api check`")]
    Damaged,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No task with that id belongs to that owner.
    #[error("task not found")]
    NotFound,
    /// A create found the owner already at the most tasks allowed; nothing was written.
    #[error("the owner already has the most tasks allowed")]
    TaskLimitReached,
    /// The idempotency key is stored for the owner with another request's fingerprint.
    #[error("the idempotency key was used for another request")]
    KeyReused,
    /// Another transaction holding the idempotency key has not finished yet.
    #[error("a request with this idempotency key is still running")]
    KeyInProgress,
    /// The database could not be reached, or stayed busy past the configured timeout.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupted database. Logged, never shown to clients.
    #[error("database error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// The same error for another caller (errors are not `Clone`: the source is kept as text).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::TaskLimitReached => Self::TaskLimitReached,
            Self::KeyReused => Self::KeyReused,
            Self::KeyInProgress => Self::KeyInProgress,
            Self::Unavailable(reason) => Self::Unavailable(reason.clone()),
            Self::Internal(source) => Self::Internal(source.to_string().into()),
        }
    }
}

/// The `tasks` columns every query selects or returns, in the order both backends' row mappers
/// read them (`id` is column 0, `updated_at` column 6, `next_task_id` column 15, `version` 16).
const TASK_COLUMNS: &str = "id, user_id, title, description, complete, created_at, updated_at, \
     priority, tags, due_at, due_date, time_zone, recurrence, completed_at, occurrence, \
     next_task_id, version";

/// Refuse a database whose schema `found` is newer than the `known` migrations of this binary:
/// an older binary must not write to a schema it does not understand.
fn check_schema_version(found: i64, known: usize) -> Result<(), StoreError> {
    if found > known as i64 {
        return Err(StoreError::Internal(
            format!("database schema version {found} is newer than this binary knows ({known})")
                .into(),
        ));
    }
    Ok(())
}

/// An import found tasks in its target: data moves only go into an empty database.
fn import_target_not_empty() -> StoreError {
    StoreError::Internal(
        "the target database already has tasks: import only into an empty one".into(),
    )
}

/// One tag of an owner and the number of the owner's tasks that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    pub name: String,
    pub count: i64,
}

/// What one purge batch removed (`TaskStore::purge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: u64,
    pub tombstones: u64,
}

/// The storage port. Implementations must be cheap to clone (a handle to a pool).
///
/// Every write records its change in the owner's feed (the task's feed position, or a
/// tombstone) and, with a `Claim`, stores the rendered response under the idempotency key, all
/// in the write's own transaction. A claimed write whose key is already stored for the owner
/// writes nothing: it answers `Written::Replayed` when the request matches the stored
/// fingerprint, `KeyReused` when it does not, and `KeyInProgress` while another transaction
/// holding the key has not finished.
pub trait TaskStore: Clone + Send + Sync + 'static {
    /// One page of the owner's tasks that match the query's filter, in its order, starting
    /// after its position: up to `limit + 1` tasks (the extra one says there is a next page),
    /// how many match in all, and the feed position the page was read at.
    fn list(
        &self,
        owner: &UserId,
        query: PageQuery,
    ) -> impl Future<Output = Result<TaskPage, StoreError>> + Send;

    /// Insert a task (the first of its series); the store assigns the id and both timestamps.
    /// With `max_tasks`, the owner's task count is checked and the task inserted atomically:
    /// an owner who already has `max_tasks` tasks gets `TaskLimitReached` and nothing is
    /// written, however many creates race (the count is a counter row kept by triggers, never
    /// a count of the owner's tasks).
    fn create(
        &self,
        owner: &UserId,
        task: TaskEdit,
        max_tasks: Option<u64>,
        claim: Option<Claim>,
    ) -> impl Future<Output = Result<Written<Task>, StoreError>> + Send;

    fn get(
        &self,
        owner: &UserId,
        id: TaskId,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    /// Change one task in one transaction: read the owner's task, let `decide` say what it
    /// becomes (or refuse with `E`, writing nothing), write that, bump `updated_at` and
    /// `version`. Concurrent changes to the same task are serialised, so each `decide` sees the
    /// state the previous one wrote (two concurrent toggles cancel out rather than collide, and
    /// a version check in `decide` is atomic with the write). A `next` occurrence in the write
    /// is inserted in the same transaction as the next of the task's series and linked to it,
    /// unless the task already has a next one (so it is created exactly once).
    fn modify<E, F>(
        &self,
        owner: &UserId,
        id: TaskId,
        decide: F,
        claim: Option<Claim>,
    ) -> impl Future<Output = Result<Written<Result<Task, E>>, StoreError>> + Send
    where
        E: Send + 'static,
        F: FnOnce(&Task) -> Result<TaskWrite, E> + Send + 'static;

    /// Delete one task, leaving its tombstone in the feed. With `expected`, only if its
    /// version is admitted, checked atomically with the delete: otherwise nothing is deleted
    /// and the current task comes back as `Err`.
    fn delete(
        &self,
        owner: &UserId,
        id: TaskId,
        expected: Option<Expected>,
        claim: Option<Claim>,
    ) -> impl Future<Output = Result<Written<Result<(), Box<Task>>>, StoreError>> + Send;

    /// Delete every completed task of the owner; returns how many there were.
    fn delete_completed(
        &self,
        owner: &UserId,
        claim: Option<Claim>,
    ) -> impl Future<Output = Result<Written<u64>, StoreError>> + Send;

    /// The owner's feed after `after`: up to `limit + 1` changes in commit order, only ever
    /// changes whose transaction has finished, with the horizon and the purge position.
    fn changes(
        &self,
        owner: &UserId,
        after: Position,
        limit: u32,
    ) -> impl Future<Output = Result<ChangeRead, StoreError>> + Send;

    /// Remove up to `batch` idempotency keys that expired by `now_ms` and up to `batch`
    /// tombstones of deletions before `tombstones_before_ms` (all owners); a caller repeats
    /// while a batch comes back full.
    fn purge(
        &self,
        now_ms: i64,
        tombstones_before_ms: i64,
        batch: u32,
    ) -> impl Future<Output = Result<Purged, StoreError>> + Send;

    /// The owner's tags with how many of the owner's tasks carry each, ordered by name
    /// case-insensitively. Spellings that differ only in case count as one tag.
    fn tags(
        &self,
        owner: &UserId,
    ) -> impl Future<Output = Result<Vec<TagCount>, StoreError>> + Send;

    /// Cheap round trip used by `/health`.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether every request could be served (`/health/ready`): the schema is this binary's,
    /// a read works, and a write to the one-row `health_probe` table commits.
    fn ready(&self) -> impl Future<Output = Result<(), NotReady>> + Send;
}
