//! Better Auth's JWKS path, against a JWKS served from this test over real HTTP: every algorithm
//! Better Auth can issue verifies; forged, mismatched and malformed tokens are 401s (never 500s);
//! keys rotate without a restart; an unreachable issuer means 503 until its keys can be had, and
//! cached keys afterwards; a flood of unknown `kid`s cannot make us hammer the issuer.

use std::time::{Duration, Instant};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};
use todo_api::config::DEV_SECRET;

use crate::support::{
    Backend, TEST_SECRET, TestApp, assert_error,
    jwks::{JwksServer, spawn_app},
    keys::{Alg, TestKey, b64, better_auth_claims, jwks_of, now, random_kid},
    process::todo_api,
};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn list_tasks(app: &TestApp, user: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/{user}/tasks")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn assert_accepted(app: &TestApp, user: &str, token: &str, what: &str) {
    let resp = list_tasks(app, user, token).await;
    assert_eq!(resp.status(), StatusCode::OK, "{what}");
    let body: Value = resp.json().await.unwrap();
    assert!(body["tasks"].is_array(), "{what}: {body}");
}

/// 401 `AUTH_INVALID` with the JSON error body and `WWW-Authenticate: Bearer error="invalid_token"`.
async fn assert_invalid(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
    let (headers, body) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    assert_eq!(
        headers["www-authenticate"], r#"Bearer error="invalid_token""#,
        "{what}"
    );
    assert_eq!(body["detail"], "invalid or expired token", "{what}");
}

/// 503 `AUTH_UNAVAILABLE` with `Retry-After`.
async fn assert_unavailable(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let (headers, _) =
        assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "AUTH_UNAVAILABLE").await;
    assert_eq!(headers["retry-after"], "1", "{what}");
}

/// Poll until `token` gets `status`, or panic after `within`.
async fn wait_for_status(
    app: &TestApp,
    token: &str,
    status: StatusCode,
    within: Duration,
    what: &str,
) {
    let deadline = Instant::now() + within;
    loop {
        let got = list_tasks(app, "alice", token).await.status();
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {got} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hs256(input: &str, key: &[u8]) -> String {
    jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_valid_token_of_every_algorithm_better_auth_can_issue_is_accepted() {
    let keys: Vec<TestKey> = Alg::ALL
        .iter()
        .enumerate()
        .map(|(i, alg)| TestKey::generate(*alg, i))
        .collect();
    let jwks = JwksServer::started(&keys.iter().collect::<Vec<_>>()).await;
    let app = spawn_app(&jwks, |_| {}).await;
    let issuer = jwks.base_url();

    for key in &keys {
        let token = key.token(&better_auth_claims(&issuer, "alice"));

        assert_accepted(&app, "alice", &token, key.alg.name()).await;
        let created = app
            .client
            .post(app.url("/api/alice/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("signed with {}", key.alg.name())}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{}", key.alg.name());
        let task: Value = created.json().await.unwrap();
        assert_eq!(task["user_id"], "alice");
        // The subject may act only on its own tasks.
        let other = list_tasks(&app, "bob", &token).await;
        assert_error(other, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
    }

    // `aud` may be a list; one entry must be ours.
    let mut claims = better_auth_claims(&issuer, "alice");
    claims["aud"] = json!(["https://other.example", issuer]);
    assert_accepted(&app, "alice", &keys[0].token(&claims), "aud list").await;
}

#[rstest]
#[case::eddsa(Alg::EdDsa)]
#[case::es256(Alg::Es256)]
#[case::es512(Alg::Es512)]
#[case::rs256(Alg::Rs256)]
#[case::ps256(Alg::Ps256)]
#[tokio::test]
async fn forged_mismatched_and_malformed_tokens_are_401s_with_an_invalid_token_challenge(
    #[case] alg: Alg,
) {
    // Arrange: the JWKS publishes `key` and one key of every other type.
    let key = TestKey::generate(alg, 0);
    let impostor = TestKey::generate(alg, 1);
    let others: Vec<TestKey> = Alg::ALL
        .iter()
        .filter(|a| **a != alg)
        .enumerate()
        .map(|(i, a)| TestKey::generate(*a, i + 2))
        .collect();
    let mut published: Vec<&TestKey> = vec![&key];
    published.extend(others.iter());
    let jwks = JwksServer::started(&published).await;
    let app = spawn_app(&jwks, |_| {}).await;
    let iss = jwks.base_url();
    let claims = better_auth_claims(&iss, "alice");
    let header = json!({"alg": alg.name(), "kid": key.kid});
    let valid = key.token(&claims);
    assert_accepted(&app, "alice", &valid, "the untouched token").await;
    let (valid_head, rest) = valid.split_once('.').unwrap();
    let valid_sig = rest.split_once('.').unwrap().1;
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            match v {
                Value::Null => {
                    c.as_object_mut().unwrap().remove(k);
                }
                v => c[k] = v.clone(),
            }
        }
        key.token(&c)
    };
    let unsigned_input =
        |header: Value| format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let far = 10 * 365 * 24 * 3600;

    let mut cases: Vec<(String, String)> = vec![
        (
            "tampered payload",
            format!(
                "{valid_head}.{}.{valid_sig}",
                b64(with_exp(&claims, now() + 99_999).to_string())
            ),
        ),
        ("signature by another key under this kid", impostor.sign_token(alg, &header, &claims)),
        ("signature bytes flipped", {
            let mut sig = URL_SAFE_NO_PAD.decode(valid_sig).unwrap();
            sig[5] ^= 0x01;
            format!("{}.{}", valid.rsplit_once('.').unwrap().0, b64(sig))
        }),
        (
            "unknown kid",
            key.sign_token(alg, &json!({"alg": alg.name(), "kid": random_kid()}), &claims),
        ),
        ("no kid", key.sign_token(alg, &json!({"alg": alg.name()}), &claims)),
        ("alg none", format!("{}.", unsigned_input(json!({"alg": "none", "kid": key.kid})))),
        ("alg none, bogus signature", format!("{}.{valid_sig}", unsigned_input(json!({"alg": "none", "kid": key.kid})))),
        ("HS256 keyed with the public key's bytes", {
            let input = unsigned_input(json!({"alg": "HS256", "kid": key.kid}));
            let sig = hs256(&input, &key.public_bytes());
            format!("{input}.{sig}")
        }),
        ("HS256 keyed with the public JWK", {
            let input = unsigned_input(json!({"alg": "HS256", "kid": key.kid}));
            let sig = hs256(&input, key.jwk().to_string().as_bytes());
            format!("{input}.{sig}")
        }),
        ("expired", with(json!({"iat": now() - 4500, "exp": now() - 3600}))),
        (
            "iat and exp far in the future, exp before iat",
            with(json!({"iat": now() + far, "exp": now() + far - 900})),
        ),
        ("iat far in the future", with(json!({"iat": now() + far, "exp": now() + far + 900}))),
        ("not yet valid (nbf)", with(json!({"nbf": now() + 3600}))),
        ("wrong iss", with(json!({"iss": "https://evil.example"}))),
        ("no iss", with(json!({"iss": null}))),
        ("wrong aud", with(json!({"aud": "https://evil.example"}))),
        ("aud list without ours", with(json!({"aud": ["https://a.example", "https://b.example"]}))),
        ("missing sub", with(json!({"sub": null}))),
        ("empty sub", with(json!({"sub": ""}))),
        // Over the 8 KiB token limit, under the 16 KiB request head limit (431 above).
        ("12 KB token", with(json!({"padding": "x".repeat(9 * 1024)}))),
        ("non-base64 garbage", "@@@.###.$$$".into()),
        ("not a JWT", "not-a-jwt".into()),
        ("base64 garbage", format!("{}.{}.{}", b64([0xff; 40]), b64([0xfe; 40]), b64([1; 64]))),
        ("padded base64url", format!("{valid}=")),
        ("crit header", key.sign_token(alg, &json!({"alg": alg.name(), "kid": key.kid, "crit": ["exp"]}), &claims)),
        ("jku header does not fetch keys", key.sign_token(alg, &json!({"alg": alg.name(), "kid": random_kid(), "jku": format!("{iss}/api/auth/jwks")}), &claims)),
    ]
    .into_iter()
    .map(|(name, token): (&str, String)| (name.to_owned(), token))
    .collect();
    for other in &others {
        // A published key of another type (or, for RSA, declared for the other RSA algorithm).
        cases.push((
            format!("kid of the published {} key", other.alg.name()),
            key.sign_token(alg, &json!({"alg": alg.name(), "kid": other.kid}), &claims),
        ));
    }
    if matches!(alg, Alg::Rs256 | Alg::Ps256) {
        // The JWK declares one RSA algorithm; the other one is refused with this key.
        let swapped = if alg == Alg::Rs256 {
            Alg::Ps256
        } else {
            Alg::Rs256
        };
        cases.push((
            "RSA key used with the algorithm it does not declare".into(),
            key.sign_token(
                swapped,
                &json!({"alg": swapped.name(), "kid": key.kid}),
                &claims,
            ),
        ));
    }

    for (name, token) in cases {
        // Act
        let resp = list_tasks(&app, "alice", &token).await;
        // Assert
        assert_invalid(resp, &format!("{}: {name}", alg.name())).await;
    }
    assert_accepted(&app, "alice", &valid, "the untouched token, still").await;
}

fn with_exp(claims: &Value, exp: i64) -> Value {
    let mut c = claims.clone();
    c["exp"] = json!(exp);
    c
}

#[tokio::test]
async fn an_hs256_token_is_checked_only_against_the_secret_never_a_public_key() {
    let key = TestKey::generate(Alg::EdDsa, 0);
    let jwks = JwksServer::started(&[&key]).await;
    let app = spawn_app(&jwks, |s| s.auth.secret = Some(TEST_SECRET.into())).await;
    let iss = jwks.base_url();
    let claims = better_auth_claims(&iss, "alice");
    let input = |kid: &str| {
        format!(
            "{}.{}",
            b64(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string()),
            b64(claims.to_string())
        )
    };

    // Signed with the secret: accepted, whatever kid it names.
    let good = input(&key.kid);
    assert_accepted(
        &app,
        "alice",
        &format!("{good}.{}", hs256(&good, TEST_SECRET.as_bytes())),
        "HS256 with the secret",
    )
    .await;
    // Keyed with the public key: refused, even though the kid names it.
    for (what, secret) in [
        ("public key bytes", key.public_bytes()),
        ("public JWK", key.jwk().to_string().into_bytes()),
    ] {
        let token = format!("{good}.{}", hs256(&good, &secret));
        assert_invalid(list_tasks(&app, "alice", &token).await, what).await;
    }
    // And an EdDSA token is never checked against the secret.
    let header = b64(json!({"alg": "EdDSA", "kid": key.kid}).to_string());
    let forged = format!(
        "{header}.{}.{}",
        b64(claims.to_string()),
        hs256(
            &format!("{header}.{}", b64(claims.to_string())),
            TEST_SECRET.as_bytes()
        )
    );
    assert_invalid(
        list_tasks(&app, "alice", &forged).await,
        "EdDSA header, HMAC signature",
    )
    .await;
}

#[tokio::test]
async fn the_development_secret_is_not_trusted_once_a_jwks_is_configured() {
    let key = TestKey::generate(Alg::EdDsa, 0);
    let jwks = JwksServer::started(&[&key]).await;
    let app = spawn_app(&jwks, |s| s.auth.secret = Some(DEV_SECRET.into())).await;
    let iss = jwks.base_url();
    let claims = better_auth_claims(&iss, "alice");
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.to_string())
    );

    let dev_signed = format!("{input}.{}", hs256(&input, DEV_SECRET.as_bytes()));

    assert_invalid(list_tasks(&app, "alice", &dev_signed).await, "dev secret").await;
    assert_accepted(&app, "alice", &key.token(&claims), "EdDSA").await;
}

#[rstest]
#[case::eddsa(Alg::EdDsa)]
#[case::es512(Alg::Es512)]
#[case::ps256(Alg::Ps256)]
#[tokio::test]
async fn keys_rotate_without_a_restart(#[case] alg: Alg) {
    // Arrange
    let old = TestKey::generate(alg, 0);
    let new = TestKey::generate(alg, 1);
    let jwks = JwksServer::started(&[&old]).await;
    let app = spawn_app(&jwks, |s| s.auth.jwks_refresh_secs = 1).await;
    let iss = jwks.base_url();
    let by_old = old.token(&better_auth_claims(&iss, "alice"));
    let by_new = new.token(&better_auth_claims(&iss, "alice"));
    assert_accepted(&app, "alice", &by_old, "old key").await;

    // A new key is published next to the old one (Better Auth's grace period): its tokens are
    // accepted at once, because an unknown kid triggers a refetch.
    jwks.publish(&[&new, &old]);
    assert_accepted(&app, "alice", &by_new, "new key, just published").await;
    assert_accepted(&app, "alice", &by_old, "old key, in its grace period").await;

    // The old key is withdrawn: its tokens stop verifying after the next scheduled refresh.
    jwks.publish(&[&new]);
    wait_for_status(
        &app,
        &by_old,
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(5),
        "withdrawn key",
    )
    .await;
    assert_invalid(list_tasks(&app, "alice", &by_old).await, "withdrawn key").await;
    assert_accepted(&app, "alice", &by_new, "new key").await;
}

#[tokio::test]
async fn while_the_issuer_is_down_asymmetric_tokens_get_503s_and_cached_keys_outlive_it() {
    // Arrange: the issuer is down when the server starts; HS256 is configured too.
    let key = TestKey::generate(Alg::EdDsa, 0);
    let mut jwks = JwksServer::stopped(&[&key]);
    let app = spawn_app(&jwks, |s| {
        s.auth.secret = Some(TEST_SECRET.into());
        s.auth.jwks_refresh_secs = 1;
        s.auth.jwks_refetch_cooldown_secs = 1;
    })
    .await;
    let token = key.token(&better_auth_claims(&jwks.base_url(), "alice"));
    let hs256_token = todo_api::auth::dev_token::mint_hs256(
        &TEST_SECRET.into(),
        "alice",
        Duration::from_secs(600),
        app.settings.auth.expected_issuer().as_deref(),
        &app.settings.auth.expected_audience(),
    )
    .unwrap();

    // Act + Assert: no keys yet, so 503 (retry later), never 401 or 500; HS256 is unaffected.
    for _ in 0..3 {
        assert_unavailable(
            list_tasks(&app, "alice", &token).await,
            "issuer down at start",
        )
        .await;
    }
    assert_accepted(
        &app,
        "alice",
        &hs256_token,
        "HS256 while the issuer is down",
    )
    .await;

    // The issuer comes up: its keys are picked up within the refresh interval.
    jwks.start().await;
    wait_for_status(
        &app,
        &token,
        StatusCode::OK,
        Duration::from_secs(5),
        "issuer up",
    )
    .await;

    // The issuer goes down again: the cached keys keep working.
    jwks.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // at least one failed refresh
    for _ in 0..3 {
        assert_accepted(&app, "alice", &token, "cached key, issuer down").await;
    }
    // A key we have never seen cannot be checked while the issuer is down: 503, not 401.
    let unseen = TestKey::generate(Alg::EdDsa, 1);
    let unseen_token = unseen.token(&better_auth_claims(&jwks.base_url(), "alice"));
    assert_unavailable(
        list_tasks(&app, "alice", &unseen_token).await,
        "unseen key, issuer down",
    )
    .await;
}

#[tokio::test]
async fn a_flood_of_random_kids_causes_at_most_a_handful_of_jwks_fetches() {
    let key = TestKey::generate(Alg::EdDsa, 0);
    let jwks = JwksServer::started(&[&key]).await;
    // The address budget would answer most of the flood 429 before any key lookup; this test is
    // about the JWKS cache behind it, so that budget is off.
    let app = spawn_app(&jwks, |s| {
        s.auth.jwks_refetch_cooldown_secs = 30;
        s.rate_limit.ip_per_second = 0;
    })
    .await;
    let iss = jwks.base_url();
    let claims = better_auth_claims(&iss, "alice");
    assert_accepted(&app, "alice", &key.token(&claims), "before the flood").await;
    let before = jwks.hits();

    // 1000 requests, 50 at a time, each naming a random kid.
    let started = Instant::now();
    let url = app.url("/api/alice/tasks");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let token = key.sign_token(
                Alg::EdDsa,
                &json!({"alg": "EdDSA", "kid": random_kid()}),
                &claims,
            );
            let request = app.client.get(&url).bearer_auth(token);
            batch.spawn(async move { request.send().await.unwrap().status() });
        }
        statuses.extend(batch.join_all().await);
    }

    let fetches = jwks.hits() - before;
    let _ = writeln_stderr(&format!(
        "kid flood: 1000 requests in {:?}, {fetches} JWKS fetch(es)",
        started.elapsed()
    ));
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "every random kid is a 401"
    );
    assert!(fetches <= 2, "{fetches} JWKS fetches for 1000 unknown kids");
    assert_accepted(&app, "alice", &key.token(&claims), "after the flood").await;
}

fn writeln_stderr(message: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    writeln!(std::io::stderr().lock(), "{message}")
}

#[tokio::test]
async fn an_issuer_that_never_answers_times_out_into_a_503() {
    // A listener that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            connections.push(socket);
        }
    });
    let key = TestKey::generate(Alg::EdDsa, 0);
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.secret = None;
        s.auth.better_auth_url = Some(format!("http://127.0.0.1:{port}"));
        s.auth.jwks_timeout_secs = 1;
    })
    .await
    .unwrap();
    let token = key.token(&better_auth_claims(
        &format!("http://127.0.0.1:{port}"),
        "alice",
    ));

    let started = Instant::now();
    let resp = list_tasks(&app, "alice", &token).await;

    assert_unavailable(resp, "silent issuer").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test]
async fn an_oversized_or_broken_jwks_is_refused_and_the_last_good_keys_stay() {
    let old = TestKey::generate(Alg::Es256, 0);
    let new = TestKey::generate(Alg::Es256, 1);
    let jwks = JwksServer::started(&[&old]).await;
    let app = spawn_app(&jwks, |s| {
        s.auth.jwks_max_bytes = 4096;
        s.auth.jwks_refetch_cooldown_secs = 0;
    })
    .await;
    let iss = jwks.base_url();
    let by_old = old.token(&better_auth_claims(&iss, "alice"));
    let by_new = new.token(&better_auth_claims(&iss, "alice"));
    assert_accepted(&app, "alice", &by_old, "before").await;

    let mut oversized = jwks_of(&[&new, &old]);
    oversized["padding"] = json!("x".repeat(8 * 1024));
    for (what, body) in [
        ("oversized", oversized.to_string()),
        ("not JSON", "<html>Bad gateway</html>".to_owned()),
        ("not a JWKS", json!({"keys": "none"}).to_string()),
    ] {
        jwks.publish_raw(body);
        // The new key cannot be had, so its token cannot be checked: 503. The old one still works.
        assert_unavailable(list_tasks(&app, "alice", &by_new).await, what).await;
        assert_accepted(&app, "alice", &by_old, what).await;
    }
    jwks.publish(&[&new, &old]);
    assert_accepted(&app, "alice", &by_new, "after a good JWKS").await;
}

#[tokio::test]
async fn an_offline_jwks_file_verifies_tokens_and_is_re_read_for_new_keys() {
    let first = TestKey::generate(Alg::Es512, 0);
    let second = TestKey::generate(Alg::Es512, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks_of(&[&first]).to_string()).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.secret = None;
        s.auth.jwks_path = Some(path.clone());
        s.auth.issuer = Some("https://auth.example".into());
        s.auth.audience = vec!["todo-api".into()];
        s.auth.jwks_refetch_cooldown_secs = 0;
    })
    .await
    .unwrap();
    let claims = json!({"sub": "alice", "iat": now(), "exp": now() + 900, "iss": "https://auth.example", "aud": ["todo-api"]});

    assert_accepted(&app, "alice", &first.token(&claims), "key in the file").await;
    assert_invalid(
        list_tasks(&app, "alice", &second.token(&claims)).await,
        "key not in the file",
    )
    .await;
    std::fs::write(&path, jwks_of(&[&first, &second]).to_string()).unwrap();
    assert_accepted(
        &app,
        "alice",
        &second.token(&claims),
        "key added to the file",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The binary: refusing to start, and the offline development loop with `token --ed25519-key`

#[test]
fn without_a_secret_or_a_jwks_source_the_server_refuses_to_start_and_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "[server]\nport = 0\n").unwrap();

    let out = todo_api(dir.path())
        .env("BETTER_AUTH_SECRET", "")
        .output()
        .unwrap();

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "no way to verify tokens",
        "BETTER_AUTH_URL",
        "BETTER_AUTH_SECRET",
        "auth.jwks_path",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "it never listened"
    );
}

#[tokio::test]
async fn the_token_command_signs_with_a_local_ed25519_key_whose_printed_jwks_the_server_trusts() {
    // Arrange: a config with only the JWKS file (no secret, no network).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[auth]\nsecret = \"\"\njwks_path = \"dev-jwks.json\"\n",
    )
    .unwrap();

    // Act: print the JWKS (creating the key), then mint a token with the same key.
    let jwks = todo_api(dir.path())
        .args(["token", "--ed25519-key", "dev-key.pem", "--jwks"])
        .output()
        .unwrap();
    assert!(
        jwks.status.success(),
        "{}",
        String::from_utf8_lossy(&jwks.stderr)
    );
    assert!(String::from_utf8_lossy(&jwks.stderr).contains("created a new Ed25519 key"));
    std::fs::write(dir.path().join("dev-jwks.json"), &jwks.stdout).unwrap();
    let minted = todo_api(dir.path())
        .args([
            "token",
            "--user",
            "alice",
            "--ttl",
            "10m",
            "--ed25519-key",
            "dev-key.pem",
        ])
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();

    // Assert: the token is Better Auth-shaped, and a server on that JWKS file accepts it.
    let document: Value = serde_json::from_slice(&jwks.stdout).unwrap();
    let jwk = &document["keys"][0];
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(jwk.get("d").is_none(), "the JWKS holds no private key");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg": "EdDSA", "kid": jwk["kid"]}));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("dev-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the private key is readable by its owner only"
        );
    }
    let jwks_path = dir.path().join("dev-jwks.json");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.secret = None;
        s.auth.jwks_path = Some(jwks_path);
    })
    .await
    .unwrap();
    assert_accepted(&app, "alice", &token, "dev EdDSA token").await;
    // The HS256 path is not configured here.
    assert_invalid(
        list_tasks(&app, "alice", &app_hs256_token()).await,
        "HS256 without a secret",
    )
    .await;
}

fn app_hs256_token() -> String {
    todo_api::auth::dev_token::mint_hs256(
        &TEST_SECRET.into(),
        "alice",
        Duration::from_secs(600),
        None,
        &[],
    )
    .unwrap()
}

#[test]
fn better_auth_url_and_the_algorithm_list_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let mint = |algorithms: &str| {
        todo_api(dir.path())
            .env("BETTER_AUTH_URL", "https://app.example/")
            .env("TODO_AUTH__ALGORITHMS", algorithms)
            .args(["token", "--user", "alice", "--ed25519-key", "k.pem"])
            .output()
            .unwrap()
    };

    let ok = mint("EdDSA, ES512");
    let unknown = mint("EdDSA,HS384");

    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let token = String::from_utf8(ok.stdout).unwrap();
    let payload = token.trim().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        claims["iss"], "https://app.example",
        "the origin, no trailing slash"
    );
    assert_eq!(claims["aud"], "https://app.example");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("HS384") && stderr.to_lowercase().contains("auth.algorithms"),
        "{stderr}"
    );
}
