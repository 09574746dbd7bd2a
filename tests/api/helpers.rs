//! Test fixtures: `TestApp::spawn(backend)` starts a real server over a fresh database, and
//! one helper per operation keeps the tests about the contract rather than about HTTP plumbing.

use std::{
    io::Write,
    path::PathBuf,
    sync::{
        Once, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use reqwest::{Response, StatusCode, header::HeaderMap};
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;
use todo_api::{auth::dev_token, config::Settings, startup::Application};
use tokio::{sync::oneshot, task::JoinHandle};

/// The HS256 secret every test server trusts.
pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub backend: Backend,
    /// Keeps the test's database (SQLite folder or PostgreSQL schema) alive for its duration.
    pub db: Option<TestDb>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            todo_api::telemetry::init("debug", todo_api::config::LogFormat::Text);
        }
    });
}

/// Print once, past libtest's output capture, so a skip is visible in every `cargo test` run.
pub fn announce_once(flag: &'static OnceLock<()>, message: &str) {
    if flag.set(()).is_ok() {
        let _ = writeln!(std::io::stderr().lock(), "\n{message}\n");
    }
}

/// Settings for a test server: free port, test secret, no CORS surprises, quiet logs.
pub fn test_settings(database_url: String) -> Settings {
    let mut settings = Settings::default();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.database.url = database_url;
    settings.database.busy_timeout_ms = 5000;
    settings.auth.secret = Some(SecretString::from(TEST_SECRET));
    settings
}

/// What a test server stores its data in; dropping it deletes the data.
pub enum TestDb {
    Sqlite(TempDir),
    Postgres(PgSchema),
}

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

impl TestApp {
    /// Start a server on `backend` with default test settings. `None` when the backend is not
    /// available here (the skip is announced).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, letting the test adjust settings first.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        init_logs();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("todo.db").display().to_string();
                let mut settings = test_settings(url);
                configure(&mut settings);
                Some(Self::start(settings, backend, Some(TestDb::Sqlite(dir))).await)
            }
            Backend::Postgres => {
                let schema = PgSchema::create().await?;
                let mut settings = test_settings(schema.url.clone());
                configure(&mut settings);
                Some(Self::start(settings, backend, Some(TestDb::Postgres(schema))).await)
            }
        }
    }

    /// Start a server with exactly these settings.
    pub async fn start(settings: Settings, backend: Backend, db: Option<TestDb>) -> Self {
        let app = Application::build(&settings)
            .await
            .expect("the application should build");
        let address = format!("http://{}", app.local_addr());
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Self {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            settings,
            backend,
            db,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// A client for a server running elsewhere (a child process) that trusts `TEST_SECRET`.
    pub fn attach(address: String, backend: Backend) -> Self {
        Self {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            settings: test_settings(String::new()),
            backend,
            db: None,
            shutdown: None,
            server: None,
        }
    }

    /// Stop the server gracefully and wait for it; the database stays.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// The SQLite file behind this server (SQLite backend only).
    pub fn sqlite_path(&self) -> PathBuf {
        assert_eq!(
            self.backend,
            Backend::Sqlite,
            "only SQLite servers have a file"
        );
        match &self.db {
            Some(TestDb::Sqlite(dir)) => dir.path().join("todo.db"),
            _ => panic!("only SQLite servers have a file"),
        }
    }

    /// The PostgreSQL schema behind this server (PostgreSQL backend only).
    pub fn pg_schema(&self) -> &PgSchema {
        match &self.db {
            Some(TestDb::Postgres(schema)) => schema,
            _ => panic!("only PostgreSQL servers have a schema"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A valid one-hour token for `user`.
    pub fn token(&self, user: &str) -> String {
        let secret = self.settings.auth.secret.as_ref().expect("secret");
        dev_token::mint_hs256(secret, user, Duration::from_secs(3600), None, &[]).unwrap()
    }

    pub fn tasks_path(user: &str) -> String {
        format!("/api/{user}/tasks")
    }

    pub fn task_path(user: &str, id: impl std::fmt::Display) -> String {
        format!("/api/{user}/tasks/{id}")
    }

    /// A request to `path` carrying a valid token for `user`.
    pub fn authorized(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(self.token(user))
    }

    pub async fn list_tasks(&self, user: &str) -> Response {
        self.authorized(reqwest::Method::GET, &Self::tasks_path(user), user)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_task(&self, user: &str, body: &Value) -> Response {
        self.authorized(reqwest::Method::POST, &Self::tasks_path(user), user)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Create a task and return its JSON, asserting 201.
    pub async fn create_task_ok(&self, user: &str, title: &str) -> Value {
        let resp = self
            .create_task(user, &serde_json::json!({ "title": title }))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "creating {title:?}");
        resp.json().await.unwrap()
    }

    pub async fn get_task(&self, user: &str, id: impl std::fmt::Display) -> Response {
        self.authorized(reqwest::Method::GET, &Self::task_path(user, id), user)
            .send()
            .await
            .unwrap()
    }

    pub async fn replace_task(
        &self,
        user: &str,
        id: impl std::fmt::Display,
        body: &Value,
    ) -> Response {
        self.authorized(reqwest::Method::PUT, &Self::task_path(user, id), user)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn update_task(
        &self,
        user: &str,
        id: impl std::fmt::Display,
        body: &Value,
    ) -> Response {
        self.authorized(reqwest::Method::PATCH, &Self::task_path(user, id), user)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn toggle_task(&self, user: &str, id: impl std::fmt::Display) -> Response {
        self.authorized(
            reqwest::Method::PATCH,
            &format!("{}/complete", Self::task_path(user, id)),
            user,
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn delete_task(&self, user: &str, id: impl std::fmt::Display) -> Response {
        self.authorized(reqwest::Method::DELETE, &Self::task_path(user, id), user)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Assert the contract's error shape and return the body: exact status, JSON content type,
/// `detail` (non-empty string), `error_code`, an RFC 3339 UTC `timestamp`, nothing else but
/// `errors` on validation failures.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> (HeaderMap, Value) {
    assert_eq!(resp.status(), status, "status");
    let headers = resp.headers().clone();
    assert_json_content_type(&headers);
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["error_code"], code, "error_code in {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail in {body}"
    );
    assert_timestamp(&body["timestamp"]);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in &keys {
        assert!(
            ["detail", "error_code", "timestamp", "errors"].contains(key),
            "unexpected key {key} in {body}"
        );
    }
    assert_eq!(
        keys.contains(&"errors"),
        code == "VALIDATION_ERROR",
        "`errors` is present exactly on validation errors: {body}"
    );
    (headers, body)
}

/// Assert a 503 `DATABASE_UNAVAILABLE` in the error shape, telling the client when to retry.
pub async fn assert_database_unavailable(resp: Response) {
    let (headers, _) = assert_error(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    assert_eq!(headers["retry-after"], "1");
}

pub fn assert_json_content_type(headers: &HeaderMap) {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
}

/// RFC 3339, UTC, `Z` suffix, exactly millisecond precision: `2025-12-24T10:00:00.123Z`.
pub fn assert_timestamp(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp {value} is a string"));
    assert_eq!(s.len(), 24, "timestamp {s} has millisecond precision");
    assert!(s.ends_with('Z'), "timestamp {s} is UTC with Z");
    assert_eq!(&s[19..20], ".", "timestamp {s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("timestamp {s}: {e}"));
}

/// The `loc`s of a validation error body, as `"body.title"` strings.
pub fn error_locs(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            e["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// The `todo-api` binary, run in `dir` with none of the variables it reads inherited from this
/// process, so a developer's environment cannot change what a test observes.
pub fn todo_api(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("TODO_")
            || [
                "HOST",
                "PORT",
                "DATABASE_URL",
                "BETTER_AUTH_SECRET",
                "BETTER_AUTH_URL",
                "CORS_ORIGINS",
                "RUST_LOG",
            ]
            .contains(&key.as_str())
        {
            cmd.env_remove(&key);
        }
    }
    cmd
}
