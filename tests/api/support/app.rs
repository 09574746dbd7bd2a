//! The server under test: `TestApp::spawn(backend)` starts the real application in this process
//! over a fresh database (a SQLite folder or a PostgreSQL schema), `TestApp::attach` points at one
//! running elsewhere, and one helper per operation keeps the tests about the contract rather
//! than about HTTP plumbing.

use std::{path::PathBuf, sync::Once, time::Duration};

use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;
use todo_api::{auth::dev_token, config::Settings, startup::Application};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{matrix::Backend, pg::PgSchema};

/// The HS256 secret every test server trusts.
pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

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

    /// Run SQL straight against this server's database, behind the service's back: `sqlite` on
    /// a SQLite server, `postgres` on a PostgreSQL one (each a batch of statements).
    pub async fn execute_batch(&self, sqlite: &str, postgres: &str) {
        match &self.db {
            Some(TestDb::Sqlite(_)) => rusqlite::Connection::open(self.sqlite_path())
                .unwrap()
                .execute_batch(sqlite)
                .unwrap(),
            Some(TestDb::Postgres(schema)) => schema
                .connect()
                .await
                .batch_execute(postgres)
                .await
                .unwrap(),
            None => unreachable!("a spawned app has a database"),
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

    /// Create a task from `body` and return its JSON, asserting 201 (the body of any other
    /// answer is in the failure message).
    pub async fn create_task_from(&self, user: &str, body: &Value) -> Value {
        let resp = self.create_task(user, body).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "creating {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn tags_path(user: &str) -> String {
        format!("/api/{user}/tags")
    }

    /// `GET /api/{user}/tags` with a valid token for `user`.
    pub async fn list_tags(&self, user: &str) -> Response {
        self.authorized(reqwest::Method::GET, &Self::tags_path(user), user)
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
