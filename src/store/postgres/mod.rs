//! The PostgreSQL backend: the same `TaskStore` contract as SQLite, for deployments that run
//! several stateless instances on one shared database.
//!
//! - Connections come from a deadpool pool of tokio-postgres clients (TLS by rustls, per the
//!   URL's `sslmode`). Every wait is bounded: for a pooled connection (`busy_timeout`), for a new
//!   one (`connect_timeout`) and for a reply (`statement_timeout`, enforced by the server and, a
//!   second later, by the client, which then abandons the connection). Past any of them the
//!   request gets 503; a dead connection is replaced on the next checkout, so the service
//!   recovers by itself when the database comes back.
//! - Every write is one statement, so it is atomic without an explicit transaction; row locks
//!   serialise concurrent writes to a task across instances.
//! - Timestamps come from the database clock (`clock_timestamp()`), shared by all instances, and
//!   `updated_at = GREATEST(now, updated_at + 1)` keeps it strictly monotonic per task even if
//!   that clock steps back.
//! - Migrations run at start-up inside one transaction that first takes an advisory lock, so
//!   instances starting together apply each migration exactly once.

pub mod connect;

use std::{future::Future, time::Duration};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use tokio_postgres::{Row, error::SqlState};

use super::{StoreError, TaskStore};
use crate::domain::{NewTask, Task, TaskChanges, TaskId, UserId};

/// Schema migrations, applied in order; the index + 1 is the version recorded for each.
const MIGRATIONS: &[(&str, &str)] = &[(
    "create tasks",
    include_str!("../migrations/postgres/0001_create_tasks.sql"),
)];

/// First half of the migration advisory lock key ("todo" in ASCII); the second half is a hash of
/// the schema, so deployments in different schemas of one database do not wait for each other.
const MIGRATION_LOCK_KEY: i32 = 0x746f_646f;

const TASK_COLUMNS: &str = "id, user_id, title, description, complete, created_at, updated_at";

/// The database clock in epoch milliseconds (floored, like `chrono::timestamp_millis`).
const NOW_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Extra time the client waits for a reply beyond the server's `statement_timeout`, so the
/// server's own cancellation normally wins and the connection stays usable.
const CLIENT_GRACE: Duration = Duration::from_secs(1);

/// How to reach the database and how long to wait for it.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://` or `postgresql://` URL (libpq `sslmode` honoured).
    pub url: String,
    /// Most connections this instance opens.
    pub pool_size: u32,
    /// How long a request waits for a free pooled connection.
    pub acquire_timeout: Duration,
    /// How long opening a new connection (TCP, TLS, authentication) may take.
    pub connect_timeout: Duration,
    /// Server-side `statement_timeout`; zero disables it (and the client-side reply deadline).
    pub statement_timeout: Duration,
}

/// A cloneable handle to the connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Longest wait for a statement's reply before the connection is given up.
    reply_timeout: Option<Duration>,
}

impl PgStore {
    /// Build the pool and bring the schema up to date. Fails if the database cannot be reached.
    pub async fn connect(options: &PgOptions) -> Result<Self, StoreError> {
        let store = Self::new(options)?;
        store.migrate().await?;
        Ok(store)
    }

    /// Build the pool without connecting: connections are opened on first use.
    pub fn new(options: &PgOptions) -> Result<Self, StoreError> {
        let target = connect::parse(&options.url).map_err(config_error)?;
        let tls = connect::tls_connector(&target).map_err(config_error)?;
        let mut config = target.config;
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("todo-api");
        }
        if !options.statement_timeout.is_zero() {
            // A startup parameter rather than a `SET` after connecting: no extra round trip, and
            // it applies from the first statement. Options already in the URL are kept.
            let ms = options.statement_timeout.as_millis();
            let options = match config.get_options() {
                Some(existing) if !existing.trim().is_empty() => {
                    format!("{existing} -c statement_timeout={ms}")
                }
                _ => format!("-c statement_timeout={ms}"),
            };
            config.options(options);
        }
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1) as usize)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
        let reply_timeout = (!options.statement_timeout.is_zero())
            .then(|| options.statement_timeout + CLIENT_GRACE);
        Ok(Self {
            pool,
            reply_timeout,
        })
    }

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
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::Internal(
                format!(
                    "database schema version {current} is newer than this binary knows ({})",
                    MIGRATIONS.len()
                )
                .into(),
            ));
        }
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

    /// The latest migration version recorded in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                client
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0)::bigint FROM todo_schema_migrations",
                        &[],
                    )
                    .await
            })
            .await;
        Ok(finish(client, reply)?.get(0))
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Run `reply` under the client-side deadline.
    async fn within_deadline<T>(
        &self,
        reply: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Reply<T> {
        match self.reply_timeout {
            Some(limit) => match tokio::time::timeout(limit, reply).await {
                Ok(result) => Reply::Done(result),
                Err(_) => Reply::TimedOut(limit),
            },
            None => Reply::Done(reply.await),
        }
    }

    /// Run one statement that returns at most one task of the owner.
    async fn one_task(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Task, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query_opt(&stmt, params).await
            })
            .await;
        finish(client, reply)?
            .as_ref()
            .map(task_from_row)
            .ok_or(StoreError::NotFound)
    }

    /// Every task with an id above `after`, in id order, at most `limit` of them (for data moves).
    pub async fn tasks_after(&self, after: TaskId, limit: i64) -> Result<Vec<Task>, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS} FROM tasks WHERE id > $1 ORDER BY id LIMIT $2"
                    ))
                    .await?;
                client.query(&stmt, &[&after, &limit]).await
            })
            .await;
        Ok(finish(client, reply)?.iter().map(task_from_row).collect())
    }

    /// The highest id ever handed out (0 if none), deleted tasks included.
    pub async fn id_high_water(&self) -> Result<TaskId, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                client
                    .query_one(
                        "SELECT COALESCE(pg_sequence_last_value(\
                           pg_get_serial_sequence('tasks', 'id')::regclass), 0)",
                        &[],
                    )
                    .await
            })
            .await;
        Ok(finish(client, reply)?.get(0))
    }

    /// Begin an import into this (empty) database: see `PgImport`.
    pub async fn begin_import(&self) -> Result<PgImport, StoreError> {
        let client = self.client().await?;
        let started = async {
            client
                .batch_execute(
                    "BEGIN; SET LOCAL statement_timeout = 0; LOCK TABLE tasks IN EXCLUSIVE MODE",
                )
                .await?;
            client
                .query_one("SELECT EXISTS (SELECT 1 FROM tasks)", &[])
                .await
        }
        .await;
        match started {
            Ok(row) if row.get::<_, bool>(0) => {
                drop(Object::take(client));
                Err(StoreError::Internal(
                    "the target database already has tasks: import only into an empty one".into(),
                ))
            }
            Ok(_) => Ok(PgImport {
                client: Some(client),
            }),
            Err(e) => {
                drop(Object::take(client));
                Err(map_error(e))
            }
        }
    }
}

/// An import in progress: one transaction holding an exclusive lock on `tasks`, so the data
/// appears all at once or not at all. Dropping it without `commit` rolls everything back.
pub struct PgImport {
    client: Option<Object>,
}

impl PgImport {
    /// Insert tasks exactly as given (ids and timestamps included).
    pub async fn insert(&mut self, tasks: &[Task]) -> Result<(), StoreError> {
        let client = self.client.as_ref().expect("import still open");
        let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
        let users: Vec<&str> = tasks.iter().map(|t| t.user_id.as_str()).collect();
        let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
        let descriptions: Vec<Option<&str>> =
            tasks.iter().map(|t| t.description.as_deref()).collect();
        let completes: Vec<bool> = tasks.iter().map(|t| t.complete).collect();
        let created: Vec<i64> = tasks.iter().map(|t| t.created_at_ms).collect();
        let updated: Vec<i64> = tasks.iter().map(|t| t.updated_at_ms).collect();
        let result = client
            .execute(
                &format!(
                    "INSERT INTO tasks ({TASK_COLUMNS}) OVERRIDING SYSTEM VALUE \
                     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                                          $5::boolean[], $6::bigint[], $7::bigint[])"
                ),
                &[
                    &ids,
                    &users,
                    &titles,
                    &descriptions,
                    &completes,
                    &created,
                    &updated,
                ],
            )
            .await;
        result.map(|_| ()).map_err(|e| self.abort(e))
    }

    /// Move the id sequence past `high_water`, past every imported id and never backwards
    /// (the target may have handed out ids before, to tasks deleted since), then commit.
    pub async fn commit(mut self, high_water: TaskId) -> Result<(), StoreError> {
        let client = self.client.as_ref().expect("import still open");
        let result = async {
            client
                .execute(
                    "SELECT setval(seq, GREATEST(v, 1), v > 0) FROM (\
                       SELECT seq, GREATEST($1::bigint, \
                                (SELECT COALESCE(MAX(id), 0) FROM tasks), \
                                COALESCE(pg_sequence_last_value(seq::regclass), 0)) AS v \
                       FROM (SELECT pg_get_serial_sequence('tasks', 'id') AS seq) AS named\
                     ) AS target",
                    &[&high_water],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        match result {
            Ok(()) => {
                self.client.take();
                Ok(())
            }
            Err(e) => Err(self.abort(e)),
        }
    }

    fn abort(&mut self, e: tokio_postgres::Error) -> StoreError {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
        map_error(e)
    }
}

impl Drop for PgImport {
    fn drop(&mut self) {
        // Never hand a connection with an open transaction back to the pool: closing it rolls
        // the transaction back.
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

enum Reply<T> {
    Done(Result<T, tokio_postgres::Error>),
    TimedOut(Duration),
}

/// Turn a reply into a result. A connection that timed out or broke is not returned to the pool.
fn finish<T>(client: Object, reply: Reply<T>) -> Result<T, StoreError> {
    match reply {
        Reply::Done(Ok(value)) => Ok(value),
        Reply::Done(Err(e)) => {
            if e.is_closed() {
                drop(Object::take(client));
            }
            Err(map_error(e))
        }
        Reply::TimedOut(limit) => {
            drop(Object::take(client));
            Err(StoreError::Unavailable(format!(
                "no reply from the database within {} ms",
                limit.as_millis()
            )))
        }
    }
}

fn task_from_row(row: &Row) -> Task {
    Task {
        id: row.get(0),
        user_id: row.get(1),
        title: row.get(2),
        description: row.get(3),
        complete: row.get(4),
        created_at_ms: row.get(5),
        updated_at_ms: row.get(6),
    }
}

fn config_error(message: String) -> StoreError {
    StoreError::Internal(format!("DATABASE_URL: {message}").into())
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(TimeoutType::Wait) => {
            StoreError::Unavailable("no database connection became free in time".into())
        }
        PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => {
            StoreError::Unavailable("connecting to the database timed out".into())
        }
        // Any failure to open a connection (refused, reset, TLS, authentication, too many
        // clients, server starting up) means the database cannot serve us now: 503, not 500.
        PoolError::Backend(e) => {
            StoreError::Unavailable(format!("cannot connect to the database: {}", chain(&e)))
        }
        PoolError::PostCreateHook(e) => {
            StoreError::Unavailable(format!("cannot set up a database connection: {e}"))
        }
        PoolError::Closed => StoreError::Unavailable("the connection pool is closed".into()),
        PoolError::NoRuntimeSpecified => StoreError::Internal(Box::new(e)),
    }
}

/// Outages and timeouts are `Unavailable` (503); anything else is a bug or a broken schema (500).
fn map_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(code) = e.code() {
        let class = &code.code()[..2];
        let transient = matches!(
            class,
            "08" // connection exception
            | "53" // insufficient resources (too many connections, disk full, out of memory)
            | "57" // operator intervention: query_canceled (statement timeout), admin/crash shutdown, cannot connect now
            | "58" // system error (I/O)
        ) || *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION;
        return if transient {
            StoreError::Unavailable(chain(&e))
        } else {
            StoreError::Internal(Box::new(e))
        };
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        StoreError::Unavailable(chain(&e))
    } else {
        StoreError::Internal(Box::new(e))
    }
}

/// An error and its causes, `: `-separated (tokio-postgres keeps the interesting part, such as
/// "Connection refused", in the source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl TaskStore for PgStore {
    #[tracing::instrument(name = "postgres.list", skip_all)]
    async fn list(&self, owner: &UserId) -> Result<Vec<Task>, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1 ORDER BY id"
                    ))
                    .await?;
                client.query(&stmt, &[&owner.as_str()]).await
            })
            .await;
        Ok(finish(client, reply)?.iter().map(task_from_row).collect())
    }

    #[tracing::instrument(name = "postgres.create", skip_all)]
    async fn create(&self, owner: &UserId, task: NewTask) -> Result<Task, StoreError> {
        let description = task.description.as_ref().map(|d| d.as_str());
        self.one_task(
            &format!(
                "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at) \
                 SELECT $1::text, $2::text, $3::text, FALSE, clock.ms, clock.ms \
                 FROM (SELECT {NOW_MS} AS ms) AS clock RETURNING {TASK_COLUMNS}"
            ),
            &[&owner.as_str(), &task.title.as_str(), &description],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.get", skip_all)]
    async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        self.one_task(
            &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"),
            &[&id, &owner.as_str()],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.update", skip_all)]
    async fn update(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> Result<Task, StoreError> {
        let title = changes.title.as_ref().map(|t| t.as_str());
        let (set_description, description) = changes.description_param();
        // One statement: the row lock makes the read-modify-write atomic, also across instances.
        self.one_task(
            &format!(
                "UPDATE tasks SET \
                   title = COALESCE($3::text, title), \
                   description = CASE WHEN $4::boolean THEN $5::text ELSE description END, \
                   complete = COALESCE($6::boolean, complete), \
                   updated_at = GREATEST({NOW_MS}, updated_at + 1) \
                 WHERE id = $1 AND user_id = $2 RETURNING {TASK_COLUMNS}"
            ),
            &[
                &id,
                &owner.as_str(),
                &title,
                &set_description,
                &description,
                &changes.complete,
            ],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.toggle_complete", skip_all)]
    async fn toggle_complete(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        self.one_task(
            &format!(
                "UPDATE tasks SET complete = NOT complete, \
                   updated_at = GREATEST({NOW_MS}, updated_at + 1) \
                 WHERE id = $1 AND user_id = $2 RETURNING {TASK_COLUMNS}"
            ),
            &[&id, &owner.as_str()],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.delete", skip_all)]
    async fn delete(&self, owner: &UserId, id: TaskId) -> Result<(), StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached("DELETE FROM tasks WHERE id = $1 AND user_id = $2")
                    .await?;
                client.execute(&stmt, &[&id, &owner.as_str()]).await
            })
            .await;
        match finish(client, reply)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async { client.simple_query("SELECT 1").await })
            .await;
        finish(client, reply).map(|_| ())
    }
}
