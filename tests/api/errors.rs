//! The error table: every status and `error_code` a client can receive, with its exact shape
//! and headers.

use std::time::Duration;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_database_unavailable, assert_error, every_backend, spawn_or_skip,
};

#[apply(every_backend)]
#[tokio::test]
async fn malformed_json_is_a_400_bad_request(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for raw in [
        "{",
        "{\"title\": }",
        "not json",
        "{\"title\": \"a\"} trailing",
    ] {
        let resp = app
            .client
            .post(app.url("/api/alice/tasks"))
            .bearer_auth(app.token("alice"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (_, body) = assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert!(
            body["detail"].as_str().unwrap().contains("malformed JSON"),
            "{raw}: {body}"
        );
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_missing_or_wrong_content_type_or_empty_body_is_a_400(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let url = app.url("/api/alice/tasks");
    let token = app.token("alice");

    let cases = [
        ("text/plain", "{\"title\": \"a\"}"),
        ("application/x-www-form-urlencoded", "title=a"),
        ("application/json", ""),
    ];
    for (content_type, raw) in cases {
        let resp = app
            .client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    let no_content_type = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body("{\"title\": \"a\"}")
        .send()
        .await
        .unwrap();
    assert_error(no_content_type, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(
        app.list_tasks("alice").await.json::<Value>().await.unwrap()["count"],
        0
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn a_patch_with_no_field_is_a_400_and_changes_nothing(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "unchanged").await;

    let resp = app.update_task("alice", &task["id"], &json!({})).await;

    assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let after: Value = app
        .get_task("alice", &task["id"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, task);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_request_without_a_bearer_token_is_a_401_auth_missing_with_a_bearer_challenge(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);

    let requests = [
        app.client.get(app.url("/api/alice/tasks")),
        app.client
            .post(app.url("/api/alice/tasks"))
            .json(&json!({"title": "x"})),
        app.client.get(app.url("/api/alice/tasks/1")),
        app.client.put(app.url("/api/alice/tasks/1")),
        app.client.patch(app.url("/api/alice/tasks/1")),
        app.client.patch(app.url("/api/alice/tasks/1/complete")),
        app.client.delete(app.url("/api/alice/tasks/1")),
        app.client
            .get(app.url("/api/alice/tasks"))
            .header("authorization", "Basic YWxpY2U6cHc="),
    ];
    for request in requests {
        let resp = request.send().await.unwrap();
        let (headers, _) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
}

fn sign(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[apply(every_backend)]
#[tokio::test]
async fn an_invalid_token_is_a_401_auth_invalid_with_an_invalid_token_challenge(backend: Backend) {
    use base64::Engine as _;
    use jsonwebtoken::Algorithm::{HS256, HS384};
    let app = spawn_or_skip!(backend);
    let secret = crate::support::TEST_SECRET;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let valid = app.token("alice");
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();

    let cases: Vec<(&str, String)> = vec![
        ("garbage", "not-a-jwt".into()),
        ("non-base64 segments", "@@@.###.$$$".into()),
        (
            "expired beyond leeway",
            sign(&json!({"sub": "alice", "exp": now() - 120}), HS256, secret),
        ),
        (
            "not yet valid",
            sign(
                &json!({"sub": "alice", "exp": now() + 3600, "nbf": now() + 600}),
                HS256,
                secret,
            ),
        ),
        (
            "issued in the future",
            sign(
                &json!({"sub": "alice", "exp": now() + 7200, "iat": now() + 3600}),
                HS256,
                secret,
            ),
        ),
        (
            "wrong algorithm",
            sign(&json!({"sub": "alice", "exp": now() + 3600}), HS384, secret),
        ),
        (
            "wrong secret",
            sign(
                &json!({"sub": "alice", "exp": now() + 3600}),
                HS256,
                "another-secret-of-sufficient-length-000000",
            ),
        ),
        ("no exp", sign(&json!({"sub": "alice"}), HS256, secret)),
        ("no sub", sign(&json!({"exp": now() + 3600}), HS256, secret)),
        (
            "empty sub",
            sign(&json!({"sub": "", "exp": now() + 3600}), HS256, secret),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&json!({"sub": "alice", "exp": now() + 3600}))
            ),
        ),
        (
            "tampered payload",
            format!(
                "{head}.{}.{sig}",
                b64(&json!({"sub": "alice", "exp": now() + 99999}))
            ),
        ),
        (
            "oversized",
            // Over the 8 KiB token limit, under the 16 KiB request head limit (431 above).
            format!("{}.{}.{sig}", head, "a".repeat(12 * 1024)),
        ),
    ];
    for (name, token) in cases {
        let resp = app
            .client
            .get(app.url("/api/alice/tasks"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        let (headers, _) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
        assert_eq!(
            headers["www-authenticate"], r#"Bearer error="invalid_token""#,
            "{name}"
        );
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_token_expired_within_the_leeway_is_still_accepted(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let token = sign(
        &json!({"sub": "alice", "exp": now() - 10}),
        jsonwebtoken::Algorithm::HS256,
        crate::support::TEST_SECRET,
    );

    let resp = app
        .client
        .get(app.url("/api/alice/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_path_user_other_than_the_token_subject_is_a_403_on_every_operation(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "mine").await;
    let id = task["id"].as_i64().unwrap();
    let bob = app.token("bob");

    let requests = [
        app.client.get(app.url("/api/alice/tasks")),
        app.client
            .post(app.url("/api/alice/tasks"))
            .json(&json!({"title": "x"})),
        app.client.get(app.url(&format!("/api/alice/tasks/{id}"))),
        app.client
            .put(app.url(&format!("/api/alice/tasks/{id}")))
            .json(&json!({"title": "x", "description": null, "complete": true})),
        app.client
            .patch(app.url(&format!("/api/alice/tasks/{id}")))
            .json(&json!({"title": "x"})),
        app.client
            .patch(app.url(&format!("/api/alice/tasks/{id}/complete"))),
        app.client
            .delete(app.url(&format!("/api/alice/tasks/{id}"))),
    ];
    for request in requests {
        let resp = request.bearer_auth(&bob).send().await.unwrap();
        assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
    }
    let after: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(after, task, "nothing changed");
}

#[apply(every_backend)]
#[tokio::test]
async fn an_unknown_task_is_a_404_for_every_task_operation(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for id in ["999999", "0", "-1", "9223372036854775807"] {
        assert_error(
            app.get_task("alice", id).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        let replace = app
            .replace_task(
                "alice",
                id,
                &json!({"title": "x", "description": null, "complete": false}),
            )
            .await;
        assert_error(replace, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        let update = app
            .update_task("alice", id, &json!({"complete": true}))
            .await;
        assert_error(update, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_error(
            app.toggle_task("alice", id).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            app.delete_task("alice", id).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_task_id_that_is_not_a_64_bit_integer_is_a_422_naming_the_parameter(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for id in [
        "abc",
        "1.5",
        "9223372036854775808",
        "99999999999999999999999",
    ] {
        let (_, body) = assert_error(
            app.get_task("alice", id).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(crate::support::error_locs(&body), ["path.task_id"], "{id}");
        let resp = app.delete_task("alice", id).await;
        assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    }
}

#[tokio::test]
async fn a_path_that_is_not_valid_utf8_is_a_400_in_the_error_shape() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();

    let resp = app
        .client
        .get(app.url("/api/%FF/tasks"))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();

    assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}

#[apply(every_backend)]
#[tokio::test]
async fn an_unknown_route_is_a_404_and_a_wrong_method_a_405(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for path in ["/nope", "/api", "/api/alice", "/api/alice/tasks/1/2/3"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let requests = [
        app.client.post(app.url("/health")),
        app.client.put(app.url("/api/alice/tasks")),
        app.client.post(app.url("/api/alice/tasks/1")),
        app.client.get(app.url("/api/alice/tasks/1/complete")),
    ];
    for request in requests {
        let resp = request
            .bearer_auth(app.token("alice"))
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_body_over_the_size_limit_is_a_413(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| s.server.max_body_bytes = 1024);
    let big = json!({"title": "x", "description": "d".repeat(2000)});

    let resp = app.create_task("alice", &big).await;

    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

/// Another connection holding the write lock: a `BEGIN IMMEDIATE` on the SQLite file, or an
/// `EXCLUSIVE` table lock in PostgreSQL (both still let readers through).
enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl WriteLock {
    async fn take(app: &TestApp) -> Self {
        match app.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(app.sqlite_path()).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                Self::Sqlite(conn)
            }
            Backend::Postgres => {
                let client = app.pg_schema().connect().await;
                client
                    .batch_execute("BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE")
                    .await
                    .unwrap();
                Self::Postgres(client)
            }
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(conn) => conn.execute_batch("ROLLBACK").unwrap(),
            Self::Postgres(client) => client.batch_execute("ROLLBACK").await.unwrap(),
        }
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_database_locked_past_the_timeout_is_a_503_with_retry_after_and_loses_nothing(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend, |s| {
        s.database.busy_timeout_ms = 200;
        s.database.statement_timeout_ms = 200;
    });
    let task = app.create_task_ok("alice", "kept").await;
    // Another process holds the write lock.
    let blocker = WriteLock::take(&app).await;

    let resp = app.create_task("alice", &json!({"title": "blocked"})).await;

    assert_database_unavailable(resp).await;
    // Reads still work, and once the lock is released writes succeed again.
    assert_eq!(
        app.get_task("alice", &task["id"]).await.status(),
        StatusCode::OK
    );
    blocker.release().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.create_task_ok("alice", "after").await;
    let list: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(list["count"], 2);
}

#[apply(every_backend)]
#[tokio::test]
async fn an_unexpected_database_failure_is_a_500_that_reveals_nothing(backend: Backend) {
    let app = spawn_or_skip!(backend);
    match backend {
        Backend::Sqlite => rusqlite::Connection::open(app.sqlite_path())
            .unwrap()
            .execute_batch("DROP TABLE tasks")
            .unwrap(),
        Backend::Postgres => app
            .pg_schema()
            .connect()
            .await
            .batch_execute("DROP TABLE tasks CASCADE")
            .await
            .unwrap(),
    }

    let resp = app.list_tasks("alice").await;

    let (_, body) = assert_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR").await;
    assert_eq!(body["detail"], "internal server error");
}
