//! Rate limiting (`[rate_limit]`): the per-subject budget for valid tokens, the per-address budget
//! for requests without one, their 429 `RATE_LIMITED` answer and `Retry-After` /
//! `RateLimit-Policy` / `RateLimit` headers (also on the responses that pass), the routes that
//! are never limited, turning limiters off, and `X-Forwarded-For` only from trusted proxies.
//!
//! Budgets here refill at 1 request per second, so the exact header values hold as long as each
//! test's first few requests are sent within a second of each other. No store is involved beyond
//! serving the requests, so these run on SQLite only.

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::json;
use todo_api::config::Settings;

use crate::support::{Backend, TestApp, assert_error, assert_json, spawn_or_skip};

/// A budget of 3 requests at once, refilled at 1 per second, for valid tokens; 2 at once, 1 per
/// second, per address for requests without one.
fn tiny_budgets(s: &mut Settings) {
    s.rate_limit.user_per_second = 1;
    s.rate_limit.user_burst = 3;
    s.rate_limit.ip_per_second = 1;
    s.rate_limit.ip_burst = 2;
}

/// The `RateLimit-Policy` and `RateLimit` values of `resp`, `None` for a missing header.
fn budget_headers(resp: &Response) -> (Option<String>, Option<String>) {
    let value = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (value("ratelimit-policy"), value("ratelimit"))
}

fn expect(policy: &str, state: &str) -> (Option<String>, Option<String>) {
    (Some(policy.to_owned()), Some(state.to_owned()))
}

/// `GET /api/alice/tasks` with `token` (none when `None`).
fn list_as(app: &TestApp, token: Option<&str>) -> RequestBuilder {
    let req = app
        .client
        .request(Method::GET, app.url(&TestApp::tasks_path("alice")));
    match token {
        Some(token) => req.bearer_auth(token),
        None => req,
    }
}

/// Assert a 429 `RATE_LIMITED` with `Retry-After: 1` and the given budget headers.
async fn assert_rate_limited(resp: Response, policy: &str, state: &str) {
    assert_eq!(budget_headers(&resp), expect(policy, state));
    let (headers, body) = assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["detail"], "too many requests, retry in 1 s");
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
}

/// How many tasks alice has, read straight from the database (the API would spend budget).
async fn count_tasks(app: &TestApp) -> i64 {
    rusqlite::Connection::open(app.sqlite_path())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM tasks WHERE user_id = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn a_subject_over_its_budget_gets_429_with_retry_after_and_the_ratelimit_headers() {
    // Arrange
    let app = spawn_or_skip!(Backend::Sqlite, tiny_budgets);
    let token = app.token("alice");

    // Act + Assert: the burst passes, each response saying what is left...
    for (remaining, until_full) in [(2, 1), (1, 2), (0, 3)] {
        let resp = list_as(&app, Some(&token)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            budget_headers(&resp),
            expect(
                r#""user";q=3;w=3"#,
                &format!(r#""user";r={remaining};t={until_full}"#)
            )
        );
    }
    // ...then the next request is refused before it reaches the operation; its body is left
    // unread, so the connection is closed, and the client is told so.
    let refused = app
        .create_task("alice", &json!({"title": "over budget"}))
        .await;
    assert_eq!(refused.headers()[header::CONNECTION], "close");
    assert_rate_limited(refused, r#""user";q=3;w=3"#, r#""user";r=0;t=3"#).await;
    let refused = list_as(&app, Some(&token)).send().await.unwrap();
    assert!(refused.headers().get(header::CONNECTION).is_none());
    assert_rate_limited(refused, r#""user";q=3;w=3"#, r#""user";r=0;t=3"#).await;
    assert_eq!(
        count_tasks(&app).await,
        0,
        "the refused create wrote nothing"
    );

    // Another subject has a budget of its own.
    let bob = app.list_tasks("bob").await;
    assert_eq!(
        budget_headers(&bob),
        expect(r#""user";q=3;w=3"#, r#""user";r=2;t=1"#)
    );
    assert_json(bob, StatusCode::OK).await;
}

#[tokio::test]
async fn requests_without_a_valid_token_spend_the_address_budget_and_a_valid_token_does_not() {
    // Arrange
    let app = spawn_or_skip!(Backend::Sqlite, tiny_budgets);

    // Act + Assert: a missing and a forged token are 401s that spend the address budget...
    let missing = list_as(&app, None).send().await.unwrap();
    assert_eq!(
        budget_headers(&missing),
        expect(r#""ip";q=2;w=2"#, r#""ip";r=1;t=1"#)
    );
    assert_error(missing, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    let forged = list_as(&app, Some("not.a.token")).send().await.unwrap();
    assert_eq!(
        budget_headers(&forged),
        expect(r#""ip";q=2;w=2"#, r#""ip";r=0;t=2"#)
    );
    assert_error(forged, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;

    // ...so the next guess is refused without being checked, on REST and on /mcp.
    let guess = list_as(&app, Some("another.guess.here"))
        .send()
        .await
        .unwrap();
    assert_rate_limited(guess, r#""ip";q=2;w=2"#, r#""ip";r=0;t=2"#).await;
    let mcp = app
        .client
        .post(app.url("/mcp"))
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(mcp, r#""ip";q=2;w=2"#, r#""ip";r=0;t=2"#).await;

    // A valid token from the same address spends its subject's budget instead.
    let valid = app.list_tasks("alice").await;
    assert_eq!(
        budget_headers(&valid),
        expect(r#""user";q=3;w=3"#, r#""user";r=2;t=1"#)
    );
    assert_json(valid, StatusCode::OK).await;
}

#[tokio::test]
async fn mcp_calls_spend_the_subject_budget_shared_with_rest() {
    let app = spawn_or_skip!(Backend::Sqlite, tiny_budgets);
    let call = || {
        app.client
            .post(app.url("/mcp"))
            .bearer_auth(app.token("alice"))
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "list_tasks", "arguments": {}},
            }))
            .send()
    };

    let first = call().await.unwrap();
    assert_eq!(
        budget_headers(&first),
        expect(r#""user";q=3;w=3"#, r#""user";r=2;t=1"#)
    );
    let answer = assert_json(first, StatusCode::OK).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(app.list_tasks("alice").await.status(), StatusCode::OK);
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);

    assert_rate_limited(
        call().await.unwrap(),
        r#""user";q=3;w=3"#,
        r#""user";r=0;t=3"#,
    )
    .await;
}

#[tokio::test]
async fn health_docs_and_the_openapi_document_are_never_limited() {
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.ip_burst = 1;
    });
    for _ in 0..5 {
        for path in ["/health", "/openapi.json", "/docs/"] {
            let resp = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(budget_headers(&resp), (None, None), "{path}");
        }
    }
}

#[tokio::test]
async fn a_disabled_limiter_never_answers_429() {
    // Rate limiting off altogether: neither budget applies, and no headers are sent.
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.enabled = false;
    });
    for _ in 0..10 {
        let valid = app.list_tasks("alice").await;
        assert_eq!(budget_headers(&valid), (None, None));
        assert_eq!(valid.status(), StatusCode::OK);
        let forged = list_as(&app, Some("not.a.token")).send().await.unwrap();
        assert_eq!(budget_headers(&forged), (None, None));
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    }

    // Only the subject budget off (a rate of 0): valid tokens pass freely, guesses do not.
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.user_per_second = 0;
    });
    for _ in 0..10 {
        let valid = app.list_tasks("alice").await;
        assert_eq!(budget_headers(&valid), (None, None));
        assert_eq!(valid.status(), StatusCode::OK);
    }
    for expected in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let forged = list_as(&app, Some("not.a.token")).send().await.unwrap();
        assert_eq!(forged.status(), expected);
    }

    // Only the address budget off: guesses pass to a 401, valid tokens are limited.
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.ip_per_second = 0;
    });
    for _ in 0..10 {
        let forged = list_as(&app, Some("not.a.token")).send().await.unwrap();
        assert_eq!(budget_headers(&forged), (None, None));
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    }
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        assert_eq!(app.list_tasks("alice").await.status(), expected);
    }
}

/// A request without a token claiming to come from `client`.
async fn anonymous_from(app: &TestApp, client: &str) -> StatusCode {
    list_as(app, None)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // Not trusted (the default): every claimed address is the test client's own, one budget.
    let app = spawn_or_skip!(Backend::Sqlite, tiny_budgets);
    assert_eq!(
        anonymous_from(&app, "203.0.113.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous_from(&app, "203.0.113.2").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous_from(&app, "203.0.113.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Another proxy is trusted, not this peer: still ignored.
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.trusted_proxies = vec!["10.0.0.0/8".into()];
    });
    for expected in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        assert_eq!(anonymous_from(&app, "203.0.113.9").await, expected);
    }

    // The peer (127.0.0.1) is a trusted proxy: each forwarded client has its own budget.
    let app = spawn_or_skip!(Backend::Sqlite, |s| {
        tiny_budgets(s);
        s.rate_limit.trusted_proxies = vec!["127.0.0.1".into()];
    });
    for client in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        assert_eq!(
            anonymous_from(&app, client).await,
            StatusCode::UNAUTHORIZED,
            "{client}"
        );
    }
    assert_eq!(
        anonymous_from(&app, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The rightmost untrusted entry counts, not what the client wrote on the left.
    assert_eq!(
        anonymous_from(&app, "198.51.100.7, 203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        anonymous_from(&app, "203.0.113.2, 198.51.100.7").await,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn bad_rate_limit_settings_are_configuration_errors() {
    let mut settings = Settings::default();
    settings.rate_limit.trusted_proxies = vec!["10.0.0.0/33".into()];
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("rate_limit.trusted_proxies"), "{err}");

    let mut settings = Settings::default();
    settings.rate_limit.user_burst = 0;
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("rate_limit.user_burst"), "{err}");
}
