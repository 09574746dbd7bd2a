//! A database of schema version 2 (the task model, before lists got their indexes).

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::json;
use todo_api::config::Settings;

use super::{
    POSTGRES_SCHEMA_1, POSTGRES_SCHEMA_2, SQLITE_SCHEMA_1, SQLITE_SCHEMA_2, V2_TASKS,
    postgres_old_tag_rows, schema_version, sqlite_old_tag_rows, titles,
};
use crate::support::{
    Backend, PgSchema, TestApp, app::TestDb, every_backend, pg::record_migrations, test_settings,
};

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

#[apply(every_backend)]
#[tokio::test]
async fn a_database_of_schema_version_2_gets_sort_keys_and_search_for_its_old_tasks(
    backend: Backend,
) {
    let Some((settings, db)) = schema_2_database(backend).await else {
        return;
    };
    let app = TestApp::start(settings, backend, Some(db)).await;
    assert_eq!(schema_version(&app).await, 8);

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
