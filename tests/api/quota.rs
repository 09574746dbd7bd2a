//! The per-user task quota (`quota.max_tasks_per_user`), on both backends: a create beyond it is
//! 409 `QUOTA_EXCEEDED` on REST and an `isError` result of the MCP `add_task` tool; deleting
//! makes room again; completing a recurring task still starts its next occurrence; racing
//! creates at the edge create exactly one; and the count covers tasks written before the
//! counter existed (a database of the previous schema, upgraded).

use reqwest::{StatusCode, header};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, assert_error, assert_json, every_backend,
    pg::record_migrations, spawn_or_skip, test_settings,
};

/// Create `n` tasks for `user`, asserting each is 201.
async fn create_many(app: &TestApp, user: &str, n: usize) {
    for i in 0..n {
        app.create_task_ok(user, &format!("task {i}")).await;
    }
}

/// How many tasks `user` has, as the API lists them.
async fn count(app: &TestApp, user: &str) -> i64 {
    let list = assert_json(app.list_tasks(user).await, StatusCode::OK).await;
    list["count"].as_i64().unwrap()
}

#[apply(every_backend)]
#[tokio::test]
async fn a_create_beyond_the_quota_is_409_quota_exceeded_until_a_task_is_deleted(backend: Backend) {
    // Arrange
    let app = spawn_or_skip!(backend, |s| s.quota.max_tasks_per_user = 3);
    create_many(&app, "alice", 3).await;

    // Act
    let refused = app
        .create_task("alice", &json!({"title": "one more"}))
        .await;

    // Assert
    let (_, body) = assert_error(refused, StatusCode::CONFLICT, "QUOTA_EXCEEDED").await;
    assert_eq!(
        body["detail"],
        "task quota reached: a user may have at most 3 tasks; delete some to add more"
    );
    assert_eq!(count(&app, "alice").await, 3, "nothing was written");
    // Another user has a quota of their own.
    app.create_task_ok("bob", "bob's first").await;
    // Deleting one makes room for exactly one.
    let first =
        assert_json(app.list_tasks("alice").await, StatusCode::OK).await["tasks"][0]["id"].clone();
    assert_eq!(
        app.delete_task("alice", &first).await.status(),
        StatusCode::NO_CONTENT
    );
    app.create_task_ok("alice", "fits again").await;
    let refused = app.create_task("alice", &json!({"title": "no room"})).await;
    assert_error(refused, StatusCode::CONFLICT, "QUOTA_EXCEEDED").await;
}

#[apply(every_backend)]
#[tokio::test]
async fn a_quota_of_zero_means_unlimited(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| s.quota.max_tasks_per_user = 0);
    create_many(&app, "alice", 5).await;
    assert_eq!(count(&app, "alice").await, 5);
}

#[apply(every_backend)]
#[tokio::test]
async fn the_mcp_add_task_tool_refuses_beyond_the_quota_with_the_rest_error_body(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| s.quota.max_tasks_per_user = 1);
    let add = |title: &str| {
        app.client
            .post(app.url("/mcp"))
            .bearer_auth(app.token("alice"))
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("x-request-id", "quota-mcp-call")
            .json(&json!({
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "add_task", "arguments": {"title": title}},
            }))
            .send()
    };

    let first = assert_json(add("fits").await.unwrap(), StatusCode::OK).await;
    assert_eq!(first["result"]["isError"], false, "{first}");

    let refused = assert_json(add("does not fit").await.unwrap(), StatusCode::OK).await;
    let result = &refused["result"];
    assert_eq!(result["isError"], true, "{refused}");
    let error: Value =
        serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(error["error_code"], "QUOTA_EXCEEDED", "{error}");
    assert_eq!(
        error["detail"],
        "task quota reached: a user may have at most 1 tasks; delete some to add more"
    );
    assert_eq!(error["request_id"], "quota-mcp-call");
    assert_eq!(count(&app, "alice").await, 1);
}

#[apply(every_backend)]
#[tokio::test]
async fn completing_a_recurring_task_at_the_quota_still_starts_its_next_occurrence(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend, |s| s.quota.max_tasks_per_user = 1);
    let task = app
        .create_task_from(
            "alice",
            &json!({"title": "water the plants", "due_date": "2026-12-07",
                    "recurrence": "FREQ=WEEKLY"}),
        )
        .await;

    let done = assert_json(app.toggle_task("alice", &task["id"]).await, StatusCode::OK).await;

    assert_eq!(done["complete"], true);
    assert!(done["next_occurrence_id"].is_i64(), "{done}");
    assert_eq!(count(&app, "alice").await, 2, "the occurrence counts");
    let refused = app.create_task("alice", &json!({"title": "over"})).await;
    assert_error(refused, StatusCode::CONFLICT, "QUOTA_EXCEEDED").await;
}

#[apply(every_backend)]
#[tokio::test]
async fn fifty_concurrent_creates_one_below_the_quota_create_exactly_one(backend: Backend) {
    // Arrange: 49 of 50 tasks; rate limiting off so only the quota decides.
    let app = spawn_or_skip!(backend, |s| {
        s.quota.max_tasks_per_user = 50;
        s.rate_limit.enabled = false;
        s.database.statement_timeout_ms = 30_000;
    });
    create_many(&app, "alice", 49).await;
    // PostgreSQL: hold alice's counter row, so the creates pile up against each other at the
    // database (up to the pool's 8 connections), instead of being spread out by chance.
    let holder = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let client = app.pg_schema().connect().await;
            client
                .batch_execute(
                    "BEGIN; SELECT task_count FROM task_counts WHERE user_id = 'alice' FOR UPDATE",
                )
                .await
                .unwrap();
            Some(client)
        }
    };

    // Act: 50 creates at once, each on its own connection.
    let creates = (0..50).map(|i| {
        let client = reqwest::Client::new();
        let request = client
            .post(app.url(&TestApp::tasks_path("alice")))
            .bearer_auth(app.token("alice"))
            .json(&json!({"title": format!("racer {i}")}));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    });
    let creates: Vec<_> = creates.collect();
    if let Some(holder) = holder {
        release_when_all_connections_wait(&holder).await;
    }
    let mut statuses = Vec::new();
    for create in creates {
        statuses.push(create.await.unwrap());
    }

    // Assert
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (1, 49), "{statuses:?}");
    assert_eq!(count(&app, "alice").await, 50);
}

/// Wait (up to 3 s) until the server's 8 pooled connections all wait for a lock on the counter
/// table (the first for `holder`'s, the others queued behind it), then end `holder`'s transaction.
async fn release_when_all_connections_wait(holder: &tokio_postgres::Client) {
    for _ in 0..60 {
        let waiting: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE '%task_counts%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    holder.batch_execute("COMMIT").await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// A database of the previous schema (version 2), upgraded

const SQLITE_SCHEMA: [&str; 2] = [
    include_str!("../../src/store/migrations/sqlite/0001_create_tasks.sql"),
    include_str!("../../src/store/migrations/sqlite/0002_task_model.sql"),
];
const POSTGRES_SCHEMA: [&str; 2] = [
    include_str!("../../src/store/migrations/postgres/0001_create_tasks.sql"),
    include_str!("../../src/store/migrations/postgres/0002_task_model.sql"),
];

/// Rows of the old database: alice has 3 tasks, bob 1 (ids 1 to 5; id 5, alice's, was deleted).
const OLD_ROWS: [&str; 5] = ["alice", "alice", "bob", "alice", "alice"];
const INSERT_OLD: &str =
    "INSERT INTO tasks (user_id, title, created_at, updated_at) VALUES ($1, 'old', 1, 1)";

#[apply(every_backend)]
#[tokio::test]
async fn the_quota_counts_the_tasks_of_a_database_written_before_the_counter_existed(
    backend: Backend,
) {
    // Arrange: a schema-2 database with tasks in it, then a server with a quota of 3 upgrades it.
    let (settings, db) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("todo.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in SQLITE_SCHEMA {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch("PRAGMA user_version = 2").unwrap();
            for user in OLD_ROWS {
                conn.execute(&INSERT_OLD.replace('$', "?"), [user]).unwrap();
            }
            conn.execute("DELETE FROM tasks WHERE id = 5", []).unwrap();
            (
                test_settings(path.display().to_string()),
                TestDb::Sqlite(dir),
            )
        }
        Backend::Postgres => {
            let Some(schema) = PgSchema::create().await else {
                return;
            };
            let client = schema.connect().await;
            for sql in POSTGRES_SCHEMA {
                client.batch_execute(sql).await.unwrap();
            }
            record_migrations(&client, 2).await;
            for user in OLD_ROWS {
                client.execute(INSERT_OLD, &[&user]).await.unwrap();
            }
            client
                .execute("DELETE FROM tasks WHERE id = 5", &[])
                .await
                .unwrap();
            (test_settings(schema.url.clone()), TestDb::Postgres(schema))
        }
    };
    let mut settings = settings;
    settings.quota.max_tasks_per_user = 3;

    // Act
    let app = TestApp::start(settings, backend, Some(db)).await;

    // Assert: alice is at the quota with her old tasks; bob has room for two more.
    assert_eq!(count(&app, "alice").await, 3);
    let refused = app.create_task("alice", &json!({"title": "new"})).await;
    assert_error(refused, StatusCode::CONFLICT, "QUOTA_EXCEEDED").await;
    create_many(&app, "bob", 2).await;
    let refused = app.create_task("bob", &json!({"title": "new"})).await;
    assert_error(refused, StatusCode::CONFLICT, "QUOTA_EXCEEDED").await;
    // Deleting an old task makes room.
    assert_eq!(
        app.delete_task("alice", 1).await.status(),
        StatusCode::NO_CONTENT
    );
    app.create_task_ok("alice", "fits").await;
}
