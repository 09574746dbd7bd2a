//! The SQLite schema: the embedded migration files and applying the pending ones, tracked by
//! `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior, params};

use super::map_error;
use crate::{
    domain::list::{fold, search_text},
    store::{StoreError, check_schema_version},
};

/// One schema step: a script, then (for steps that derive values SQL cannot compute) a Rust
/// function over the same transaction.
struct Migration {
    sql: &'static str,
    then: Option<MigrationStep>,
    /// The step rebuilds a table other tables refer to: it runs with foreign keys off (so
    /// dropping the old table does not delete the rows that refer to it) and checks every
    /// foreign key before it commits.
    rebuilds_tables: bool,
}

type MigrationStep = fn(&Connection) -> Result<(), StoreError>;

/// Schema migrations, applied in order; the index + 1 is the `PRAGMA user_version` they lead to.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../migrations/sqlite/0001_create_tasks.sql"),
        then: None,
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0002_task_model.sql"),
        then: None,
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0003_list_indexes.sql"),
        then: Some(fill_list_columns),
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0004_task_counts.sql"),
        then: None,
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0005_health_probe.sql"),
        then: None,
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0006_tasks_by_owner.sql"),
        then: None,
        rebuilds_tables: true,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0007_tag_orders.sql"),
        then: None,
        rebuilds_tables: false,
    },
    Migration {
        sql: include_str!("../migrations/sqlite/0008_sync.sql"),
        then: None,
        rebuilds_tables: false,
    },
];

/// The schema version this binary migrates to.
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Compute `title_key` and `search_text` of the rows that existed before step 3, then build the
/// search index over them and add the triggers that maintain it.
fn fill_list_columns(conn: &Connection) -> Result<(), StoreError> {
    fill_folded_columns(conn)?;
    conn.execute_batch(include_str!(
        "../migrations/sqlite/0003_list_indexes_search.sql"
    ))
    .map_err(map_error)
}

fn fill_folded_columns(conn: &Connection) -> Result<(), StoreError> {
    let mut select = conn
        .prepare("SELECT id, title, description FROM tasks WHERE id > ?1 ORDER BY id LIMIT 10000")
        .map_err(map_error)?;
    let mut update = conn
        .prepare("UPDATE tasks SET title_key = ?2, search_text = ?3 WHERE id = ?1")
        .map_err(map_error)?;
    let mut after = 0_i64;
    loop {
        // A batch at a time, so a large file is not read into memory at once.
        let rows: Vec<(i64, String, Option<String>)> = select
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(map_error)?;
        let Some(&(last, _, _)) = rows.last() else {
            return Ok(());
        };
        for (id, title, description) in rows {
            update
                .execute(params![
                    id,
                    fold(&title),
                    search_text(&title, description.as_deref())
                ])
                .map_err(map_error)?;
        }
        after = last;
    }
}

/// Bring the schema up to date. Each step runs in its own transaction with its version bump.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_error)?;
    check_schema_version(current, MIGRATIONS.len())?;
    for (index, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index + 1;
        if step.rebuilds_tables {
            // Only takes effect outside a transaction.
            conn.execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(map_error)?;
        }
        let applied = apply(conn, step, version);
        if step.rebuilds_tables {
            conn.execute_batch("PRAGMA foreign_keys = ON")
                .map_err(map_error)?;
        }
        applied?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(())
}

/// One step and its version bump, in one transaction.
fn apply(conn: &mut Connection, step: &Migration, version: usize) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_error)?;
    tx.execute_batch(step.sql).map_err(map_error)?;
    if let Some(then) = step.then {
        then(&tx)?;
    }
    if step.rebuilds_tables {
        let broken: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(map_error)?;
        if broken > 0 {
            return Err(StoreError::Internal(
                format!("schema step {version} would leave {broken} broken foreign key(s)").into(),
            ));
        }
    }
    tx.execute_batch(&format!("PRAGMA user_version = {version}"))
        .map_err(map_error)?;
    tx.commit().map_err(map_error)
}
