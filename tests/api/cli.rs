//! The binary: configuration precedence, start-up errors, and the `token`, `openapi` and
//! `migrate` subcommands, run as a user would run them.

use std::{
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use serde_json::Value;

use crate::support::process::{free_port, start, stop, todo_api};

const SECRET: &str = "cli-test-secret-that-is-long-enough-0123456789";

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

#[test]
fn flags_beat_environment_which_beats_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    write_config(
        dir.path(),
        &format!(
            "[server]\nport = {file_port}\n[database]\nurl = \"db/todo.db\"\n[auth]\nsecret = \"{SECRET}\"\n"
        ),
    );

    let (child, url) = start(todo_api(dir.path()));
    assert_eq!(url, format!("http://127.0.0.1:{file_port}"));
    assert!(stop(child).success());

    let mut cmd = todo_api(dir.path());
    cmd.env("PORT", env_port.to_string());
    let (child, url) = start(cmd);
    assert_eq!(url, format!("http://127.0.0.1:{env_port}"));
    assert!(stop(child).success());

    let mut cmd = todo_api(dir.path());
    cmd.env("PORT", env_port.to_string())
        .args(["serve", "--port", &flag_port.to_string()]);
    let (child, url) = start(cmd);
    assert_eq!(url, format!("http://127.0.0.1:{flag_port}"));
    assert!(
        stop(child).success(),
        "SIGTERM stops the server with exit code 0"
    );

    // Prefixed variables reach every key: here the database path.
    let mut cmd = todo_api(dir.path());
    cmd.env("PORT", "0")
        .env("TODO_DATABASE__URL", "sqlite://other/todo.db");
    let (child, _) = start(cmd);
    assert!(stop(child).success());
    assert!(dir.path().join("db/todo.db").exists());
    assert!(dir.path().join("other/todo.db").exists());
}

#[test]
fn without_a_config_file_the_built_in_defaults_apply() {
    let dir = tempfile::tempdir().unwrap();

    let mut cmd = todo_api(dir.path());
    cmd.env("PORT", "0");
    let (child, url) = start(cmd);

    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(stop(child).success());
    assert!(
        dir.path().join("data/todo.db").exists(),
        "default database path"
    );
}

#[test]
fn the_environment_overrides_auth_settings_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!("[auth]\nsecret = \"{SECRET}\"\nissuer = \"from-file\"\n"),
    );
    let env_secret = "environment-secret-that-is-long-enough-000";

    let out = run(todo_api(dir.path())
        .env("BETTER_AUTH_SECRET", env_secret)
        .env("TODO_AUTH__ISSUER", "from-env")
        .args(["token", "--user", "alice", "--ttl", "5m"]));

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let claims = decode(&token, env_secret);
    assert_eq!(claims["iss"], "from-env");
}

fn decode(token: &str, secret: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("token verifies with the configured secret")
    .claims
}

#[test]
fn unknown_keys_are_a_startup_error_that_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[server]\nprot = 8000\n");

    let out = run(&mut todo_api(dir.path()));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prot"), "{stderr}");

    write_config(dir.path(), "");
    let out = run(todo_api(dir.path()).env("TODO_SERVER__BOGUS_KEY", "1"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bogus_key"), "{stderr}");

    let out = run(todo_api(dir.path()).args(["--config", "missing.toml"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn a_secret_shorter_than_32_bytes_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "");

    let out = run(todo_api(dir.path()).env("BETTER_AUTH_SECRET", "too-short"));

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("32 bytes"), "{stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the secret is not echoed: {stderr}"
    );
}

#[test]
fn the_token_command_mints_a_token_for_the_user_with_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &format!("[auth]\nsecret = \"{SECRET}\"\n"));

    let out = run(todo_api(dir.path()).args(["token", "--user", "user_abc123", "--ttl", "15m"]));

    assert!(out.status.success());
    let claims = decode(String::from_utf8(out.stdout).unwrap().trim(), SECRET);
    assert_eq!(claims["sub"], "user_abc123");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 15 * 60);
}

#[tokio::test]
async fn a_minted_token_is_accepted_by_a_server_with_the_same_config() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!("[server]\nport = 0\n[auth]\nsecret = \"{SECRET}\"\n"),
    );
    let out = run(todo_api(dir.path()).args(["token", "--user", "alice"]));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (child, url) = start(todo_api(dir.path()));

    let resp = reqwest::Client::new()
        .get(format!("{url}/api/alice/tasks"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert!(stop(child).success());
}

#[test]
fn the_openapi_command_prints_the_committed_document_as_json_or_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    let json = run(todo_api(dir.path()).arg("openapi"));
    let yaml = run(todo_api(dir.path()).args(["openapi", "--yaml"]));

    assert!(json.status.success() && yaml.status.success());
    let printed: Value = serde_json::from_slice(&json.stdout).unwrap();
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("openapi/openapi.json")).unwrap())
            .unwrap();
    assert!(
        printed == committed,
        "`todo-api openapi` differs from openapi/openapi.json"
    );
    assert_eq!(
        String::from_utf8(yaml.stdout).unwrap(),
        std::fs::read_to_string(root.join("openapi/openapi.yaml")).unwrap()
    );
}

#[test]
fn the_migrate_command_creates_and_migrates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[database]\nurl = \"nested/dir/todo.db\"\n");

    let out = run(todo_api(dir.path()).arg("migrate"));

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(dir.path().join("nested/dir/todo.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    // Idempotent.
    assert!(run(todo_api(dir.path()).arg("migrate")).status.success());
}

#[test]
fn the_public_development_secret_is_refused_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(todo_api(dir.path()).env("HOST", "0.0.0.0").env("PORT", "0"));

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("development secret") && stderr.contains("BETTER_AUTH_SECRET"),
        "{stderr}"
    );
}

#[test]
fn a_zero_busy_timeout_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(todo_api(dir.path()).env("TODO_DATABASE__BUSY_TIMEOUT_MS", "0"));

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("busy_timeout_ms"));
}

#[test]
fn with_json_logs_the_start_up_line_is_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = todo_api(dir.path())
        .env("PORT", "0")
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("TODO_LOG__FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = stop(child);

    let start: Value = serde_json::from_str(&line).expect("the start-up line is one JSON object");
    assert_eq!(start["message"], "listening");
    let url = start["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(start["docs"], format!("{url}/docs"));
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
}
