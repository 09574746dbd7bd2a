//! The PostgreSQL schema: the embedded migration files and applying the pending ones, once
//! across every instance that starts at the same time, recorded in `todo_schema_migrations`.

use tokio_postgres::Transaction;

use super::{PgStore, map_error};
use crate::{
    domain::list::{fold, search_text},
    store::{StoreError, check_schema_version},
};

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
        "list indexes and trigram search",
        include_str!("../migrations/postgres/0003_list_indexes.sql"),
    ),
    (
        "task counts for the per-user quota",
        include_str!("../migrations/postgres/0004_task_counts.sql"),
    ),
    (
        "health probe: one row the readiness check updates",
        include_str!("../migrations/postgres/0005_health_probe.sql"),
    ),
    (
        "search index scoped to the owner",
        include_str!("../migrations/postgres/0006_search_by_owner.sql"),
    ),
    (
        "lists by tag in every order: sort keys in task_tags, tag counts",
        include_str!("../migrations/postgres/0007_tag_orders.sql"),
    ),
    (
        "sync: task versions, the change feed, idempotency keys",
        include_str!("../migrations/postgres/0008_sync.sql"),
    ),
];

/// The version whose step needs the pg_trgm extension and values computed here.
const LIST_INDEXES: i32 = 3;

/// The version whose step builds the owner's search index, with btree_gin and pg_trgm.
const SEARCH_BY_OWNER: i32 = 6;

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
            let trgm_schema = if version == LIST_INDEXES || version == SEARCH_BY_OWNER {
                Some(extension_schema(&tx, "pg_trgm").await?)
            } else {
                None
            };
            if version == SEARCH_BY_OWNER {
                // Only needs to exist: its operator class for text is the default one.
                extension_schema(&tx, "btree_gin").await?;
            }
            tx.batch_execute(sql).await.map_err(map_error)?;
            match (version, trgm_schema) {
                (LIST_INDEXES, Some(schema)) => {
                    fill_list_columns(&tx).await?;
                    tx.batch_execute(&format!(
                        "CREATE INDEX tasks_search_text ON tasks \
                         USING gin (search_text {schema}.gin_trgm_ops)"
                    ))
                    .await
                    .map_err(map_error)?;
                }
                (SEARCH_BY_OWNER, Some(schema)) => {
                    tx.batch_execute(&format!(
                        "CREATE INDEX tasks_user_search ON tasks \
                         USING gin (user_id, search_text {schema}.gin_trgm_ops)"
                    ))
                    .await
                    .map_err(map_error)?;
                }
                _ => {}
            }
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

/// The schema an extension (pg_trgm, btree_gin) lives in, creating it (in the current schema)
/// if the database does not have it yet. Since PostgreSQL 13 both are trusted extensions, so any
/// role with CREATE on the database may create them; a role without gets a start-up error that
/// says what to run once as a privileged role.
async fn extension_schema(tx: &Transaction<'_>, name: &str) -> Result<String, StoreError> {
    const FIND: &str = "SELECT quote_ident(n.nspname) FROM pg_extension e \
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1";
    if let Some(row) = tx.query_opt(FIND, &[&name]).await.map_err(map_error)? {
        return Ok(row.get(0));
    }
    tx.batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {name}"))
        .await
        .map_err(|e| {
            StoreError::Internal(
                format!(
                    "the {name} extension is missing and this role cannot create it ({e}): \
                     run `CREATE EXTENSION {name};` once in this database as its owner or a \
                     superuser, then start again"
                )
                .into(),
            )
        })?;
    Ok(tx
        .query_one(FIND, &[&name])
        .await
        .map_err(map_error)?
        .get(0))
}

/// Compute `title_key` and `search_text` of the rows that existed before the list step, a
/// batch at a time.
async fn fill_list_columns(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let mut after = 0_i64;
    loop {
        let rows = tx
            .query(
                "SELECT id, title, description FROM tasks WHERE id > $1 ORDER BY id LIMIT 10000",
                &[&after],
            )
            .await
            .map_err(map_error)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let (keys, texts): (Vec<String>, Vec<String>) = rows
            .iter()
            .map(|r| {
                let title: &str = r.get(1);
                (fold(title), search_text(title, r.get(2)))
            })
            .unzip();
        tx.execute(
            "UPDATE tasks SET title_key = v.title_key, search_text = v.search_text \
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v (id, title_key, search_text) \
             WHERE tasks.id = v.id",
            &[&ids, &keys, &texts],
        )
        .await
        .map_err(map_error)?;
    }
}
