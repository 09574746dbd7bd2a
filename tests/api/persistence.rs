//! Durability: tasks outlive the server process that wrote them.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, every_backend, list_content, spawn_or_skip};

#[apply(every_backend)]
#[tokio::test]
async fn tasks_survive_a_restart_on_the_same_database(backend: Backend) {
    let mut first = spawn_or_skip!(backend);
    let kept = first.create_task_ok("alice", "kept").await;
    let changed = first.create_task_ok("alice", "changed").await;
    first
        .update_task(
            "alice",
            &changed["id"],
            &json!({"complete": true, "description": "done"}),
        )
        .await;
    let deleted = first.create_task_ok("alice", "deleted").await;
    first.delete_task("alice", &deleted["id"]).await;
    let before: Value = first.list_tasks("alice").await.json().await.unwrap();
    first.stop().await;

    let second = TestApp::start(first.settings.clone(), backend, first.db.take()).await;
    assert_ne!(second.address, first.address);

    let after: Value = second.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(list_content(after.clone()), list_content(before));
    assert_eq!(after["count"], 2);
    assert_eq!(after["tasks"][0], kept);
    assert_eq!(after["tasks"][1]["complete"], true);
    // Ids keep increasing across restarts, never reusing the deleted one.
    let next = second.create_task_ok("alice", "next").await;
    assert!(next["id"].as_i64() > deleted["id"].as_i64());
    assert_eq!(
        second.get_task("alice", &deleted["id"]).await.status(),
        StatusCode::NOT_FOUND
    );
}
