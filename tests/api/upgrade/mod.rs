//! Upgrades of databases written by earlier releases, one file per schema version they start
//! from, on SQLite and PostgreSQL: the server upgrades them in place when it starts and keeps
//! every task. `general` holds `todo-api migrate-data`, which carries every field, the tags and
//! the links between occurrences from SQLite to PostgreSQL and back. This file holds the old
//! schemas, the old rows and the readers the files share.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Backend, TestApp, assert_json, list_content};

mod from_v1;
mod from_v2;
mod from_v5;
mod from_v6;
mod from_v7;
mod general;

/// The schema of the previous release, exactly as it created it.
const SQLITE_SCHEMA_1: &str =
    include_str!("../../../src/store/migrations/sqlite/0001_create_tasks.sql");
const POSTGRES_SCHEMA_1: &str =
    include_str!("../../../src/store/migrations/postgres/0001_create_tasks.sql");
/// The step the release before lists added, exactly as it ran it.
const SQLITE_SCHEMA_2: &str =
    include_str!("../../../src/store/migrations/sqlite/0002_task_model.sql");
const POSTGRES_SCHEMA_2: &str =
    include_str!("../../../src/store/migrations/postgres/0002_task_model.sql");

/// The schema version recorded in the database behind `app`.
async fn schema_version(app: &TestApp) -> i64 {
    match app.backend {
        Backend::Sqlite => rusqlite::Connection::open(app.sqlite_path())
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        Backend::Postgres => {
            let client = app.pg_schema().connect().await;
            let rows = client
                .query(
                    "SELECT version, description FROM todo_schema_migrations ORDER BY version",
                    &[],
                )
                .await
                .unwrap();
            let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
            assert_eq!(
                versions,
                (1..=versions.len() as i32).collect::<Vec<_>>(),
                "one row per version, none skipped"
            );
            assert_eq!(rows[0].get::<_, String>(1), "create tasks");
            versions.len() as i64
        }
    }
}

/// The user's first page, without its feed position (each database has its own).
async fn list(app: &TestApp, user: &str) -> Value {
    list_content(assert_json(app.list_tasks(user).await, StatusCode::OK).await)
}

async fn tags(app: &TestApp, user: &str) -> Value {
    assert_json(app.list_tags(user).await, StatusCode::OK).await
}

/// Rows as the previous release wrote them: (user, title, description, tags).
const V2_TASKS: [(&str, &str, Option<&str>, &[&str]); 4] = [
    ("alice", "Äpfel kaufen", None, &["Home", "shopping"]),
    (
        "alice",
        "write REPORT",
        Some("Quarterly ÜBERSICHT"),
        &["work"],
    ),
    ("alice", "büro aufräumen", None, &["work", "home"]),
    ("bob", "äpfel too", None, &[]),
];

/// The `task_tags` rows of task `id` as releases before schema version 7 wrote them: tag,
/// task and spelling only.
fn sqlite_old_tag_rows(conn: &rusqlite::Connection, user: &str, id: i64, tags: &[&str]) {
    for tag in tags {
        conn.execute(
            "INSERT INTO task_tags (user_id, tag_key, task_id, name) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![user, tag.to_lowercase(), id, tag],
        )
        .unwrap();
    }
}

/// `sqlite_old_tag_rows` on PostgreSQL.
async fn postgres_old_tag_rows(
    client: &tokio_postgres::Client,
    user: &str,
    id: i64,
    tags: &[&str],
) {
    for tag in tags {
        client
            .execute(
                "INSERT INTO task_tags (user_id, tag_key, task_id, name) VALUES ($1, $2, $3, $4)",
                &[&user, &tag.to_lowercase(), &id, tag],
            )
            .await
            .unwrap();
    }
}

/// The titles of a list of alice's, in order.
async fn titles(app: &TestApp, query: &str) -> Vec<String> {
    let path = format!("/api/alice/tasks?{query}");
    let resp = app
        .authorized(reqwest::Method::GET, &path, "alice")
        .send()
        .await
        .unwrap();
    let body = assert_json(resp, StatusCode::OK).await;
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}
