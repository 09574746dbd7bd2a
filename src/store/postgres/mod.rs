//! The PostgreSQL backend: the same `TaskStore` contract as SQLite, for deployments that run
//! several stateless instances on one shared database. This module owns the options, the pool,
//! the reply deadline and the mapping of driver errors; `connect` turns the URL into a connection
//! config and TLS, `tasks` holds the SQL behind `TaskStore`, `migrate` the schema steps, `import`
//! the bulk reads and writes of data moves.
//!
//! - Connections come from a deadpool pool of tokio-postgres clients (TLS by rustls, per the
//!   URL's `sslmode`). Every wait is bounded: for a pooled connection (`busy_timeout`), for a new
//!   one (`connect_timeout`) and for a reply (`statement_timeout`, enforced by the server and, a
//!   second later, by the client, which then abandons the connection). Past any of them the
//!   request gets 503; a dead connection is replaced on the next checkout, so the service
//!   recovers by itself when the database comes back.
//! - Creates and deletes are one statement each; a change reads the row `FOR UPDATE` and writes
//!   it back in one transaction, so row locks serialise concurrent changes to a task across
//!   instances and each change decides on the state the previous one wrote.
//! - Timestamps come from the database clock (`clock_timestamp()`), shared by all instances, and
//!   `updated_at = GREATEST(now, updated_at + 1)` keeps it strictly monotonic per task even if
//!   that clock steps back.
//! - Migrations run at start-up inside one transaction that first takes an advisory lock, so
//!   instances starting together apply each migration exactly once.

pub mod connect;
mod import;
mod migrate;
mod readiness;
mod sync;
mod task_row;
mod tasks;

use std::{future::Future, time::Duration};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use tokio_postgres::error::SqlState;

pub use import::PgImport;

use super::{StoreError, totals::Totals};
use crate::metrics::{DbQueue, StoreMetrics};

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
    /// Where the wait for a pooled connection is recorded.
    pub metrics: StoreMetrics,
}

/// A cloneable handle to the connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Longest wait for a statement's reply before the connection is given up.
    reply_timeout: Option<Duration>,
    metrics: StoreMetrics,
    /// Totals of filtered lists, kept while their owner's revision holds.
    totals: std::sync::Arc<Totals>,
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
        options.metrics.register_queue(DbQueue::PostgresPool);
        Ok(Self {
            pool,
            reply_timeout,
            metrics: options.metrics.clone(),
            totals: std::sync::Arc::default(),
        })
    }

    async fn client(&self) -> Result<Object, StoreError> {
        let _waiting = self.metrics.waiting(DbQueue::PostgresPool);
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
