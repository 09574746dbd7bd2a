//! `GET /health/ready`: 200 only when every request can be served. 503 with the reason when the
//! database file cannot be written (made immutable, or past the process's file size limit, the
//! way a full disk answers), is damaged, has another schema, or the JWKS is not loaded; back to
//! 200 once the cause is gone. `/health` (liveness) stays 200 throughout. A damaged file is also
//! reported by `todo-api check` and at start-up.

use std::{
    io::{Seek, SeekFrom, Write},
    os::unix::process::CommandExt,
    path::Path,
    process::Stdio,
    sync::OnceLock,
};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TEST_SECRET, TestApp, assert_error, assert_json, every_backend, process,
    skip::announce_once, spawn_or_skip,
};

async fn ready(app: &TestApp) -> reqwest::Response {
    app.client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap()
}

/// Assert a 503 in the error shape whose `detail` contains `reason`.
async fn assert_not_ready(app: &TestApp, code: &str, reason: &str) {
    let (headers, body) =
        assert_error(ready(app).await, StatusCode::SERVICE_UNAVAILABLE, code).await;
    assert_eq!(headers["retry-after"], "1");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(reason), "{reason:?} in {detail:?}");
}

async fn assert_ready(app: &TestApp) {
    let body = assert_json(ready(app).await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"status": "ready", "database": "ok", "jwks": "not_configured"})
    );
}

async fn assert_alive(app: &TestApp) {
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "liveness is unchanged");
}

#[apply(every_backend)]
#[tokio::test]
async fn a_healthy_server_is_ready_and_the_probe_leaves_one_row(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for _ in 0..3 {
        assert_ready(&app).await;
    }

    if backend == Backend::Sqlite {
        let conn = rusqlite::Connection::open(app.sqlite_path()).unwrap();
        let (rows, checked_at): (i64, i64) = conn
            .query_row(
                "SELECT count(*), max(checked_at) FROM health_probe",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(rows, 1, "the probe updates one row in place");
        assert!(checked_at > 0, "the probe write was committed");
    }
}

#[tokio::test]
async fn a_database_with_another_schema_version_is_not_ready() {
    let app = spawn_or_skip!(Backend::Sqlite);
    assert_ready(&app).await;
    let conn = rusqlite::Connection::open(app.sqlite_path()).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();

    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    assert_not_ready(&app, "DATABASE_UNAVAILABLE", "schema is at version 99").await;

    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
        .unwrap();
    assert_ready(&app).await;
}

#[tokio::test]
async fn a_configured_jwks_that_is_not_loaded_is_not_ready() {
    let port = process::free_port();
    let app = spawn_or_skip!(Backend::Sqlite, move |s| {
        s.auth.jwks_url = Some(format!("http://127.0.0.1:{port}/api/auth/jwks"));
        s.auth.jwks_timeout_secs = 1;
    });

    assert_not_ready(&app, "AUTH_UNAVAILABLE", "signing keys are not loaded").await;
    assert_alive(&app).await;
}

/// Whether this process can write to a file whose permissions forbid it (root can).
fn permissions_are_bypassed(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("permission-probe");
    std::fs::write(&probe, b"x").unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o444)).unwrap();
    let writable = std::fs::OpenOptions::new().write(true).open(&probe).is_ok();
    std::fs::remove_file(&probe).unwrap();
    writable
}

fn chattr(flag: &str, files: &[&Path]) -> bool {
    std::process::Command::new("chattr")
        .arg(flag)
        .args(files)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_not_ready_until_it_can() {
    // Arrange. A server keeps its files open, so taking write permission away (chmod) does not
    // stop it writing; the immutable attribute does, for open files too. Setting it needs root
    // (CAP_LINUX_IMMUTABLE) and a file system that supports it.
    let app = spawn_or_skip!(Backend::Sqlite);
    app.create_task_ok("alice", "before").await;
    let db = app.sqlite_path();
    let wal = db.with_extension("db-wal");
    static SKIPPED: OnceLock<()> = OnceLock::new();
    if !permissions_are_bypassed(db.parent().unwrap()) || !chattr("+i", &[&db, &wal]) {
        announce_once(
            &SKIPPED,
            "SKIPPED: readiness on a read-only database: needs root and `chattr +i` on the \
             temporary directory's file system (run the suite as root on ext4/xfs/btrfs).",
        );
        return;
    }

    // Act
    let write = app.create_task("alice", &json!({"title": "refused"})).await;
    let status = write.status();
    let readiness = ready(&app).await;
    chattr("-i", &[&db, &wal]);

    // Assert
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a write is refused"
    );
    let (_, body) = assert_error(
        readiness,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    assert_eq!(
        body["detail"],
        "the database cannot be written (disk full, read-only or failing storage)"
    );
    assert_alive(&app).await;
    assert_ready(&app).await;
    app.create_task_ok("alice", "after").await;
}

/// `todo-api serve` on a SQLite file, unable to grow any file past `max_file_bytes`
/// (`RLIMIT_FSIZE`, so writes fail with `EFBIG` as on a full disk) until the limit is raised.
async fn serve_with_file_size_limit(dir: &Path, max_file_bytes: u64) -> process::ServerProcess {
    let log = dir.join("server.log");
    let mut cmd = process::todo_api(dir);
    cmd.env("DATABASE_URL", dir.join("todo.db"))
        .env("PORT", "0")
        .env("BETTER_AUTH_SECRET", TEST_SECRET)
        .env("TODO_RATE_LIMIT__ENABLED", "false")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    // SAFETY: only an async-signal-safe call (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: max_file_bytes,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Past the limit the kernel sends SIGXFSZ, which kills by default: the server must
            // handle it itself (`startup::survive_file_size_limit`) for the write to fail with
            // EFBIG instead.
            Ok(())
        });
    }
    let mut child = tokio::process::Command::from(cmd);
    child.kill_on_drop(true);
    // The caller owns `dir`; the process handle gets an empty one of its own to keep.
    let unused = tempfile::tempdir().unwrap();
    process::wait_listening((child.spawn().unwrap(), log, unused)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_server_not_ready_until_there_is_room_again() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    // Each create appends about 15 pages to the WAL (the row, its indexes, the search index).
    let server = serve_with_file_size_limit(dir.path(), 2 * 1024 * 1024).await;
    let app = server.app.clone();
    assert_ready(&app).await;
    let description = "x".repeat(1000);

    // Act: write until the files cannot grow.
    let mut saved = 0;
    let refused = loop {
        let resp = app
            .create_task(
                "alice",
                &json!({"title": "filler", "description": description}),
            )
            .await;
        if resp.status() != StatusCode::CREATED {
            break resp;
        }
        saved += 1;
        assert!(saved < 5000, "the file size limit never stopped a write");
    };

    // Assert
    let (_, _) = assert_error(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    assert!(saved > 10, "{saved} writes fitted before the limit");
    assert_not_ready(&app, "DATABASE_UNAVAILABLE", "cannot be written").await;
    assert_alive(&app).await;

    // Room again: raise the running server's limit.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    let pid = server.pid() as libc::pid_t;
    // SAFETY: plain system call on a child of this process; the structs outlive the call.
    let raised =
        unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &unlimited, std::ptr::null_mut()) };
    assert_eq!(raised, 0, "prlimit: {}", std::io::Error::last_os_error());
    assert_ready(&app).await;
    let after = app.create_task_ok("alice", "after").await;
    let read: Value = assert_json(app.get_task("alice", &after["id"]).await, StatusCode::OK).await;
    assert_eq!(read["title"], "after");
    server.stop().await;
}

/// Overwrite one page in the middle of the (checkpointed) file at `path` with garbage.
fn damage_a_page(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let (pages, page_size): (i64, i64) = conn
        .query_row(
            "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let (pages, page_size) = (pages as u64, page_size as u64);
    assert!(
        pages > 10,
        "enough pages to damage one in the middle ({pages})"
    );
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(pages / 2 * page_size)).unwrap();
    file.write_all(&vec![0x5a; page_size as usize]).unwrap();
    file.sync_all().unwrap();
}

fn check(dir: &Path, database: &Path) -> std::process::Output {
    process::todo_api(dir)
        .env("DATABASE_URL", database)
        .arg("check")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_is_reported_by_check_and_at_start_up() {
    // Arrange: a database with enough tasks to span many pages, checked while healthy.
    let mut app = spawn_or_skip!(Backend::Sqlite);
    let description = "d".repeat(1000);
    for n in 0..150 {
        app.create_task_from(
            "alice",
            &json!({"title": format!("task {n}"), "description": description}),
        )
        .await;
    }
    let database = app.sqlite_path();
    let work = tempfile::tempdir().unwrap();
    let healthy = check(work.path(), &database);
    assert!(healthy.status.success(), "{healthy:?}");
    assert_eq!(
        String::from_utf8_lossy(&healthy.stdout),
        format!("{}: integrity_check ok\n", database.display())
    );
    app.stop().await;

    // Act
    damage_a_page(&database);
    let damaged = check(work.path(), &database);
    let server =
        process::wait_listening(process::spawn_server(&database.display().to_string())).await;
    let readiness = server
        .app
        .client
        .get(server.app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    let liveness = server
        .app
        .client
        .get(server.app.url("/health"))
        .send()
        .await
        .unwrap()
        .status();
    let log = server.stop().await;

    // Assert
    assert_eq!(damaged.status.code(), Some(1), "{damaged:?}");
    let stdout = String::from_utf8_lossy(&damaged.stdout);
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    assert!(
        stdout.lines().count() >= 1
            && stdout
                .lines()
                .all(|l| l.starts_with(&format!("{}: ", database.display()))),
        "one line per problem: {stdout}"
    );
    assert!(stderr.contains("is damaged"), "{stderr}");
    let (_, body) = assert_error(
        readiness,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    assert_eq!(
        body["detail"],
        "the database file is damaged: run `todo-api check`"
    );
    assert_eq!(liveness, StatusCode::OK);
    assert!(
        log.contains("database integrity: the file is damaged"),
        "start-up log:\n{log}"
    );
}
