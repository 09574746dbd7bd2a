//! `GET /metrics`: the Prometheus exposition parses, counts the requests made, and is served
//! only where configured (the main port with `metrics.token`, or the `metrics.addr` listener).

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::support::{
    Backend, TEST_SECRET, TestApp, assert_error, metrics_text::Exposition, process,
};

const METRICS_TOKEN: &str = "metrics-token-for-the-test-suite";

async fn spawn_with_metrics_token() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics.token = Some(SecretString::from(METRICS_TOKEN));
    })
    .await
    .expect("SQLite is always available")
}

async fn scrape(app: &TestApp) -> Exposition {
    let resp = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    Exposition::parse(&resp.text().await.unwrap())
}

#[tokio::test]
async fn metrics_parse_and_count_the_requests_made_by_route_template_method_and_status() {
    // Arrange
    let app = spawn_with_metrics_token().await;
    let created = app.create_task_ok("alice", "counted").await;
    assert_eq!(app.get_task("alice", &created["id"]).await.status(), 200);
    assert_eq!(app.get_task("alice", 999_999).await.status(), 404);
    let unauthenticated = app
        .client
        .get(app.url("/api/alice/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let forbidden = app
        .authorized(reqwest::Method::GET, "/api/bob/tasks", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);

    // Act
    let metrics = scrape(&app).await;

    // Assert
    let requests = |method: &str, route: &str, status: &str| {
        metrics.value(
            "todo_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/api/{user_id}/tasks", "201"), 1.0);
    assert_eq!(
        requests("GET", "/api/{user_id}/tasks/{task_id}", "200"),
        1.0
    );
    assert_eq!(
        requests("GET", "/api/{user_id}/tasks/{task_id}", "404"),
        1.0
    );
    assert_eq!(requests("GET", "/api/{user_id}/tasks", "401"), 1.0);
    assert_eq!(requests("GET", "/api/{user_id}/tasks", "403"), 1.0);
    assert_eq!(
        metrics.types["todo_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(
        metrics.value(
            "todo_http_request_duration_seconds_count",
            &[
                ("method", "POST"),
                ("route", "/api/{user_id}/tasks"),
                ("status", "201")
            ],
        ),
        1.0
    );
    let auth = |reason: &str| metrics.value("todo_auth_failures_total", &[("reason", reason)]);
    assert_eq!(auth("missing"), 1.0);
    assert_eq!(auth("forbidden"), 1.0);
    assert_eq!(auth("invalid"), 0.0);
    assert_eq!(auth("keys_unavailable"), 0.0);
    // The scrape itself is in flight while it renders.
    assert_eq!(metrics.value("todo_http_requests_in_flight", &[]), 1.0);
    assert_eq!(metrics.value("todo_rate_limited_requests_total", &[]), 0.0);
    assert_eq!(
        metrics.value("todo_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    for queue in ["sqlite_read", "sqlite_write"] {
        assert_eq!(
            metrics.value("todo_db_queue_depth", &[("queue", queue)]),
            0.0
        );
    }
    // One create: one write waited in the queue and was committed in a batch of one.
    assert_eq!(
        metrics.value(
            "todo_db_queue_wait_seconds_count",
            &[("queue", "sqlite_write")]
        ),
        1.0
    );
    assert_eq!(metrics.value("todo_db_write_batch_size_count", &[]), 1.0);
    assert_eq!(metrics.value("todo_db_write_batch_size_sum", &[]), 1.0);
}

#[tokio::test]
async fn metrics_on_the_main_port_need_the_metrics_token() {
    let app = spawn_with_metrics_token().await;

    let missing = app.client.get(app.url("/metrics")).send().await.unwrap();
    let (headers, _) = assert_error(missing, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    assert_eq!(headers["www-authenticate"], "Bearer");

    // A user's valid API token is not the metrics token.
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;

    let metrics = scrape(&app).await;
    assert_eq!(
        metrics.value(
            "todo_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        2.0
    );
}

#[tokio::test]
async fn without_a_token_or_with_metrics_off_the_main_port_has_no_metrics() {
    for (what, enabled, token) in [
        ("no token", true, None),
        (
            "metrics off",
            false,
            Some(SecretString::from(METRICS_TOKEN)),
        ),
    ] {
        let app = TestApp::spawn_with(Backend::Sqlite, |s| {
            s.metrics.enabled = enabled;
            s.metrics.token = token;
        })
        .await
        .unwrap();
        let resp = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{what}");
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn the_metrics_address_serves_metrics_without_a_token_and_the_main_port_does_not() {
    // Arrange: the real binary, as an operator runs it.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let metrics_port = process::free_port();
    let mut cmd = process::todo_api_async(dir.path());
    cmd.env("DATABASE_URL", dir.path().join("todo.db"))
        .env("PORT", "0")
        .env("BETTER_AUTH_SECRET", TEST_SECRET)
        .env("TODO_METRICS__ADDR", format!("127.0.0.1:{metrics_port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = cmd.spawn().unwrap();
    let server = process::wait_listening((child, log, dir)).await;
    let app = server.app.clone();
    app.create_task_ok("alice", "seen by the metrics listener")
        .await;

    // Act
    let side = app
        .client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();

    // Assert
    assert_eq!(side.status(), StatusCode::OK);
    let metrics = Exposition::parse(&side.text().await.unwrap());
    assert_eq!(
        metrics.value(
            "todo_http_requests_total",
            &[("route", "/api/{user_id}/tasks"), ("status", "201")]
        ),
        1.0
    );
    assert_error(main, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    server.stop().await;
}
