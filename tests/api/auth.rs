//! User isolation: one user's token can never read, list, change, toggle or delete another
//! user's tasks, and the attempts change nothing.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, assert_error, every_backend, list_content, spawn_or_skip};

#[apply(every_backend)]
#[tokio::test]
async fn another_user_cannot_see_or_touch_a_task_even_through_their_own_path(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "alice's secret").await;
    let id = task["id"].as_i64().unwrap();

    // Bob uses his own path (so no 403) with Alice's task id: it does not exist for him.
    assert_error(
        app.get_task("bob", id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let put = app
        .replace_task(
            "bob",
            id,
            &json!({"title": "pwned", "description": null, "complete": true}),
        )
        .await;
    assert_error(put, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let patch = app.update_task("bob", id, &json!({"title": "pwned"})).await;
    assert_error(patch, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_error(
        app.toggle_task("bob", id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete_task("bob", id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let bobs: Value = app.list_tasks("bob").await.json().await.unwrap();
    assert_eq!(
        list_content(bobs),
        json!({"tasks": [], "count": 0, "total": 0, "next_cursor": null})
    );

    // The 404 is indistinguishable from a task that never existed.
    let (_, missing) = assert_error(
        app.get_task("bob", 987_654).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let (_, foreign) = assert_error(
        app.get_task("bob", id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(missing["detail"], foreign["detail"]);

    let after: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(after, task, "alice's task is unchanged");
}

#[apply(every_backend)]
#[tokio::test]
async fn user_ids_with_unusual_characters_are_isolated_too(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // Better Auth ids are opaque strings; ones that look like SQL or patterns must not match others.
    for user in ["user_%", "o'brien", "alice%20"] {
        let encoded: String = user.replace('%', "%25").replace('\'', "%27");
        let resp = app
            .client
            .post(app.url(&format!("/api/{encoded}/tasks")))
            .bearer_auth(app.token(user))
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{user}");
        let task: Value = resp.json().await.unwrap();
        assert_eq!(task["user_id"], user);
    }
    app.create_task_ok("user_x", "other").await;
    let resp = app
        .client
        .get(app.url("/api/user_%25/tasks"))
        .bearer_auth(app.token("user_%"))
        .send()
        .await
        .unwrap();
    let list: Value = resp.json().await.unwrap();
    assert_eq!(
        list["count"], 1,
        "LIKE-style patterns match nothing else: {list}"
    );
}
