//! A database of schema version 7, as the release before sync left it: no versions, no change
//! feed, no idempotency keys.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};
use todo_api::config::Settings;

use super::{
    POSTGRES_SCHEMA_1, POSTGRES_SCHEMA_2, SQLITE_SCHEMA_1, SQLITE_SCHEMA_2,
    from_v6::{POSTGRES_SCHEMA_3_TO_6, SQLITE_SCHEMA_3_TO_6},
    schema_version,
};
use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, assert_error, assert_json, every_backend,
    pg::record_migrations, test_settings,
};

const SQLITE_SCHEMA_7: &str =
    include_str!("../../../src/store/migrations/sqlite/0007_tag_orders.sql");
const POSTGRES_SCHEMA_7: &str =
    include_str!("../../../src/store/migrations/postgres/0007_tag_orders.sql");

/// The tasks the old release wrote, ids 1..: (owner, title, complete).
const V7_TASKS: [(&str, &str, bool); 4] = [
    ("alice", "old one", false),
    ("alice", "old two", true),
    ("bob", "bob's", false),
    ("alice", "old three", false),
];

/// A database of `backend` as the release before sync left it: schema version 7 with
/// `V7_TASKS`, written as that release wrote them.
async fn schema_7_database(backend: Backend) -> Option<(Settings, TestDb)> {
    let insert = |p: &dyn Fn(usize) -> String| {
        format!(
            "INSERT INTO tasks (id, user_id, title, complete, created_at, updated_at, tags, \
             title_key, search_text) {}VALUES ({}, {}, {}, {}, {}, {}, '[]', {}, {})",
            if backend == Backend::Postgres {
                "OVERRIDING SYSTEM VALUE "
            } else {
                ""
            },
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(5),
            p(3),
            p(3)
        )
    };
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("todo.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(SQLITE_SCHEMA_1).unwrap();
            conn.execute_batch(SQLITE_SCHEMA_2).unwrap();
            for step in SQLITE_SCHEMA_3_TO_6 {
                conn.execute_batch(step).unwrap();
            }
            conn.execute_batch(SQLITE_SCHEMA_7).unwrap();
            conn.execute_batch("PRAGMA user_version = 7").unwrap();
            let sql = insert(&|i| format!("?{i}"));
            for (n, (user, title, complete)) in V7_TASKS.iter().enumerate() {
                let id = n as i64 + 1;
                conn.execute(
                    &sql,
                    rusqlite::params![id, user, title, complete, 1_700_000_000_000_i64 + id],
                )
                .unwrap();
            }
            Some((
                test_settings(path.display().to_string()),
                TestDb::Sqlite(dir),
            ))
        }
        Backend::Postgres => {
            let schema = PgSchema::create().await?;
            let client = schema.connect().await;
            client.batch_execute(POSTGRES_SCHEMA_1).await.unwrap();
            client.batch_execute(POSTGRES_SCHEMA_2).await.unwrap();
            for step in POSTGRES_SCHEMA_3_TO_6 {
                client.batch_execute(step).await.unwrap();
            }
            client.batch_execute(POSTGRES_SCHEMA_7).await.unwrap();
            record_migrations(&client, 7).await;
            let sql = insert(&|i| {
                let cast = match i {
                    1 | 5 => "bigint",
                    4 => "boolean",
                    _ => "text",
                };
                format!("${i}::{cast}")
            });
            for (n, (user, title, complete)) in V7_TASKS.iter().enumerate() {
                let id = n as i64 + 1;
                let at = 1_700_000_000_000_i64 + id;
                client
                    .execute(&sql, &[&id, user, title, complete, &at])
                    .await
                    .unwrap();
            }
            client
                .batch_execute("SELECT setval(pg_get_serial_sequence('tasks', 'id'), 4)")
                .await
                .unwrap();
            Some((test_settings(schema.url.clone()), TestDb::Postgres(schema)))
        }
    }
}

/// alice's feed from `since` (from the start without it).
async fn feed(app: &TestApp, since: Option<&str>) -> Value {
    let path = match since {
        Some(since) => format!("/api/alice/changes?since={since}"),
        None => "/api/alice/changes".to_owned(),
    };
    let resp = app
        .authorized(reqwest::Method::GET, &path, "alice")
        .send()
        .await
        .unwrap();
    assert_json(resp, StatusCode::OK).await
}

#[apply(every_backend)]
#[tokio::test]
async fn a_database_of_schema_version_7_gets_versions_and_a_change_feed_for_its_old_tasks(
    backend: Backend,
) {
    let Some((settings, db)) = schema_7_database(backend).await else {
        return;
    };
    let app = TestApp::start(settings, backend, Some(db)).await;
    assert_eq!(schema_version(&app).await, 8);

    // Every old task starts at version 1, with that ETag.
    for (n, (user, title, _)) in V7_TASKS.iter().enumerate() {
        let resp = app.get_task(user, n + 1).await;
        assert_eq!(resp.headers()["etag"], "\"1\"", "{title}");
        let task = assert_json(resp, StatusCode::OK).await;
        assert_eq!(
            (task["title"].as_str(), task["version"].as_i64()),
            (Some(*title), Some(1))
        );
    }

    // The feed from the start gives alice's old tasks, in id order, and nobody else's.
    let from_start = feed(&app, None).await;
    let entries: Vec<(i64, bool, i64)> = from_start["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_i64().unwrap(),
                c["deleted"].as_bool().unwrap(),
                c["task"]["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries, [(1, false, 1), (2, false, 1), (4, false, 1)]);
    assert_eq!(from_start["has_more"], false);

    // A list gives the cursor to follow; old tasks take conditional writes and leave tombstones.
    let list = assert_json(app.list_tasks("alice").await, StatusCode::OK).await;
    let since = list["sync_cursor"].as_str().unwrap().to_owned();
    let patched = assert_json(
        app.authorized(reqwest::Method::PATCH, "/api/alice/tasks/1", "alice")
            .header("If-Match", "\"1\"")
            .json(&json!({"title": "old one, renamed"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["version"], 2);
    let (_, stale) = assert_error(
        app.authorized(reqwest::Method::PATCH, "/api/alice/tasks/1", "alice")
            .header("If-Match", "\"1\"")
            .json(&json!({"title": "lost"}))
            .send()
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
    )
    .await;
    assert_eq!(stale["task"], patched);
    assert_eq!(
        app.delete_task("alice", 2).await.status(),
        StatusCode::NO_CONTENT
    );
    let after = feed(&app, Some(&since)).await;
    let changes = after["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{after}");
    assert_eq!(changes[0]["task"], patched);
    assert_eq!(
        (changes[1]["id"].as_i64(), changes[1]["deleted"].as_bool()),
        (Some(2), Some(true))
    );

    // New tasks continue after the old ids, at version 1.
    let created = app.create_task_ok("alice", "new").await;
    assert_eq!(
        (created["id"].as_i64(), created["version"].as_i64()),
        (Some(5), Some(1))
    );
}
