//! Moving data between backends: `todo-api migrate-data` from SQLite to PostgreSQL and back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{list, tags};
use crate::support::{
    Backend, PgSchema, TestApp, assert_json, process::todo_api_async, test_settings,
};

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
