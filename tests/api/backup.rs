//! `todo-api backup PATH`: an online copy of the SQLite file, taken while the server writes, that
//! opens and passes `integrity_check`.

use std::sync::Arc;

use crate::support::{Backend, pg::test_database_url, process::todo_api, spawn_or_skip};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_writes_is_complete_and_intact() {
    let app = Arc::new(spawn_or_skip!(Backend::Sqlite));
    let mut before = Vec::new();
    for n in 0..20 {
        before.push(app.create_task_ok("alice", &format!("before {n}")).await["id"].clone());
    }
    // Writes keep coming while the copy is taken.
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for n in 0..100 {
                app.create_task_ok("bob", &format!("during {n}")).await;
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    let database = app.sqlite_path();

    let out = {
        let (dir, target, database) = (dir.path().to_owned(), target.clone(), database.clone());
        tokio::task::spawn_blocking(move || {
            todo_api(&dir)
                .env("DATABASE_URL", &database)
                .arg("backup")
                .arg(&target)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    writer.await.unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "backup failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("integrity ok"), "{stdout}");
    let copy = rusqlite::Connection::open(&target).unwrap();
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in &before {
        let title: String = copy
            .query_row(
                "SELECT title FROM tasks WHERE id = ?1 AND user_id = 'alice'",
                [id.as_i64().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert!(title.starts_with("before "), "{title}");
    }
    let copied: i64 = copy
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert!((20..=120).contains(&copied), "{copied} tasks in the copy");
    assert!(
        stdout.contains(&format!("({copied} tasks")),
        "the reported count is the copy's: {stdout}"
    );

    // A backup never overwrites a file.
    let again = todo_api(dir.path())
        .env("DATABASE_URL", &database)
        .arg("backup")
        .arg(&target)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_postgres_backup_points_to_pg_dump() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = todo_api(dir.path())
        .env("DATABASE_URL", url)
        .arg("backup")
        .arg(dir.path().join("copy.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!dir.path().join("copy.db").exists());
}
