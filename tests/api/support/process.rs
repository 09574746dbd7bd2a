//! Child processes of the `todo-api` binary, as a user or an operator runs it: the one list of
//! environment variables the service reads (none of which a child inherits from this process),
//! the command in a working directory of its own, and `serve` children that the tests start,
//! wait for and stop.

use std::{
    io::{BufRead, BufReader as StdBufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{TEST_SECRET, TestApp, matrix::Backend};

/// The environment variables `todo-api` reads (`Settings::load` in src/config.rs), besides every
/// one starting with [`SERVICE_ENV_PREFIX`]. A child starts without any of them unless the test
/// sets it, so a developer's environment cannot change what a test observes.
pub const SERVICE_ENV_VARS: &[&str] = &[
    "HOST",
    "PORT",
    "CORS_ORIGINS",
    "DATABASE_URL",
    "BETTER_AUTH_SECRET",
    "BETTER_AUTH_URL",
    "RUST_LOG",
];

/// Every key of the configuration as an environment variable: `TODO_SERVER__PORT` and so on.
pub const SERVICE_ENV_PREFIX: &str = "TODO_";

/// The `todo-api` binary, run in `dir`, with none of the variables it reads inherited from this
/// process.
pub fn todo_api(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.current_dir(dir);
    for name in SERVICE_ENV_VARS {
        cmd.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(|name| name.starts_with(SERVICE_ENV_PREFIX))
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// [`todo_api`] for async tests: a Tokio command whose child is killed when dropped.
pub fn todo_api_async(dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::from(todo_api(dir));
    cmd.kill_on_drop(true);
    cmd
}

/// A port nothing listens on at the moment (for a child's `PORT`, or a server started later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// `serve`, waited for synchronously

/// Start `serve` and return the child and the URL from its first stdout line, which must also
/// name the docs.
pub fn start(mut cmd: std::process::Command) -> (std::process::Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    StdBufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    assert!(
        line.contains(&format!("{url}/docs")),
        "docs URL in {line:?}"
    );
    (child, url)
}

/// Send SIGTERM and wait for the child to exit.
pub fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().unwrap()
}

// ---------------------------------------------------------------------------------------------
// `serve` on PostgreSQL, several at once, in async tests

/// A `todo-api serve` child process on a free port; killed when dropped.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub app: Arc<TestApp>,
    log: PathBuf,
    _dir: TempDir,
}

/// Start `serve` on `database_url` (a PostgreSQL URL, or a SQLite file the caller owns), trusting
/// [`TEST_SECRET`] and logging at `info` to a file, without waiting for it to listen.
pub fn spawn_server(database_url: &str) -> (tokio::process::Child, PathBuf, TempDir) {
    spawn_server_with(database_url, &[])
}

/// [`spawn_server`] with extra environment variables (`TODO_...` settings).
pub fn spawn_server_with(
    database_url: &str,
    env: &[(&str, &str)],
) -> (tokio::process::Child, PathBuf, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let child = todo_api_async(dir.path())
        .env("DATABASE_URL", database_url)
        .env("PORT", "0")
        .env("BETTER_AUTH_SECRET", TEST_SECRET)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, log, dir)
}

/// Wait for the "listening on URL" line of a spawned server.
pub async fn wait_listening(
    (mut child, log, dir): (tokio::process::Child, PathBuf, TempDir),
) -> ServerProcess {
    let mut line = String::new();
    let stdout = child.stdout.as_mut().unwrap();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    let address = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "server did not start ({read:?}, stdout {line:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    ServerProcess {
        child,
        app: Arc::new(TestApp::attach(address, Backend::Postgres)),
        log,
        _dir: dir,
    }
}

impl ServerProcess {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Kill the server and return its log.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        std::fs::read_to_string(&self.log).unwrap()
    }
}
