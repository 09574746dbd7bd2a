//! Request ids: echoed on every response, generated when the client sends none or an odd one, and
//! quoted in every error body.

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::json;

use crate::support::{Backend, assert_error, every_backend, spawn_or_skip};

#[apply(every_backend)]
#[tokio::test]
async fn a_sane_client_request_id_is_echoed_on_success_and_in_error_bodies(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let ok = app
        .authorized(Method::GET, "/api/alice/tasks", "alice")
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["x-request-id"], "trace-42.a_b");

    let invalid = app
        .authorized(Method::POST, "/api/alice/tasks", "alice")
        .header("x-request-id", "trace-43")
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    let (headers, body) = assert_error(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(headers["x-request-id"], "trace-43");
    assert_eq!(body["request_id"], "trace-43");

    let unauthenticated = app
        .client
        .get(app.url("/api/alice/tasks"))
        .header("x-request-id", "trace-44")
        .send()
        .await
        .unwrap();
    let (_, body) = assert_error(unauthenticated, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    assert_eq!(body["request_id"], "trace-44");

    let no_route = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "trace-45")
        .send()
        .await
        .unwrap();
    let (_, body) = assert_error(no_route, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(body["request_id"], "trace-45");
}

#[apply(every_backend)]
#[tokio::test]
async fn a_missing_or_odd_request_id_is_replaced_by_a_generated_one(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let too_long = "a".repeat(129);
    let longest = "b".repeat(128);

    let mut generated = Vec::new();
    for sent in [None, Some(""), Some("has space"), Some(too_long.as_str())] {
        let mut request = app.client.get(app.url("/health"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "a generated id for {sent:?}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_ne!(Some(id.as_str()), sent);
        generated.push(id);
    }
    generated.sort();
    generated.dedup();
    assert_eq!(generated.len(), 4, "every generated id is new");

    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", &longest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["x-request-id"],
        longest.as_str(),
        "128 characters are kept"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn with_request_ids_off_nothing_is_generated_or_echoed(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| s.server.request_ids = false);
    let ok = app
        .authorized(Method::GET, "/api/alice/tasks", "alice")
        .header("x-request-id", "trace-44")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(!ok.headers().contains_key("x-request-id"));
    let missing = app
        .client
        .get(app.url("/api/alice/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(!missing.headers().contains_key("x-request-id"));
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["request_id"], "-");
}
