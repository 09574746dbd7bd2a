//! Task storage: the narrow, owner-scoped interface the HTTP layer talks to, and its backends.
//!
//! Every operation takes the owner, so a query can never reach another user's rows: a task that
//! exists but belongs to someone else is indistinguishable from one that does not exist.

pub mod postgres;
pub mod sqlite;
pub mod transfer;

use std::future::Future;

use crate::domain::{NewTask, Task, TaskChanges, TaskId, UserId};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// An opened backend, whichever `DATABASE_URL` chose. Handlers never see this: start-up matches
/// on it and builds the app over the concrete store.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Cheap round trip, whichever the backend.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.ping().await,
            Self::Postgres(s) => s.ping().await,
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No task with that id belongs to that owner.
    #[error("task not found")]
    NotFound,
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
            Self::Unavailable(reason) => Self::Unavailable(reason.clone()),
            Self::Internal(source) => Self::Internal(source.to_string().into()),
        }
    }
}

/// The storage port. Implementations must be cheap to clone (a handle to a pool).
pub trait TaskStore: Clone + Send + Sync + 'static {
    /// All of the owner's tasks, ordered by id ascending.
    fn list(&self, owner: &UserId) -> impl Future<Output = Result<Vec<Task>, StoreError>> + Send;

    /// Insert a task; the store assigns the id and both timestamps.
    fn create(
        &self,
        owner: &UserId,
        task: NewTask,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    fn get(
        &self,
        owner: &UserId,
        id: TaskId,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    /// Apply the changes that are set (a full replacement sets them all) and bump `updated_at`.
    fn update(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    /// Flip `complete` atomically, so two concurrent toggles cancel out rather than collide.
    fn toggle_complete(
        &self,
        owner: &UserId,
        id: TaskId,
    ) -> impl Future<Output = Result<Task, StoreError>> + Send;

    fn delete(
        &self,
        owner: &UserId,
        id: TaskId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Cheap round trip used by `/health`.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
