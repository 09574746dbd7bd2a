//! PostgreSQL for the suite: `TEST_DATABASE_URL` (and the loud skip when it is unset), one
//! connection with the server's TLS rules, and the lifecycle of the schema each PostgreSQL test
//! runs in (created fresh, swept when stale, dropped with the test).

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::skip::announce_once;

/// `TEST_DATABASE_URL`, the PostgreSQL server the PostgreSQL variants run on. `None` when it is
/// unset: those variants are skipped, and the skip is announced once.
pub fn test_database_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            static SKIPPED: OnceLock<()> = OnceLock::new();
            announce_once(
                &SKIPPED,
                "SKIPPED: the PostgreSQL variant of the suite: TEST_DATABASE_URL is not set \
                 (for example postgres://postgres@127.0.0.1:5432/test).",
            );
            None
        }
    }
}

/// One connection to `url`, with the server's TLS rules, driven on the current runtime.
pub async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    use todo_api::store::postgres::connect;
    let target = connect::parse(url)?;
    let tls = connect::tls_connector(&target)?;
    let mut config = target.config;
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tls).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

/// `url` with `params` (already percent-encoded `key=value` pairs) appended to its query.
pub fn with_params(url: &str, params: &[String]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", params.join("&"))
}

/// A fresh, empty schema in the `TEST_DATABASE_URL` database for one test, so PostgreSQL tests
/// run in parallel without seeing each other's rows. Dropped (with its tables) when the guard goes.
pub struct PgSchema {
    pub name: String,
    /// `TEST_DATABASE_URL` itself.
    pub admin_url: String,
    /// A URL whose connections use only this schema (`search_path`) and whose
    /// `application_name` is the schema's name, so a test can find its server's connections.
    pub url: String,
}

impl PgSchema {
    /// `None` when `TEST_DATABASE_URL` is unset. Panics when it is set but unusable: the
    /// PostgreSQL suite was asked for and must not pass silently.
    pub async fn create() -> Option<Self> {
        let admin_url = test_database_url()?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!(
            "todo_test_{secs}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = pg_connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
        });
        sweep_stale_schemas(&admin).await;
        install_trigram_extension(&admin).await;
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating test schema {name}: {e}"));
        let url = with_params(
            &admin_url,
            &[
                format!("options=-c%20search_path%3D{name}"),
                format!("application_name={name}"),
            ],
        );
        Some(Self {
            name,
            admin_url,
            url,
        })
    }

    /// A connection that sees this schema.
    pub async fn connect(&self) -> tokio_postgres::Client {
        pg_connect(&self.url)
            .await
            .expect("connect to the test schema")
    }
}

/// The descriptions of the released PostgreSQL migrations, version 1 first, as the migrator
/// records them.
const RELEASED_MIGRATIONS: [&str; 7] = [
    "create tasks",
    "task model: priority, tags, due, recurrence",
    "list indexes and trigram search",
    "task counts for the per-user quota",
    "health probe: one row the readiness check updates",
    "search index scoped to the owner",
    "lists by tag in every order: sort keys in task_tags, tag counts",
];

/// The migrations table of a schema that a release knowing the first `versions` migrations
/// left, recorded through `client`.
pub async fn record_migrations(client: &tokio_postgres::Client, versions: usize) {
    let rows: Vec<String> = RELEASED_MIGRATIONS[..versions]
        .iter()
        .enumerate()
        .map(|(n, description)| format!("({}, '{description}')", n + 1))
        .collect();
    client
        .batch_execute(&format!(
            "CREATE TABLE todo_schema_migrations (\
               version     INTEGER     PRIMARY KEY, \
               description TEXT        NOT NULL, \
               applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()); \
             INSERT INTO todo_schema_migrations (version, description) VALUES {}",
            rows.join(", ")
        ))
        .await
        .unwrap();
}

/// Install pg_trgm and btree_gin in `public` (once per database, whichever test comes first),
/// as an operator would: the server's migrations then find them there. Left to the migrations,
/// they would be created in the first test's schema and dropped with it, taking the other
/// tests' search indexes along.
async fn install_trigram_extension(admin: &tokio_postgres::Client) {
    admin
        .batch_execute(
            "BEGIN; SELECT pg_advisory_xact_lock(1952805743, 1); \
             CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public; \
             CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public; COMMIT;",
        )
        .await
        .unwrap_or_else(|e| panic!("installing pg_trgm and btree_gin in the test database: {e}"));
}

/// Drop schemas that earlier, interrupted runs left behind (older than an hour), once per run.
async fn sweep_stale_schemas(admin: &tokio_postgres::Client) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_err() {
        return;
    }
    let cutoff = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(3600);
    let Ok(rows) = admin
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'todo\\_test\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let created = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if created < cutoff {
            let _ = admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop is synchronous and may run inside the test's runtime: use a thread with its own.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = pg_connect(&url).await {
                    let _ = admin
                        .batch_execute(&format!(
                            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}
