//! `database.wal_index = "heap"`: SQLite keeps the WAL index in the server's memory instead of
//! the memory-mapped `-shm` file (which, damaged or made immutable under a running server,
//! kills it with SIGBUS); the price is that no other process can open the database meanwhile.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestApp, assert_json, process};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_wal_index_in_the_heap_there_is_no_shm_file_and_other_processes_are_locked_out() {
    // Arrange
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.database.wal_index = todo_api::config::WalIndex::Heap;
    })
    .await
    .unwrap();
    let created = app
        .create_task_ok("alice", "kept in the heap-indexed WAL")
        .await;
    let database = app.sqlite_path();

    // Act
    let read = app.get_task("alice", &created["id"]).await;
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let check = process::todo_api(work.path())
        .env("DATABASE_URL", &database)
        .arg("check")
        .output()
        .unwrap();

    // Assert
    assert_eq!(
        assert_json(read, StatusCode::OK).await["title"],
        json!("kept in the heap-indexed WAL")
    );
    assert_eq!(
        assert_json(ready, StatusCode::OK).await,
        json!({"status": "ready", "database": "ok", "jwks": "not_configured"})
    );
    assert!(
        database.with_extension("db-wal").exists(),
        "WAL mode as usual"
    );
    assert!(
        !database.with_extension("db-shm").exists(),
        "no -shm file to map"
    );
    assert!(!check.status.success(), "{check:?}");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(stderr.contains("database is locked"), "{stderr}");
}
