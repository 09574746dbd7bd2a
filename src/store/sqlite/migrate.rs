//! The SQLite schema: the embedded migration files and applying the pending ones, tracked by
//! `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::map_error;
use crate::store::{StoreError, check_schema_version};

/// Schema migrations, applied in order; the index + 1 is the `PRAGMA user_version` they lead to.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_create_tasks.sql"),
    include_str!("../migrations/sqlite/0002_task_model.sql"),
    include_str!("../migrations/sqlite/0003_health_probe.sql"),
];

/// The schema version this binary migrates to.
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Bring the schema up to date. Each step runs in its own transaction with its version bump.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_error)?;
    check_schema_version(current, MIGRATIONS.len())?;
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
