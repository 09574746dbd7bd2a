//! A database of schema version 6 (task_tags without its tasks' sort keys).

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::json;
use todo_api::config::Settings;

use super::{
    POSTGRES_SCHEMA_1, POSTGRES_SCHEMA_2, SQLITE_SCHEMA_1, SQLITE_SCHEMA_2, postgres_old_tag_rows,
    schema_version, sqlite_old_tag_rows,
};
use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, assert_json, every_backend, pg::record_migrations,
    test_settings,
};

/// The steps of the release before lists by tag read `task_tags` alone, exactly as it ran them
/// on an empty database (its Rust fills had nothing to fill; PostgreSQL's two search indexes,
/// built by its migrator after steps 3 and 6, are created here as it created them).
pub(super) const SQLITE_SCHEMA_3_TO_6: [&str; 5] = [
    include_str!("../../../src/store/migrations/sqlite/0003_list_indexes.sql"),
    include_str!("../../../src/store/migrations/sqlite/0003_list_indexes_search.sql"),
    include_str!("../../../src/store/migrations/sqlite/0004_task_counts.sql"),
    include_str!("../../../src/store/migrations/sqlite/0005_health_probe.sql"),
    include_str!("../../../src/store/migrations/sqlite/0006_tasks_by_owner.sql"),
];
pub(super) const POSTGRES_SCHEMA_3_TO_6: [&str; 6] = [
    include_str!("../../../src/store/migrations/postgres/0003_list_indexes.sql"),
    "CREATE INDEX tasks_search_text ON tasks USING gin (search_text public.gin_trgm_ops)",
    include_str!("../../../src/store/migrations/postgres/0004_task_counts.sql"),
    include_str!("../../../src/store/migrations/postgres/0005_health_probe.sql"),
    include_str!("../../../src/store/migrations/postgres/0006_search_by_owner.sql"),
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
    assert_eq!(schema_version(&app).await, 8);
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
