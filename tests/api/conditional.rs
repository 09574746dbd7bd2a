//! Versions, ETags and conditional requests: every task response names the task's version as a
//! strong ETag, `If-None-Match` turns an unchanged read into a 304, `If-Match` turns a write
//! made from a stale copy into a 412 carrying the task as it is now, and of two writers holding
//! one ETag exactly one wins. Also the change feed's expiry: a cursor older than the purged
//! tombstones is 410, and listing again recovers.

use std::{sync::Arc, time::Duration};

use reqwest::{Method, Response, StatusCode, header};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_error, assert_json, every_backend, list_content, spawn_or_skip,
};

fn etag(resp: &Response) -> String {
    resp.headers()
        .get(header::ETAG)
        .unwrap_or_else(|| panic!("an ETag on {} {}", resp.status(), resp.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn assert_cache_headers(resp: &Response) {
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "private, no-cache");
    assert_eq!(resp.headers()[header::VARY], "Authorization");
}

/// `method path` for alice with the given extra header.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    condition: (&str, &str),
    body: Option<&Value>,
) -> Response {
    let mut request = app
        .authorized(method, path, "alice")
        .header(condition.0, condition.1);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

#[apply(every_backend)]
#[tokio::test]
async fn every_task_response_carries_its_version_as_a_strong_etag(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // Act: one of each kind of write, then a read.
    let created = app.create_task("alice", &json!({"title": "a"})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(etag(&created), "\"1\"");
    assert_cache_headers(&created);
    let id = created.json::<Value>().await.unwrap()["id"].clone();
    let replaced = app
        .replace_task(
            "alice",
            &id,
            &json!({"title": "b", "description": null, "complete": false}),
        )
        .await;
    let patched = app.update_task("alice", &id, &json!({"title": "c"})).await;
    let toggled = app.toggle_task("alice", &id).await;
    let read = app.get_task("alice", &id).await;

    // Assert: the version goes up by one per write, and the ETag is it, quoted.
    for (resp, version) in [(replaced, 2), (patched, 3), (toggled, 4), (read, 4)] {
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(etag(&resp), format!("\"{version}\""));
        assert_cache_headers(&resp);
        assert_eq!(resp.json::<Value>().await.unwrap()["version"], version);
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_get_with_a_matching_if_none_match_is_304_without_a_body(backend: Backend) {
    // Arrange
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "a").await;
    let path = TestApp::task_path("alice", &task["id"]);

    for (value, expected) in [
        ("\"1\"", StatusCode::NOT_MODIFIED),
        ("W/\"1\"", StatusCode::NOT_MODIFIED),
        ("\"7\", \"1\"", StatusCode::NOT_MODIFIED),
        ("*", StatusCode::NOT_MODIFIED),
        ("\"2\"", StatusCode::OK),
    ] {
        // Act
        let resp = send(&app, Method::GET, &path, ("if-none-match", value), None).await;

        // Assert
        assert_eq!(resp.status(), expected, "If-None-Match: {value}");
        assert_eq!(etag(&resp), "\"1\"");
        assert_cache_headers(&resp);
        let body = resp.text().await.unwrap();
        if expected == StatusCode::NOT_MODIFIED {
            assert_eq!(body, "", "a 304 has no body");
        } else {
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), task);
        }
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_list_etag_changes_with_every_kind_of_change_and_gives_304_when_it_does_not(
    backend: Backend,
) {
    // Arrange: a page of two tasks out of three.
    let app = spawn_or_skip!(backend);
    let a = app.create_task_ok("alice", "a").await;
    let b = app.create_task_ok("alice", "b").await;
    let c = app.create_task_ok("alice", "c").await;
    let page = "/api/alice/tasks?sort=id&limit=2";
    let list_etag = || async {
        let resp = app
            .authorized(Method::GET, page, "alice")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_cache_headers(&resp);
        let tag = etag(&resp);
        assert!(tag.starts_with("\"l-"), "{tag}");
        tag
    };
    let first = list_etag().await;

    // An unchanged page: 304, same tag.
    let resp = send(&app, Method::GET, page, ("if-none-match", &first), None).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&resp), first);
    assert_eq!(resp.text().await.unwrap(), "");

    // Act and assert: each kind of change gives a new tag.
    let mut seen = vec![first];
    let steps = [
        "a task on the page is renamed",
        "a task on the page is toggled",
        "a task is added after the page (total)",
        "a task after the page is deleted (total)",
        "a task on the page is deleted (membership)",
    ];
    for step in steps {
        let status = match step {
            "a task on the page is renamed" => {
                let rename = json!({"title": "a2"});
                app.update_task("alice", &a["id"], &rename).await.status()
            }
            "a task on the page is toggled" => app.toggle_task("alice", &b["id"]).await.status(),
            "a task is added after the page (total)" => app
                .create_task("alice", &json!({"title": "d"}))
                .await
                .status(),
            "a task after the page is deleted (total)" => {
                app.delete_task("alice", &c["id"]).await.status()
            }
            _ => app.delete_task("alice", &a["id"]).await.status(),
        };
        assert!(status.is_success(), "{step}: {status}");
        let tag = list_etag().await;
        assert_ne!(Some(&tag), seen.last(), "{step}: the list ETag changed");
        let stale = send(&app, Method::GET, page, ("if-none-match", &seen[0]), None).await;
        assert_eq!(stale.status(), StatusCode::OK, "{step}: a stale tag is 200");
        seen.push(tag);
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_write_with_a_stale_if_match_is_412_with_the_current_task_and_writes_nothing(
    backend: Backend,
) {
    // Arrange: the task is at version 2; the client holds "1".
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "a").await;
    let id = task["id"].clone();
    let current = assert_json(
        app.update_task("alice", &id, &json!({"title": "theirs"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let path = TestApp::task_path("alice", &id);
    let toggle = format!("{path}/complete");
    let body = json!({"title": "mine", "description": null, "complete": false});

    for (method, path, body) in [
        (Method::PUT, path.as_str(), Some(&body)),
        (Method::PATCH, path.as_str(), Some(&body)),
        (Method::PATCH, toggle.as_str(), None),
        (Method::DELETE, path.as_str(), None),
    ] {
        // Act
        let resp = send(&app, method.clone(), path, ("if-match", "\"1\""), body).await;

        // Assert
        let (_, error) =
            assert_error(resp, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
        assert_eq!(error["task"], current, "{method} {path}");
    }
    let resp = app.get_task("alice", &id).await;
    assert_eq!(etag(&resp), "\"2\"");
    assert_eq!(assert_json(resp, StatusCode::OK).await, current);
}

#[apply(every_backend)]
#[tokio::test]
async fn if_match_accepts_the_current_tag_a_list_holding_it_or_a_star(backend: Backend) {
    // Arrange
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "a").await;
    let path = TestApp::task_path("alice", &task["id"]);

    for (n, value) in ["\"1\"", "\"9\", \"2\"", "*"].into_iter().enumerate() {
        // Act
        let resp = send(
            &app,
            Method::PATCH,
            &path,
            ("if-match", value),
            Some(&json!({"title": format!("t{n}")})),
        )
        .await;

        // Assert
        assert_eq!(resp.status(), StatusCode::OK, "If-Match: {value}");
        assert_eq!(etag(&resp), format!("\"{}\"", n + 2));
    }
    // A weak tag never matches strongly; a malformed value is a 400.
    let weak = send(&app, Method::DELETE, &path, ("if-match", "W/\"4\""), None).await;
    assert_error(weak, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    let malformed = send(&app, Method::DELETE, &path, ("if-match", "4"), None).await;
    assert_error(malformed, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let deleted = send(&app, Method::DELETE, &path, ("if-match", "\"4\""), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}

#[apply(every_backend)]
#[tokio::test]
async fn if_match_on_a_task_that_does_not_exist_is_404(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let path = TestApp::task_path("alice", 999_999);

    for value in ["*", "\"1\""] {
        let resp = send(&app, Method::DELETE, &path, ("if-match", value), None).await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[apply(every_backend)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_writers_holding_one_etag_exactly_one_wins_every_round(backend: Backend) {
    // Arrange: on PostgreSQL the two writers go to two instances on one database.
    let first = Arc::new(spawn_or_skip!(backend, |s| s.rate_limit.enabled = false));
    let second = match backend {
        Backend::Postgres => Arc::new(TestApp::start(first.settings.clone(), backend, None).await),
        Backend::Sqlite => first.clone(),
    };
    let task = first.create_task_ok("alice", "contended").await;
    let path = TestApp::task_path("alice", &task["id"]);

    for round in 0..100 {
        let tag = etag(&first.get_task("alice", &task["id"]).await);
        // Act: both send a write conditioned on the same tag at once; the kinds vary by round.
        let writes = [first.clone(), second.clone()].map(|app| {
            let (path, tag) = (path.clone(), tag.clone());
            tokio::spawn(async move {
                let (method, path, body) = match round % 3 {
                    0 => (Method::PATCH, path, Some(json!({"title": format!("r{round}")}))),
                    1 => (
                        Method::PUT,
                        path,
                        Some(json!({"title": format!("r{round}"), "description": null, "complete": false})),
                    ),
                    _ => (Method::PATCH, format!("{path}/complete"), None),
                };
                send(&app, method, &path, ("if-match", &tag), body.as_ref())
                    .await
                    .status()
            })
        });
        let mut statuses = Vec::new();
        for write in writes {
            statuses.push(write.await.unwrap());
        }
        statuses.sort();

        // Assert
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
            "round {round}"
        );
    }
    let last = assert_json(first.get_task("alice", &task["id"]).await, StatusCode::OK).await;
    assert_eq!(last["version"], 101, "one write per round");
}

#[apply(every_backend)]
#[tokio::test]
async fn a_feed_cursor_older_than_the_purged_tombstones_is_410_and_listing_again_recovers(
    backend: Backend,
) {
    // Arrange: tombstones kept one second, purged every second.
    let app = spawn_or_skip!(backend, |s| {
        s.sync.tombstone_retention_secs = 1;
        s.sync.purge_interval_secs = 1;
    });
    let kept = app.create_task_ok("alice", "kept").await;
    let list = assert_json(app.list_tasks("alice").await, StatusCode::OK).await;
    let old_cursor = list["sync_cursor"].as_str().unwrap().to_owned();
    let gone = app.create_task_ok("alice", "gone").await;
    assert_eq!(
        app.delete_task("alice", &gone["id"]).await.status(),
        StatusCode::NO_CONTENT
    );
    let feed = |cursor: String| {
        let app = &app;
        async move {
            app.authorized(
                Method::GET,
                &format!("/api/alice/changes?since={cursor}"),
                "alice",
            )
            .send()
            .await
            .unwrap()
        }
    };

    // Act: wait for the purge to take the tombstone (a few purge rounds at most).
    let mut expired = None;
    for _ in 0..100 {
        let resp = feed(old_cursor.clone()).await;
        if resp.status() != StatusCode::OK {
            expired = Some(resp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert: 410, then the documented recovery: list again and follow from its sync_cursor.
    let expired = expired.expect("the old cursor expired within 10 s");
    assert_error(expired, StatusCode::GONE, "CURSOR_EXPIRED").await;
    let relist = assert_json(app.list_tasks("alice").await, StatusCode::OK).await;
    let cursor = relist["sync_cursor"].as_str().unwrap().to_owned();
    assert_eq!(
        list_content(relist)["tasks"],
        json!([kept]),
        "the list is the client's new base"
    );
    let page = assert_json(feed(cursor).await, StatusCode::OK).await;
    assert_eq!(page["changes"], json!([]));
    assert_eq!(page["has_more"], false);
    // The 410 names a state, not a transient error: it stays 410.
    assert_error(feed(old_cursor).await, StatusCode::GONE, "CURSOR_EXPIRED").await;
}
