//! The PostgreSQL schema: the embedded migration files and applying the pending ones, once
//! across every instance that starts at the same time, recorded in `todo_schema_migrations`.

use super::{PgStore, map_error};
use crate::store::{StoreError, check_schema_version};

/// Schema migrations, applied in order; the index + 1 is the version recorded for each.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "create tasks",
        include_str!("../migrations/postgres/0001_create_tasks.sql"),
    ),
    (
        "task model: priority, tags, due, recurrence",
        include_str!("../migrations/postgres/0002_task_model.sql"),
    ),
    (
        "health probe: one row the readiness check updates",
        include_str!("../migrations/postgres/0003_health_probe.sql"),
    ),
];

/// The schema version this binary migrates to.
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// First half of the migration advisory lock key ("todo" in ASCII); the second half is a hash of
/// the schema, so deployments in different schemas of one database do not wait for each other.
const MIGRATION_LOCK_KEY: i32 = 0x746f_646f;

impl PgStore {
    /// Apply pending migrations, once across every instance that starts at the same time.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_error)?;
        // Waiting for another instance's migration is expected: no timeout inside this transaction.
        tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
            .await
            .map_err(map_error)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK_KEY],
        )
        .await
        .map_err(map_error)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS todo_schema_migrations (\
               version     INTEGER     PRIMARY KEY, \
               description TEXT        NOT NULL, \
               applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(map_error)?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM todo_schema_migrations",
                &[],
            )
            .await
            .map_err(map_error)?
            .get(0);
        check_schema_version(current.into(), MIGRATIONS.len())?;
        for (index, (description, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = index as i32 + 1;
            tx.batch_execute(sql).await.map_err(map_error)?;
            tx.execute(
                "INSERT INTO todo_schema_migrations (version, description) VALUES ($1, $2)",
                &[&version, description],
            )
            .await
            .map_err(map_error)?;
            tracing::info!(version, description, "applied PostgreSQL migration");
        }
        tx.commit().await.map_err(map_error)?;
        Ok(())
    }
}
