//! Moving every task from one database to another (`todo-api migrate-data`), in either direction
//! between SQLite and PostgreSQL, with ids and timestamps intact.
//!
//! The source is read in id order, in batches, so memory stays flat whatever its size. The target
//! must be empty and is written in one transaction: it receives everything or nothing. Its id
//! counter is then moved past the highest id the source ever handed out, so ids of tasks deleted
//! before the move are never reused after it either.

use super::{AnyStore, StoreError, postgres::PgImport, sqlite::SqliteImport};
use crate::domain::{Task, TaskId};

/// Tasks read and written per round trip.
pub const BATCH: i64 = 1000;

/// What a move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferReport {
    /// Tasks copied.
    pub tasks: u64,
    /// The highest id ever handed out by the source; the target continues after it.
    pub high_water: TaskId,
}

/// Copy every task of `from` into the empty `to`.
pub async fn copy_all(from: &AnyStore, to: &AnyStore) -> Result<TransferReport, StoreError> {
    let high_water = match from {
        AnyStore::Sqlite(s) => s.id_high_water().await?,
        AnyStore::Postgres(s) => s.id_high_water().await?,
    };
    let mut import = match to {
        AnyStore::Sqlite(s) => Import::Sqlite(s.begin_import().await?),
        AnyStore::Postgres(s) => Import::Postgres(s.begin_import().await?),
    };
    let (mut after, mut tasks) = (0, 0u64);
    loop {
        let batch: Vec<Task> = match from {
            AnyStore::Sqlite(s) => s.tasks_after(after, BATCH).await?,
            AnyStore::Postgres(s) => s.tasks_after(after, BATCH).await?,
        };
        let Some(last) = batch.last() else { break };
        after = last.id;
        tasks += batch.len() as u64;
        match &mut import {
            Import::Sqlite(i) => i.insert(batch).await?,
            Import::Postgres(i) => i.insert(&batch).await?,
        }
    }
    let high_water = high_water.max(after);
    match import {
        Import::Sqlite(i) => i.commit(high_water).await?,
        Import::Postgres(i) => i.commit(high_water).await?,
    }
    Ok(TransferReport { tasks, high_water })
}

enum Import {
    Sqlite(SqliteImport),
    Postgres(PgImport),
}
