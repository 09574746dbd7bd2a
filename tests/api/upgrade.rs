//! Upgrades and data moves with the richer task model: a database written by the previous release
//! (schema version 1) is upgraded in place when the server starts, keeping every task and its id
//! counter; and `todo-api migrate-data` carries every new field, the tags and the links between
//! occurrences from SQLite to PostgreSQL and back.

use std::path::Path;

use chrono::{DateTime, SecondsFormat};
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};
use todo_api::config::Settings;

use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, assert_json, assert_task_model, every_backend,
    pg::record_migrations, process::todo_api_async, test_settings,
};

/// The schema of the previous release, exactly as it created it.
const SQLITE_SCHEMA_1: &str =
    include_str!("../../src/store/migrations/sqlite/0001_create_tasks.sql");
const POSTGRES_SCHEMA_1: &str =
    include_str!("../../src/store/migrations/postgres/0001_create_tasks.sql");
/// The step the release before lists added, exactly as it ran it.
const SQLITE_SCHEMA_2: &str = include_str!("../../src/store/migrations/sqlite/0002_task_model.sql");
const POSTGRES_SCHEMA_2: &str =
    include_str!("../../src/store/migrations/postgres/0002_task_model.sql");

// ---------------------------------------------------------------------------------------------
// A database of schema version 1

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

async fn list(app: &TestApp, user: &str) -> Value {
    assert_json(app.list_tasks(user).await, StatusCode::OK).await
}

async fn tags(app: &TestApp, user: &str) -> Value {
    assert_json(app.list_tags(user).await, StatusCode::OK).await
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

// ---------------------------------------------------------------------------------------------
// A database of schema version 2 (the task model, before lists got their indexes)

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

/// A database of `backend` as the previous release left it: schema version 2 with `V2_TASKS`
/// and their `task_tags` rows.
async fn schema_2_database(backend: Backend) -> Option<(Settings, TestDb)> {
    let insert_task = "INSERT INTO tasks (user_id, title, description, complete, created_at, \
                       updated_at, tags) VALUES ";
    let rows: Vec<(String, String, Option<String>, String)> = V2_TASKS
        .iter()
        .map(|(user, title, description, tags)| {
            (
                (*user).to_owned(),
                (*title).to_owned(),
                description.map(str::to_owned),
                serde_json::to_string(tags).unwrap(),
            )
        })
        .collect();
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("todo.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(SQLITE_SCHEMA_1).unwrap();
            conn.execute_batch(SQLITE_SCHEMA_2).unwrap();
            conn.execute_batch("PRAGMA user_version = 2").unwrap();
            for (n, (user, title, description, tags)) in rows.iter().enumerate() {
                conn.execute(
                    &format!("{insert_task} (?1, ?2, ?3, 0, ?4, ?4, ?5)"),
                    rusqlite::params![
                        user,
                        title,
                        description,
                        1_700_000_000_000_i64 + n as i64,
                        tags
                    ],
                )
                .unwrap();
                sqlite_old_tag_rows(&conn, user, n as i64 + 1, V2_TASKS[n].3);
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
            record_migrations(&client, 2).await;
            for (n, (user, title, description, tags)) in rows.iter().enumerate() {
                let at = 1_700_000_000_000_i64 + n as i64;
                client
                    .execute(
                        &format!("{insert_task} ($1, $2, $3, false, $4, $4, $5)"),
                        &[user, title, description, &at, tags],
                    )
                    .await
                    .unwrap();
                postgres_old_tag_rows(&client, user, n as i64 + 1, V2_TASKS[n].3).await;
            }
            Some((test_settings(schema.url.clone()), TestDb::Postgres(schema)))
        }
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

#[apply(every_backend)]
#[tokio::test]
async fn a_database_of_schema_version_2_gets_sort_keys_and_search_for_its_old_tasks(
    backend: Backend,
) {
    let Some((settings, db)) = schema_2_database(backend).await else {
        return;
    };
    let app = TestApp::start(settings, backend, Some(db)).await;
    assert_eq!(schema_version(&app).await, 7);

    // Old rows are searchable (case-folded, in the description too) and sort by folded title.
    assert_eq!(titles(&app, "q=%C3%84PFEL").await, ["Äpfel kaufen"]);
    assert_eq!(titles(&app, "q=%C3%BCbersicht").await, ["write REPORT"]);
    assert_eq!(titles(&app, "q=b%C3%BC").await, ["büro aufräumen"]);
    assert_eq!(
        titles(&app, "sort=title").await,
        ["büro aufräumen", "write REPORT", "Äpfel kaufen"]
    );
    assert_eq!(
        titles(&app, "tag=HOME&sort=-id").await,
        ["büro aufräumen", "Äpfel kaufen"]
    );

    // The search index follows later writes to old rows.
    let resp = app
        .update_task("alice", 1, &json!({"title": "Birnen kaufen"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(titles(&app, "q=%C3%A4pfel").await.is_empty());
    assert_eq!(titles(&app, "q=birnen").await, ["Birnen kaufen"]);
    assert_eq!(
        app.delete_task("alice", 2).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(titles(&app, "q=report").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// A SQLite database of schema version 5 (one search index over every owner's text)

/// The steps the release before the owner-scoped search index ran, exactly as it ran them
/// (step 3 in two parts, its Rust fill in between having nothing to fill on an empty file).
const SQLITE_SCHEMA_3_TO_5: [&str; 4] = [
    include_str!("../../src/store/migrations/sqlite/0003_list_indexes.sql"),
    include_str!("../../src/store/migrations/sqlite/0003_list_indexes_search.sql"),
    include_str!("../../src/store/migrations/sqlite/0004_task_counts.sql"),
    include_str!("../../src/store/migrations/sqlite/0005_health_probe.sql"),
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
    assert_eq!(schema_version(&app).await, 7);

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

// ---------------------------------------------------------------------------------------------
// A database of schema version 6 (task_tags without its tasks' sort keys)

/// The steps of the release before lists by tag read `task_tags` alone, exactly as it ran them
/// on an empty database (its Rust fills had nothing to fill; PostgreSQL's two search indexes,
/// built by its migrator after steps 3 and 6, are created here as it created them).
const SQLITE_SCHEMA_3_TO_6: [&str; 5] = [
    include_str!("../../src/store/migrations/sqlite/0003_list_indexes.sql"),
    include_str!("../../src/store/migrations/sqlite/0003_list_indexes_search.sql"),
    include_str!("../../src/store/migrations/sqlite/0004_task_counts.sql"),
    include_str!("../../src/store/migrations/sqlite/0005_health_probe.sql"),
    include_str!("../../src/store/migrations/sqlite/0006_tasks_by_owner.sql"),
];
const POSTGRES_SCHEMA_3_TO_6: [&str; 6] = [
    include_str!("../../src/store/migrations/postgres/0003_list_indexes.sql"),
    "CREATE INDEX tasks_search_text ON tasks USING gin (search_text public.gin_trgm_ops)",
    include_str!("../../src/store/migrations/postgres/0004_task_counts.sql"),
    include_str!("../../src/store/migrations/postgres/0005_health_probe.sql"),
    include_str!("../../src/store/migrations/postgres/0006_search_by_owner.sql"),
    "CREATE INDEX tasks_user_search ON tasks USING gin (user_id, search_text public.gin_trgm_ops)",
];

/// 2026-12-03T00:00:00Z in milliseconds.
const DEC_3_MS: i64 = 1_796_256_000_000;

/// The tasks of the schema-6 database, ids 1..: (owner, title, priority, due_at, due_date,
/// tags).
type V6Task = (
    &'static str,
    &'static str,
    i64,
    Option<i64>,
    Option<&'static str>,
    &'static [&'static str],
);
const V6_TASKS: [V6Task; 5] = [
    ("alice", "c task", 3, Some(DEC_3_MS), None, &["Work"]),
    (
        "alice",
        "a task",
        1,
        None,
        Some("2026-12-01"),
        &["work", "Home"],
    ),
    ("alice", "b task", 2, None, None, &["work"]),
    ("alice", "d task", 0, Some(DEC_3_MS), None, &["home"]),
    ("bob", "e task", 0, None, None, &["work"]),
];

/// A database of `backend` as the previous release left it: schema version 6 with `V6_TASKS`
/// and their `task_tags` rows as it wrote them (tag, task and spelling only).
async fn schema_6_database(backend: Backend) -> Option<(Settings, TestDb)> {
    let insert_task = |n: usize, p: &dyn Fn(usize) -> String| {
        format!(
            "INSERT INTO tasks (id, user_id, title, complete, created_at, updated_at, priority, \
             tags, due_at, due_date, title_key, search_text) {}VALUES ({}, {}, {}, {}, {}, {}, \
             {}, {}, {}, {}, {}, {})",
            if n == 0 {
                ""
            } else {
                "OVERRIDING SYSTEM VALUE "
            },
            p(1),
            p(2),
            p(3),
            if n == 0 { "0" } else { "false" },
            p(4),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(9)
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
            conn.execute_batch("PRAGMA user_version = 6").unwrap();
            let sql = insert_task(0, &|i| format!("?{i}"));
            for (n, (user, title, priority, due_at, due_date, tags)) in V6_TASKS.iter().enumerate()
            {
                let id = n as i64 + 1;
                conn.execute(
                    &sql,
                    rusqlite::params![
                        id,
                        user,
                        title,
                        1_700_000_000_000_i64 + id,
                        priority,
                        serde_json::to_string(tags).unwrap(),
                        due_at,
                        due_date,
                        title
                    ],
                )
                .unwrap();
                sqlite_old_tag_rows(&conn, user, id, tags);
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
            record_migrations(&client, 6).await;
            let sql = insert_task(1, &|i| {
                let cast = match i {
                    1 | 4 | 7 => "bigint",
                    5 => "smallint",
                    _ => "text",
                };
                format!("${i}::{cast}")
            });
            for (n, (user, title, priority, due_at, due_date, tags)) in V6_TASKS.iter().enumerate()
            {
                let id = n as i64 + 1;
                let (at, priority) = (1_700_000_000_000_i64 + id, *priority as i16);
                let tags_json = serde_json::to_string(tags).unwrap();
                client
                    .execute(
                        &sql,
                        &[
                            &id, user, title, &at, &priority, &tags_json, due_at, due_date, title,
                        ],
                    )
                    .await
                    .unwrap();
                postgres_old_tag_rows(&client, user, id, tags).await;
            }
            client
                .batch_execute("SELECT setval(pg_get_serial_sequence('tasks', 'id'), 5)")
                .await
                .unwrap();
            Some((test_settings(schema.url.clone()), TestDb::Postgres(schema)))
        }
    }
}

/// A list of alice's: its titles in order, and its total.
async fn titles_and_total(app: &TestApp, query: &str) -> (Vec<String>, i64) {
    let path = format!("/api/alice/tasks?{query}");
    let resp = app
        .authorized(reqwest::Method::GET, &path, "alice")
        .send()
        .await
        .unwrap();
    let body = assert_json(resp, StatusCode::OK).await;
    let titles = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect();
    (titles, body["total"].as_i64().unwrap())
}

#[apply(every_backend)]
#[tokio::test]
async fn a_database_of_schema_version_6_lists_its_tags_in_every_order_and_keeps_them_in_step(
    backend: Backend,
) {
    let Some((settings, db)) = schema_6_database(backend).await else {
        return;
    };
    let app = TestApp::start(settings, backend, Some(db)).await;
    assert_eq!(schema_version(&app).await, 7);
    let list = |query: &'static str| titles_and_total(&app, query);

    // Old tag rows got their tasks' sort keys and counts: every order of a tag, and two tags.
    assert_eq!(
        list("tag=WORK&sort=due").await,
        (vec!["a task".into(), "c task".into(), "b task".into()], 3)
    );
    assert_eq!(
        list("tag=work&sort=-due").await,
        (vec!["c task".into(), "a task".into(), "b task".into()], 3)
    );
    assert_eq!(
        list("tag=work&sort=-priority").await,
        (vec!["c task".into(), "b task".into(), "a task".into()], 3)
    );
    assert_eq!(
        list("tag=work&sort=title&limit=2").await,
        (vec!["a task".into(), "b task".into()], 3)
    );
    assert_eq!(
        list("tag=home&sort=-created_at").await,
        (vec!["d task".into(), "a task".into()], 2)
    );
    assert_eq!(
        list("tag=work&tag=home&sort=due").await,
        (vec!["a task".into()], 1)
    );
    assert_eq!(list("tag=nothing&sort=due").await, (vec![], 0));

    // A change of a task's sort keys moves it in its tags' orders; tags follow their task.
    let resp = app
        .update_task(
            "alice",
            3,
            &json!({"due_date": "2026-11-30", "priority": "high"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        list("tag=work&sort=due").await,
        (vec!["b task".into(), "a task".into(), "c task".into()], 3)
    );
    let resp = app
        .update_task("alice", 2, &json!({"title": "z task", "tags": ["work"]}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        list("tag=work&sort=-title").await,
        (vec!["z task".into(), "c task".into(), "b task".into()], 3)
    );
    assert_eq!(
        list("tag=home&sort=title").await,
        (vec!["d task".into()], 1)
    );

    // Deletes and creates keep the counts exact; a tag nobody carries counts zero.
    assert_eq!(
        app.delete_task("alice", 4).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(list("tag=home&sort=title").await, (vec![], 0));
    let new = app
        .create_task_from(
            "alice",
            &json!({"title": "new task", "tags": ["Home", "work"], "due_date": "2026-11-29"}),
        )
        .await;
    assert_eq!(new["id"], 6, "the id counter continues");
    assert_eq!(
        list("tag=work&sort=due&limit=2").await,
        (vec!["new task".into(), "b task".into()], 4)
    );
    assert_eq!(
        list("tag=home&sort=-updated_at").await,
        (vec!["new task".into()], 1)
    );

    // A write that changes no sort key but updated_at moves the task in that order only.
    assert_eq!(app.toggle_task("alice", 1).await.status(), StatusCode::OK);
    assert_eq!(
        list("tag=work&sort=-updated_at&limit=2").await,
        (vec!["c task".into(), "new task".into()], 4)
    );
    assert_eq!(
        list("tag=work&sort=due&limit=2").await,
        (vec!["new task".into(), "b task".into()], 4)
    );

    // bob's tag is his alone.
    let resp = app
        .authorized(
            reqwest::Method::GET,
            "/api/bob/tasks?tag=work&sort=due",
            "bob",
        )
        .send()
        .await
        .unwrap();
    let body = assert_json(resp, StatusCode::OK).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["tasks"][0]["title"], "e task");
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

// ---------------------------------------------------------------------------------------------
// Moving data between backends

async fn migrate_data(from: &str, to: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = todo_api_async(dir.path())
        .args(["migrate-data", "--from", from, "--to", to])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "migrate-data {from} -> {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything a client can read about `users`: their task lists and their tags.
async fn snapshot(app: &TestApp, users: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for user in users {
        out.insert(
            (*user).to_owned(),
            json!({"tasks": list(app, user).await, "tags": tags(app, user).await}),
        );
    }
    Value::Object(out)
}

/// Reopen and complete a task, returning the completed task.
async fn reopen_and_complete(app: &TestApp, id: &Value) -> Value {
    let reopened = assert_json(
        app.update_task("alice", id, &json!({"complete": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reopened["complete"], false);
    assert_json(app.toggle_task("alice", id).await, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_data_carries_every_new_field_the_tags_and_the_occurrence_links_to_postgres_and_back()
 {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let mut source = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");

    // Tasks with every new field, two series with a completed occurrence each, completed and
    // plain tasks, another user's, and a deleted highest id.
    let weekly = source
        .create_task_from(
            "alice",
            &json!({
                "title": "gym",
                "description": "legs",
                "priority": "high",
                "tags": ["Health", "routine"],
                "due_at": "2026-05-04T09:00:00+02:00",
                "time_zone": "Europe/Berlin",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE",
            }),
        )
        .await;
    let weekly_done = assert_json(
        source.toggle_task("alice", &weekly["id"]).await,
        StatusCode::OK,
    )
    .await;
    let weekly_next = weekly_done["next_occurrence_id"].clone();
    assert!(weekly_next.is_i64(), "{weekly_done}");

    let rent = source
        .create_task_from(
            "alice",
            &json!({
                "title": "rent",
                "priority": "medium",
                "tags": ["money"],
                "due_date": "2026-04-30",
                "time_zone": "America/New_York",
                "recurrence": "FREQ=MONTHLY;COUNT=2",
            }),
        )
        .await;
    let rent_done = assert_json(
        source
            .update_task("alice", &rent["id"], &json!({"complete": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    let rent_second = rent_done["next_occurrence_id"].clone();
    assert!(rent_second.is_i64(), "{rent_done}");

    let finished = source
        .create_task_from(
            "alice",
            &json!({"title": "finished", "tags": ["ROUTINE"], "priority": "low"}),
        )
        .await;
    source.toggle_task("alice", &finished["id"]).await;
    source.create_task_ok("alice", "plain").await;
    source
        .create_task_from(
            "bob",
            &json!({"title": "bob's", "tags": ["money", "bob"], "due_at": "2026-01-01T00:00:00Z"}),
        )
        .await;
    let doomed = source.create_task_ok("alice", "deleted").await;
    assert_eq!(
        source.delete_task("alice", &doomed["id"]).await.status(),
        StatusCode::NO_CONTENT
    );
    let high_water = doomed["id"].as_i64().unwrap();

    let users = ["alice", "bob"];
    let before = snapshot(&source, &users).await;
    assert_eq!(before["alice"]["tasks"]["count"], 6);
    source.stop().await;
    let source_url = format!("sqlite://{}", source.sqlite_path().display());

    // SQLite -> PostgreSQL.
    migrate_data(&source_url, &schema.url).await;
    let on_postgres =
        TestApp::start(test_settings(schema.url.clone()), Backend::Postgres, None).await;
    assert_eq!(
        snapshot(&on_postgres, &users).await,
        before,
        "on PostgreSQL"
    );

    // PostgreSQL -> a new SQLite file.
    let dir = tempfile::tempdir().unwrap();
    let back = dir.path().join("back.db");
    migrate_data(&schema.url, &format!("sqlite://{}", back.display())).await;
    let on_sqlite = TestApp::start(
        test_settings(back.display().to_string()),
        Backend::Sqlite,
        None,
    )
    .await;
    assert_eq!(snapshot(&on_sqlite, &users).await, before, "back on SQLite");

    // The links and the series' positions came along: on each copy, completing the weekly
    // task again creates nothing new, completing the last rent of its COUNT=2 series creates
    // none, and completing the next gym session creates one with an id after the old highest.
    for (name, app) in [("PostgreSQL", &on_postgres), ("SQLite", &on_sqlite)] {
        let again = reopen_and_complete(app, &weekly["id"]).await;
        assert_eq!(again["next_occurrence_id"], weekly_next, "{name}");

        let last_rent =
            assert_json(app.toggle_task("alice", &rent_second).await, StatusCode::OK).await;
        assert_eq!(last_rent["complete"], true, "{name}");
        assert_eq!(
            last_rent["next_occurrence_id"],
            Value::Null,
            "{name}: {last_rent}"
        );

        let session =
            assert_json(app.toggle_task("alice", &weekly_next).await, StatusCode::OK).await;
        assert_eq!(
            session["next_occurrence_id"],
            high_water + 1,
            "{name}: ids continue after the old highest: {session}"
        );
        let third = assert_json(app.get_task("alice", high_water + 1).await, StatusCode::OK).await;
        assert_eq!(third["due_at"], "2026-05-11T07:00:00.000Z", "{name}");
        assert_eq!(third["tags"], json!(["Health", "routine"]), "{name}");
        assert_eq!(list(app, "alice").await["count"], 7, "{name}");
    }
}
