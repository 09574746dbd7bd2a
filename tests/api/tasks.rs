//! The happy paths: every operation of the Tasks contract, with exact status, headers and body.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, assert_error, assert_json_content_type, assert_task_model, every_backend,
    list_content, spawn_or_skip,
};

#[apply(every_backend)]
#[tokio::test]
async fn creating_a_task_returns_201_with_the_task_and_its_location(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let resp = app
        .create_task(
            "alice",
            &json!({"title": "Buy milk", "description": "2 litres"}),
        )
        .await;

    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_json_content_type(resp.headers());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = resp.json().await.unwrap();
    assert_task_model(&task);
    assert_eq!(location, format!("/api/alice/tasks/{}", task["id"]));
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["complete"], false);
    assert_eq!(task["created_at"], task["updated_at"]);

    // The Location header points at the task.
    let fetched: Value = app
        .get_task("alice", &task["id"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, task);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_task_created_without_a_description_has_a_null_one(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for body in [
        json!({"title": "a"}),
        json!({"title": "b", "description": null}),
    ] {
        let resp = app.create_task("alice", &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let task: Value = resp.json().await.unwrap();
        assert_eq!(task["description"], Value::Null, "for {body}");
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn the_owner_is_the_authenticated_user_never_the_body(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // A `user_id` in the body is an unknown field, not a way to create tasks for others.
    let resp = app
        .create_task("alice", &json!({"title": "x", "user_id": "mallory"}))
        .await;

    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let list: Value = app.list_tasks("mallory").await.json().await.unwrap();
    assert_eq!(list["count"], 0);
}

#[apply(every_backend)]
#[tokio::test]
async fn listing_returns_the_users_tasks_ordered_by_id_with_a_count(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let empty: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(
        list_content(empty),
        json!({"tasks": [], "count": 0, "total": 0, "next_cursor": null})
    );

    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        ids.push(
            app.create_task_ok("alice", title).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    app.create_task_ok("bob", "not alice's").await;

    let resp = app.list_tasks("alice").await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_json_content_type(resp.headers());
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list["count"], 3);
    let listed: Vec<i64> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let titles: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["one", "two", "three"]);
}

#[apply(every_backend)]
#[tokio::test]
async fn replacing_a_task_sets_every_field_and_moves_updated_at_forward(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "draft").await;

    let resp = app
        .replace_task(
            "alice",
            &task["id"],
            &json!({"title": "final", "description": "with notes", "complete": true}),
        )
        .await;

    assert_eq!(resp.status(), StatusCode::OK);
    let replaced: Value = resp.json().await.unwrap();
    assert_task_model(&replaced);
    assert_eq!(replaced["id"], task["id"]);
    assert_eq!(replaced["title"], "final");
    assert_eq!(replaced["description"], "with notes");
    assert_eq!(replaced["complete"], true);
    assert_eq!(replaced["created_at"], task["created_at"]);
    assert!(replaced["updated_at"].as_str() > task["updated_at"].as_str());

    // Replacing with a null description clears it.
    let resp = app
        .replace_task(
            "alice",
            &task["id"],
            &json!({"title": "final", "description": null, "complete": false}),
        )
        .await;
    let cleared: Value = resp.json().await.unwrap();
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["complete"], false);
}

#[apply(every_backend)]
#[tokio::test]
async fn patching_changes_only_the_fields_sent(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let created: Value = app
        .create_task(
            "alice",
            &json!({"title": "milk", "description": "2 litres"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = &created["id"];

    let after_complete: Value = app
        .update_task("alice", id, &json!({"complete": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after_complete["complete"], true);
    assert_eq!(after_complete["title"], "milk");
    assert_eq!(after_complete["description"], "2 litres");

    let resp = app
        .update_task("alice", id, &json!({"title": "oat milk"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let after_title: Value = resp.json().await.unwrap();
    assert_eq!(after_title["title"], "oat milk");
    assert_eq!(after_title["complete"], true);
    assert_eq!(after_title["description"], "2 litres");

    let after_clear: Value = app
        .update_task("alice", id, &json!({"description": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after_clear["description"], Value::Null);
    assert_eq!(after_clear["title"], "oat milk");

    // Every modification moves updated_at strictly forward; created_at never changes.
    let stamps = [&created, &after_complete, &after_title, &after_clear]
        .map(|t| t["updated_at"].as_str().unwrap().to_owned());
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert_eq!(after_clear["created_at"], created["created_at"]);
}

#[apply(every_backend)]
#[tokio::test]
async fn toggling_flips_complete_each_time(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "flip me").await;

    let resp = app.toggle_task("alice", &task["id"]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let once: Value = resp.json().await.unwrap();
    assert_task_model(&once);
    assert_eq!(once["complete"], true);
    assert!(once["updated_at"].as_str() > task["updated_at"].as_str());

    let twice: Value = app
        .toggle_task("alice", &task["id"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(twice["complete"], false);
    assert_eq!(twice["title"], "flip me");
}

#[apply(every_backend)]
#[tokio::test]
async fn deleting_returns_204_with_an_empty_body_and_the_task_is_gone(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "temporary").await;

    let resp = app.delete_task("alice", &task["id"]).await;

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(
        app.get_task("alice", &task["id"]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete_task("alice", &task["id"]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn ids_are_never_reused_after_a_delete(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let first = app.create_task_ok("alice", "first").await["id"]
        .as_i64()
        .unwrap();
    let last = app.create_task_ok("alice", "last").await["id"]
        .as_i64()
        .unwrap();
    app.delete_task("alice", last).await;

    let next = app.create_task_ok("alice", "next").await["id"]
        .as_i64()
        .unwrap();

    assert!(next > last && last > first, "{first} < {last} < {next}");
}

#[apply(every_backend)]
#[tokio::test]
async fn health_reports_ok_without_authentication(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let resp = app.client.get(app.url("/health")).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    assert_json_content_type(resp.headers());
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "ok", "database": "ok"})
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn the_docs_and_the_document_are_served_without_authentication(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for (path, content_type) in [
        ("/openapi.json", "application/json"),
        ("/openapi.yaml", "application/x-yaml"),
        ("/docs", "text/html"),
        ("/rapidoc", "text/html"),
        ("/redoc", "text/html"),
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(content_type), "{path}: {ct}");
        let body = resp.text().await.unwrap();
        // Offline: the UIs embed their scripts rather than loading them from a CDN.
        assert!(
            !body.contains("cdn.jsdelivr") && !body.contains("unpkg.com"),
            "{path} loads from a CDN"
        );
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn cors_allows_the_front_end_origin(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/alice/tasks"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();

    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let methods = resp.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{m} in {methods}");
    }
    let headers = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let other = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/alice/tasks"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_error(other, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;

    // Errors carry CORS headers too, so the front end can read a 401.
    let unauthorized = app
        .client
        .get(app.url("/api/alice/tasks"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        unauthorized.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_error(unauthorized, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
}
