//! The real Better Auth issuer as a child process: `interop/better-auth-issuer.mjs` runs the
//! better-auth package (memory adapter, `jwt` plugin) on 127.0.0.1, signs a user up and prints the
//! token Better Auth issued. Needs `node` and `interop/node_modules` (`npm ci --prefix interop`);
//! `missing_prerequisite` says why it cannot run here.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

/// The one line the issuer prints on stdout.
#[derive(Debug, Deserialize)]
pub struct Issued {
    pub token: String,
    pub jwks_url: String,
    pub base_url: String,
    pub user_id: String,
    pub alg: String,
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Why the real issuer cannot run here, if it cannot.
pub fn missing_prerequisite() -> Option<String> {
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
pub struct Issuer {
    child: Child,
    pub issued: Issued,
}

impl Issuer {
    /// Start the issuer signing with `alg` and wait for its token.
    pub async fn start(alg: &str) -> Self {
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
