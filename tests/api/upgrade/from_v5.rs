//! A SQLite database of schema version 5 (one search index over every owner's text).

use reqwest::StatusCode;
use serde_json::json;
use todo_api::config::Settings;

use super::{SQLITE_SCHEMA_1, SQLITE_SCHEMA_2, V2_TASKS, schema_version, titles};
use crate::support::{Backend, TestApp, app::TestDb, assert_json, test_settings};

/// The steps the release before the owner-scoped search index ran, exactly as it ran them
/// (step 3 in two parts, its Rust fill in between having nothing to fill on an empty file).
const SQLITE_SCHEMA_3_TO_5: [&str; 4] = [
    include_str!("../../../src/store/migrations/sqlite/0003_list_indexes.sql"),
    include_str!("../../../src/store/migrations/sqlite/0003_list_indexes_search.sql"),
    include_str!("../../../src/store/migrations/sqlite/0004_task_counts.sql"),
    include_str!("../../../src/store/migrations/sqlite/0005_health_probe.sql"),
];

/// A SQLite file as the previous release left it: schema version 5 and `V2_TASKS`, written
/// with its folded columns, so its triggers indexed them in its search index.
fn sqlite_schema_5_database() -> (Settings, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("todo.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(SQLITE_SCHEMA_1).unwrap();
    conn.execute_batch(SQLITE_SCHEMA_2).unwrap();
    for step in SQLITE_SCHEMA_3_TO_5 {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch("PRAGMA user_version = 5").unwrap();
    for (n, (user, title, description, _)) in V2_TASKS.iter().enumerate() {
        let search_text = match description {
            Some(d) => format!("{}\n{}", title.to_lowercase(), d.to_lowercase()),
            None => title.to_lowercase(),
        };
        conn.execute(
            "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at, \
             title_key, search_text) VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5, ?6)",
            rusqlite::params![
                user,
                title,
                description,
                1_700_000_000_000_i64 + n as i64,
                title.to_lowercase(),
                search_text
            ],
        )
        .unwrap();
    }
    (
        test_settings(path.display().to_string()),
        TestDb::Sqlite(dir),
    )
}

#[tokio::test]
async fn a_sqlite_database_of_schema_version_5_gets_a_search_index_per_owner() {
    let (settings, db) = sqlite_schema_5_database();
    let app = TestApp::start(settings, Backend::Sqlite, Some(db)).await;
    assert_eq!(schema_version(&app).await, 8);

    // Both alice and bob have an "äpfel" task: each finds only their own.
    assert_eq!(titles(&app, "q=%C3%A4pfel").await, ["Äpfel kaufen"]);
    let resp = app
        .authorized(reqwest::Method::GET, "/api/bob/tasks?q=%C3%84PFEL", "bob")
        .send()
        .await
        .unwrap();
    let body = assert_json(resp, StatusCode::OK).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["tasks"][0]["title"], "äpfel too");
    assert_eq!(titles(&app, "q=%C3%BCbersicht").await, ["write REPORT"]);

    // Old rows leave the index and come back with their new text; new rows join it.
    let resp = app
        .update_task("alice", 1, &json!({"title": "Birnen kaufen"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(titles(&app, "q=%C3%A4pfel").await.is_empty());
    assert_eq!(titles(&app, "q=kaufen").await, ["Birnen kaufen"]);
    assert_eq!(
        app.delete_task("alice", 2).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(titles(&app, "q=report").await.is_empty());
    let new = app.create_task_ok("alice", "Äpfel again").await;
    assert_eq!(new["id"], 5, "the id counter continues");
    assert_eq!(titles(&app, "q=%C3%A4pfel").await, ["Äpfel again"]);
    assert_eq!(
        titles(&app, "q=b%C3%BCro&sort=-id").await,
        ["büro aufräumen"]
    );
}
