//! The change feed's commit order under concurrent writers: a client that polls the feed while
//! others write, and keeps only what the feed told it, ends with exactly the server's tasks. A
//! change placed before a cursor the client already holds would be missed and show up here as
//! a stale or missing task. On PostgreSQL the writers go to two instances on one database.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, assert_json, every_backend, spawn_or_skip};

const WRITERS: usize = 6;
const OPS_PER_WRITER: usize = 40;

/// One writer's burst: creates, renames, toggles and deletes of alice's tasks, chosen by `seed`.
async fn write_burst(app: Arc<TestApp>, seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut mine: Vec<i64> = Vec::new();
    for n in 0..OPS_PER_WRITER {
        let pick = next() % 10;
        if mine.is_empty() || pick < 4 {
            let task = app.create_task_ok("alice", &format!("w{seed} #{n}")).await;
            mine.push(task["id"].as_i64().unwrap());
            continue;
        }
        let id = mine[(next() % mine.len() as u64) as usize];
        let status = match pick {
            4..=5 => app
                .update_task(
                    "alice",
                    id,
                    &json!({"title": format!("w{seed} renamed {n}")}),
                )
                .await
                .status(),
            6..=7 => app.toggle_task("alice", id).await.status(),
            _ => {
                mine.retain(|&m| m != id);
                app.delete_task("alice", id).await.status()
            }
        };
        assert!(status.is_success(), "{status}");
    }
}

/// Follow alice's feed from `cursor` into `seen` until it has nothing more right now; returns
/// the cursor to continue from.
async fn follow(app: &TestApp, mut cursor: String, seen: &mut BTreeMap<i64, Value>) -> String {
    loop {
        let resp = app
            .authorized(
                reqwest::Method::GET,
                &format!("/api/alice/changes?since={cursor}&limit=7"),
                "alice",
            )
            .send()
            .await
            .unwrap();
        let page = assert_json(resp, StatusCode::OK).await;
        for change in page["changes"].as_array().unwrap() {
            let id = change["id"].as_i64().unwrap();
            if change["deleted"] == true {
                seen.remove(&id);
            } else {
                seen.insert(id, change["task"].clone());
            }
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            return cursor;
        }
    }
}

/// Every task of alice's, by id, walking every page of the list.
async fn all_tasks(app: &TestApp) -> BTreeMap<i64, Value> {
    let mut tasks = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/alice/tasks?limit=500&cursor={c}"),
            None => "/api/alice/tasks?limit=500".to_owned(),
        };
        let resp = app
            .authorized(reqwest::Method::GET, &path, "alice")
            .send()
            .await
            .unwrap();
        let page = assert_json(resp, StatusCode::OK).await;
        for task in page["tasks"].as_array().unwrap() {
            tasks.insert(task["id"].as_i64().unwrap(), task.clone());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return tasks,
        }
    }
}

#[apply(every_backend)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_following_the_feed_during_concurrent_writes_ends_with_the_servers_tasks(
    backend: Backend,
) {
    // One user writing this fast is over any request budget: no rate limit here.
    let first = Arc::new(spawn_or_skip!(backend, |s| s.rate_limit.enabled = false));
    // On PostgreSQL, a second instance on the same database takes half the writes.
    let second = match backend {
        Backend::Postgres => Arc::new(TestApp::start(first.settings.clone(), backend, None).await),
        Backend::Sqlite => first.clone(),
    };
    let start = first.create_task_ok("alice", "before").await;

    // A client lists once, then follows the feed from the list's sync_cursor while the writers
    // write.
    let list = assert_json(first.list_tasks("alice").await, StatusCode::OK).await;
    let mut seen: BTreeMap<i64, Value> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t.clone()))
        .collect();
    assert_eq!(seen[&start["id"].as_i64().unwrap()], start);
    let cursor = list["sync_cursor"].as_str().unwrap().to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (app, done) = (first.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = cursor;
            let mut polls = 0;
            while !done.load(Ordering::Acquire) {
                cursor = follow(&app, cursor, &mut seen).await;
                polls += 1;
            }
            (cursor, seen, polls)
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let app = if w % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(write_burst(app, w as u64 + 1))
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let (cursor, mut seen, polls) = reader.await.unwrap();
    assert!(
        polls > 1,
        "the feed was read while the writers wrote ({polls} polls)"
    );

    // One last poll after the writes: the client now holds exactly what the server holds.
    follow(&first, cursor, &mut seen).await;
    let server = all_tasks(&first).await;
    assert_eq!(seen.len(), server.len());
    for (id, task) in &server {
        assert_eq!(seen.get(id), Some(task), "task {id}");
    }
}
