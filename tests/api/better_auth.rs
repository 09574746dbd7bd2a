//! Interoperability with the real thing: `interop/better-auth-issuer.mjs` runs the real
//! better-auth package (memory adapter, `jwt` plugin) on 127.0.0.1, signs a user up and hands us
//! the token Better Auth issued; our server, pointed at it with `BETTER_AUTH_URL` alone, must
//! accept that token through Better Auth's own JWKS endpoint.
//!
//! Needs `node` and `interop/node_modules` (`npm ci --prefix interop`, which `.ci/run` does);
//! without them each test says loudly that it was skipped.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::Duration,
};

use reqwest::StatusCode;
use rstest::rstest;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::{Backend, TestApp, announce_once, assert_error};

/// The one line the issuer prints on stdout.
#[derive(Debug, Deserialize)]
struct Issued {
    token: String,
    jwks_url: String,
    base_url: String,
    user_id: String,
    alg: String,
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Why the real issuer cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("`node` is not installed".into());
    }
    if !interop_dir().join("node_modules/better-auth").is_dir() {
        return Some("interop/node_modules is missing (run `npm ci --prefix interop`)".into());
    }
    None
}

/// The real Better Auth issuer, killed when dropped (its stdin closing stops it too).
struct Issuer {
    child: Child,
    issued: Issued,
}

impl Issuer {
    async fn start(alg: &str) -> Self {
        let mut child = Command::new("node")
            .arg("better-auth-issuer.mjs")
            .args(["--alg", alg])
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut line)).await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            let _ = child.start_kill();
            let mut stderr = String::new();
            let _ = child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .await;
            panic!("the Better Auth issuer ({alg}) printed no token: {read:?}\n{stderr}");
        }
        let issued: Issued = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected issuer output {line:?}: {e}"));
        Self { child, issued }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

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
        list.json::<Value>().await.unwrap(),
        json!({"tasks": [], "count": 0})
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
