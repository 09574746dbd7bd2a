//! A database of schema version 1, as the release before the richer task model left it.

use std::path::Path;

use chrono::{DateTime, SecondsFormat};
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};
use todo_api::config::Settings;

use super::{POSTGRES_SCHEMA_1, SQLITE_SCHEMA_1, list, schema_version, tags};
use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, assert_json, assert_task_model, every_backend,
    pg::record_migrations, test_settings,
};

/// A row as the previous release stored it.
struct OldTask {
    user_id: &'static str,
    title: &'static str,
    description: Option<&'static str>,
    complete: bool,
    created_at: i64,
    updated_at: i64,
}

/// The rows of the old database, ids 1 to 4 in this order; the last is deleted before the
/// upgrade, so the id counter stands at 4 with 3 tasks left.
const OLD_TASKS: [OldTask; 4] = [
    OldTask {
        user_id: "alice",
        title: "buy milk",
        description: None,
        complete: false,
        created_at: 1_700_000_000_123,
        updated_at: 1_700_000_000_123,
    },
    OldTask {
        user_id: "alice",
        title: "file taxes ✓",
        description: Some("before May\nwith «receipts»"),
        complete: true,
        created_at: 1_700_000_100_000,
        updated_at: 1_700_000_200_456,
    },
    OldTask {
        user_id: "bob",
        title: "bob's",
        description: Some(""),
        complete: false,
        created_at: 1_700_000_300_000,
        updated_at: 1_700_000_300_001,
    },
    OldTask {
        user_id: "alice",
        title: "deleted before the upgrade",
        description: None,
        complete: false,
        created_at: 1_700_000_400_000,
        updated_at: 1_700_000_400_000,
    },
];

fn timestamp(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// How the upgraded server shows the old row with this id: its old values, and the defaults of
/// every new field.
fn upgraded(id: i64) -> Value {
    let old = &OLD_TASKS[(id - 1) as usize];
    json!({
        "id": id,
        "user_id": old.user_id,
        "title": old.title,
        "description": old.description,
        "complete": old.complete,
        "created_at": timestamp(old.created_at),
        "updated_at": timestamp(old.updated_at),
        "priority": "none",
        "tags": [],
        "due_at": null,
        "due_date": null,
        "time_zone": null,
        "recurrence": null,
        "completed_at": null,
        "next_occurrence_id": null,
        "version": 1,
    })
}

/// A SQLite file at `path` as the previous release left it: its schema, `user_version` 1, and
/// the old rows.
fn seed_sqlite_schema_1(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(SQLITE_SCHEMA_1).unwrap();
    conn.execute_batch("PRAGMA user_version = 1").unwrap();
    for old in &OLD_TASKS {
        conn.execute(
            "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                old.user_id,
                old.title,
                old.description,
                old.complete,
                old.created_at,
                old.updated_at
            ],
        )
        .unwrap();
    }
    conn.execute("DELETE FROM tasks WHERE id = 4", []).unwrap();
}

/// A PostgreSQL schema as the previous release left it: its schema, the migrations table with
/// version 1, and the old rows.
async fn seed_postgres_schema_1(schema: &PgSchema) {
    let client = schema.connect().await;
    client.batch_execute(POSTGRES_SCHEMA_1).await.unwrap();
    record_migrations(&client, 1).await;
    for old in &OLD_TASKS {
        client
            .execute(
                "INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &old.user_id,
                    &old.title,
                    &old.description,
                    &old.complete,
                    &old.created_at,
                    &old.updated_at,
                ],
            )
            .await
            .unwrap();
    }
    client
        .execute("DELETE FROM tasks WHERE id = 4", &[])
        .await
        .unwrap();
}

/// Settings and storage for a server on a schema-1 database of `backend`; `None` when the
/// backend is not available here.
async fn schema_1_database(backend: Backend) -> Option<(Settings, TestDb)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("todo.db");
            seed_sqlite_schema_1(&path);
            Some((
                test_settings(path.display().to_string()),
                TestDb::Sqlite(dir),
            ))
        }
        Backend::Postgres => {
            let schema = PgSchema::create().await?;
            seed_postgres_schema_1(&schema).await;
            Some((test_settings(schema.url.clone()), TestDb::Postgres(schema)))
        }
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_database_of_schema_version_1_is_upgraded_in_place_and_keeps_every_task(
    backend: Backend,
) {
    let Some((settings, db)) = schema_1_database(backend).await else {
        return;
    };

    let mut app = TestApp::start(settings, backend, Some(db)).await;

    // Every old task reads back with its old values and the defaults of the new fields.
    for id in 1..=3 {
        let task = assert_json(
            app.get_task(OLD_TASKS[(id - 1) as usize].user_id, id).await,
            StatusCode::OK,
        )
        .await;
        assert_task_model(&task);
        assert_eq!(task, upgraded(id), "old task {id}");
    }
    assert_eq!(
        list(&app, "alice").await,
        json!({"tasks": [upgraded(1), upgraded(2)], "count": 2, "total": 2, "next_cursor": null})
    );
    assert_eq!(
        list(&app, "bob").await,
        json!({"tasks": [upgraded(3)], "count": 1, "total": 1, "next_cursor": null})
    );
    assert_eq!(tags(&app, "alice").await, json!({"tags": []}));
    let version = schema_version(&app).await;
    assert!(
        version > 1,
        "the schema was upgraded (now version {version})"
    );

    // The old tasks take the new fields.
    let patched = assert_json(
        app.update_task(
            "alice",
            1,
            &json!({
                "priority": "high",
                "tags": ["Old", "new"],
                "due_at": "2026-03-10T09:00:00+01:00",
                "time_zone": "Europe/Berlin",
                "recurrence": "FREQ=DAILY",
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let mut expected = upgraded(1);
    for (key, value) in [
        ("priority", json!("high")),
        ("tags", json!(["Old", "new"])),
        ("due_at", json!("2026-03-10T08:00:00.000Z")),
        ("time_zone", json!("Europe/Berlin")),
        ("recurrence", json!("FREQ=DAILY")),
        ("version", json!(2)),
    ] {
        expected[key] = value;
    }
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);
    assert!(patched["updated_at"].as_str().unwrap() > timestamp(OLD_TASKS[0].updated_at).as_str());

    let replaced = assert_json(
        app.replace_task(
            "alice",
            2,
            &json!({
                "title": "file taxes ✓",
                "description": "before May",
                "complete": true,
                "priority": "low",
                "tags": ["OLD"],
                "due_date": "2026-05-31",
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_task_model(&replaced);
    assert_eq!(replaced["priority"], "low");
    assert_eq!(replaced["tags"], json!(["OLD"]));
    assert_eq!(replaced["due_date"], "2026-05-31");
    assert_eq!(replaced["created_at"], upgraded(2)["created_at"]);
    assert_eq!(
        tags_of(&app, "alice").await,
        [("new".to_owned(), 1), ("old".to_owned(), 2)]
    );

    // Completing the now recurring old task creates its next occurrence, with an id after the
    // highest one the old database ever handed out.
    let done = assert_json(app.toggle_task("alice", 1).await, StatusCode::OK).await;
    assert_eq!(done["complete"], true);
    assert_eq!(
        done["next_occurrence_id"], 5,
        "ids are never reused: {done}"
    );
    let next = assert_json(app.get_task("alice", 5).await, StatusCode::OK).await;
    assert_eq!(next["due_at"], "2026-03-11T08:00:00.000Z");
    assert_eq!(next["tags"], json!(["Old", "new"]));

    // A restart on the upgraded database upgrades nothing again and loses nothing.
    let before = list(&app, "alice").await;
    app.stop().await;
    let again = TestApp::start(app.settings.clone(), backend, app.db.take()).await;
    assert_eq!(list(&again, "alice").await, before);
    assert_eq!(list(&again, "bob").await["tasks"], json!([upgraded(3)]));
    assert_eq!(schema_version(&again).await, version);
}

/// The user's tags as (lowercase name, count).
async fn tags_of(app: &TestApp, user: &str) -> Vec<(String, i64)> {
    tags(app, user).await["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_lowercase(),
                t["count"].as_i64().unwrap(),
            )
        })
        .collect()
}
