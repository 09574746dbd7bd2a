//! Interoperability with the real thing: `interop/better-auth-issuer.mjs` runs the real
//! better-auth package (memory adapter, `jwt` plugin) on 127.0.0.1, signs a user up and hands us
//! the token Better Auth issued; our server, pointed at it with `BETTER_AUTH_URL` alone, must
//! accept that token through Better Auth's own JWKS endpoint.
//!
//! Needs `node` and `interop/node_modules` (`npm ci --prefix interop`, which `.ci/run` does);
//! without them each test says loudly that it was skipped.

use std::sync::OnceLock;

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_error,
    better_auth::{Issuer, missing_prerequisite},
    list_content,
    skip::announce_once,
};

#[rstest]
#[case::eddsa_the_default("EdDSA")]
#[case::es256("ES256")]
#[case::es512("ES512")]
#[case::rs256("RS256")]
#[case::ps256("PS256")]
#[tokio::test]
async fn a_token_issued_by_the_real_better_auth_is_accepted_through_its_jwks(#[case] alg: &str) {
    static SKIPPED: OnceLock<()> = OnceLock::new();
    if let Some(reason) = missing_prerequisite() {
        announce_once(
            &SKIPPED,
            &format!(
                "SKIPPED: the real Better Auth interop tests (tests/api/better_auth.rs): {reason}."
            ),
        );
        return;
    }
    // Arrange: the real issuer, and our server configured with BETTER_AUTH_URL only.
    let issuer = Issuer::start(alg).await;
    let issued = &issuer.issued;
    assert_eq!(issued.alg, alg);
    assert_eq!(
        issued.jwks_url,
        format!("{}/api/auth/jwks", issued.base_url)
    );
    let base_url = issued.base_url.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.auth.secret = None;
        s.auth.better_auth_url = Some(base_url);
    })
    .await
    .unwrap();
    let user = &issued.user_id;

    // Act
    let list = app
        .client
        .get(app.url(&format!("/api/{user}/tasks")))
        .bearer_auth(&issued.token)
        .send()
        .await
        .unwrap();
    let create = app
        .client
        .post(app.url(&format!("/api/{user}/tasks")))
        .bearer_auth(&issued.token)
        .json(&json!({"title": format!("from Better Auth ({alg})")}))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(list.status(), StatusCode::OK, "{alg}");
    assert_eq!(
        list_content(list.json::<Value>().await.unwrap()),
        json!({"tasks": [], "count": 0, "total": 0, "next_cursor": null})
    );
    assert_eq!(create.status(), StatusCode::CREATED, "{alg}");
    assert_eq!(
        create.json::<Value>().await.unwrap()["user_id"],
        json!(user)
    );
    let other = app
        .client
        .get(app.url("/api/someone-else/tasks"))
        .bearer_auth(&issued.token)
        .send()
        .await
        .unwrap();
    assert_error(other, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
    // The same token with one signature byte changed is refused.
    let (signed, signature) = issued.token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{flipped}{}", &signature[1..]);
    let resp = app
        .client
        .get(app.url(&format!("/api/{user}/tasks")))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    let (headers, _) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
}
