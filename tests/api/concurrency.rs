//! Correctness under concurrent load.

use std::collections::HashSet;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, every_backend, spawn_or_skip};

#[apply(every_backend)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_on_fifty_connections_all_succeed_with_distinct_ids(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let url = app.url("/api/alice/tasks");
    let token = app.token("alice");

    let requests = (0..50).map(|i| {
        // A client per request: fifty separate TCP connections.
        let client = reqwest::Client::new();
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "title": format!("task {i}") }))
                .send()
                .await
                .unwrap()
        })
    });
    let responses: Vec<_> = futures_join_all(requests).await;

    let mut ids = HashSet::new();
    for resp in responses {
        assert_eq!(resp.status(), StatusCode::CREATED);
        let task: Value = resp.json().await.unwrap();
        assert!(
            ids.insert(task["id"].as_i64().unwrap()),
            "duplicate id {task}"
        );
    }
    let list: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(list["count"], 50);
}

#[apply(every_backend)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_one_task_leave_it_in_one_of_the_written_states(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "contended").await;
    let url = app.url(&format!("/api/alice/tasks/{}", task["id"]));
    let token = app.token("alice");

    let writes: Vec<Value> = (0..30)
        .map(|i| json!({"title": format!("writer {i}"), "complete": i % 2 == 0, "description": format!("by {i}")}))
        .collect();
    let requests = writes.iter().cloned().map(|body| {
        let client = reqwest::Client::new();
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            client
                .patch(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        })
    });
    let mut stamps = Vec::new();
    for resp in futures_join_all(requests).await {
        assert_eq!(resp.status(), StatusCode::OK);
        let t: Value = resp.json().await.unwrap();
        stamps.push(t["updated_at"].as_str().unwrap().to_owned());
    }

    let last: Value = app
        .get_task("alice", &task["id"])
        .await
        .json()
        .await
        .unwrap();
    let state = json!({"title": last["title"], "complete": last["complete"], "description": last["description"]});
    assert!(
        writes.contains(&state),
        "final state {state} is one of the writes"
    );
    // Every write got its own updated_at, and the stored one is the latest.
    let distinct: HashSet<_> = stamps.iter().collect();
    assert_eq!(
        distinct.len(),
        stamps.len(),
        "updated_at is strictly monotonic per task"
    );
    assert_eq!(
        last["updated_at"].as_str().unwrap(),
        stamps.iter().max().unwrap()
    );
}

async fn futures_join_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}
