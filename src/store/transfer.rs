//! Moving every task from one database to another (`todo-api migrate-data`), in either direction
//! between SQLite and PostgreSQL, with ids and timestamps intact: the data-move port both stores
//! implement (`BulkTasks`, `TaskImport`) and the one generic copy over it.
//!
//! The source is read in id order, in batches, so memory stays flat whatever its size. The target
//! must be empty and is written in one transaction: it receives everything or nothing. Its id
//! counter is then moved past the highest id the source ever handed out, so ids of tasks deleted
//! before the move are never reused after it either.

use std::future::Future;

use super::{AnyStore, StoreError, with_store};
use crate::domain::{Task, TaskId};

/// Tasks read and written per round trip.
pub const BATCH: i64 = 1000;

/// Bulk access for data moves: every owner's tasks at once, so deliberately not part of the
/// owner-scoped `TaskStore` port the HTTP layer sees.
pub trait BulkTasks {
    /// An import in progress into this store.
    type Import: TaskImport;

    /// Every task with an id above `after`, in id order, at most `limit` of them.
    fn tasks_after(
        &self,
        after: TaskId,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Task>, StoreError>> + Send;

    /// The highest id ever handed out (0 if none), deleted tasks included.
    fn id_high_water(&self) -> impl Future<Output = Result<TaskId, StoreError>> + Send;

    /// Begin an import into this store, which must hold no task (else the import is refused).
    fn begin_import(&self) -> impl Future<Output = Result<Self::Import, StoreError>> + Send;
}

/// An import in progress: one transaction, so the data appears all at once or not at all.
/// Dropping it without `commit` rolls everything back.
pub trait TaskImport: Send {
    /// Insert tasks exactly as given (ids and timestamps included).
    fn insert(&mut self, batch: Vec<Task>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Move the id counter past `high_water` (and past every imported id, never backwards),
    /// then commit.
    fn commit(self, high_water: TaskId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What a move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferReport {
    /// Tasks copied.
    pub tasks: u64,
    /// The highest id ever handed out by the source; the target continues after it.
    pub high_water: TaskId,
}

/// Copy every task of `from` into the empty `to`, whichever backends they are.
pub async fn copy_all(from: &AnyStore, to: &AnyStore) -> Result<TransferReport, StoreError> {
    with_store!(from, |from| with_store!(to, |to| copy(from, to).await))
}

/// Copy every task of `from` into the empty `to`.
pub async fn copy<F: BulkTasks, T: BulkTasks>(
    from: &F,
    to: &T,
) -> Result<TransferReport, StoreError> {
    let high_water = from.id_high_water().await?;
    let mut import = to.begin_import().await?;
    let (mut after, mut tasks) = (0, 0u64);
    loop {
        let batch = from.tasks_after(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        tasks += batch.len() as u64;
        import.insert(batch).await?;
    }
    let high_water = high_water.max(after);
    import.commit(high_water).await?;
    Ok(TransferReport { tasks, high_water })
}
