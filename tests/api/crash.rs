//! Crash safety: eight writers create and update tasks against the real binary, which is killed
//! with SIGKILL at a random moment; after a restart every acknowledged write is there in its
//! last acknowledged state and the file passes `PRAGMA integrity_check`. Several rounds on the
//! same file, with the WAL index in the `-shm` file and in the heap.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, process};

const WRITERS: usize = 8;
const ROUNDS: usize = 4;
/// Each writer creates tasks up to this many, then only updates them (keeps checking quick).
const TASKS_PER_WRITER: usize = 40;

/// A task as its writer last saw it acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acknowledged {
    title: String,
    complete: bool,
}

/// One writer's view: its tasks by id, and the write that was in flight when the server died
/// (it may or may not have been applied; it was never acknowledged).
#[derive(Debug, Default)]
struct WriterLog {
    tasks: BTreeMap<i64, Acknowledged>,
    in_flight: Option<(i64, Acknowledged)>,
}

fn user(writer: usize) -> String {
    format!("writer{writer}")
}

/// Create and update tasks of `user` until a request fails (the server is gone).
async fn write_until_killed(
    app: Arc<TestApp>,
    user: String,
    round: usize,
    mut log: WriterLog,
) -> WriterLog {
    for n in 0.. {
        if log.tasks.len() < TASKS_PER_WRITER && n % 2 == 0 {
            let title = format!("r{round} n{n}");
            let sent = app
                .authorized(reqwest::Method::POST, &TestApp::tasks_path(&user), &user)
                .json(&json!({ "title": title }))
                .send()
                .await;
            let Ok(resp) = sent else { return log };
            let Ok(body) = read(resp, StatusCode::CREATED).await else {
                return log;
            };
            let id = body["id"].as_i64().unwrap();
            log.tasks.insert(
                id,
                Acknowledged {
                    title,
                    complete: false,
                },
            );
        } else {
            let ids: Vec<i64> = log.tasks.keys().copied().collect();
            let id = ids[n % ids.len()];
            let next = Acknowledged {
                title: format!("r{round} n{n} update"),
                complete: !log.tasks[&id].complete,
            };
            log.in_flight = Some((id, next.clone()));
            let sent = app
                .authorized(
                    reqwest::Method::PATCH,
                    &TestApp::task_path(&user, id),
                    &user,
                )
                .json(&json!({ "title": next.title, "complete": next.complete }))
                .send()
                .await;
            let Ok(resp) = sent else { return log };
            let Ok(body) = read(resp, StatusCode::OK).await else {
                return log;
            };
            assert_eq!(body["title"], next.title.as_str());
            log.tasks.insert(id, next);
            log.in_flight = None;
        }
    }
    unreachable!()
}

/// The JSON body of a response with `status`; `Err` when the connection broke on the way. Any
/// other status is a failure of the test: the server answered but refused a plain write.
async fn read(resp: reqwest::Response, status: StatusCode) -> Result<Value, reqwest::Error> {
    let got = resp.status();
    let text = resp.text().await?;
    assert_eq!(got, status, "{text}");
    Ok(serde_json::from_str(&text).unwrap())
}

/// A random delay in `[min, min + spread)`.
fn random_delay(min: Duration, spread: Duration) -> Duration {
    let bits = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
    min + Duration::from_micros(bits % spread.as_micros() as u64)
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Every acknowledged task of `user` is there as acknowledged, or (the one write in flight at
/// the kill) as that write left it. The log is updated to what the server now has.
async fn verify(app: &TestApp, user: &str, mut log: WriterLog) -> WriterLog {
    let in_flight = log.in_flight.take();
    for (id, acknowledged) in log.tasks.iter_mut() {
        let resp = app.get_task(user, id).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{user}'s acknowledged task {id}: {body}"
        );
        let found = Acknowledged {
            title: body["title"].as_str().unwrap().to_owned(),
            complete: body["complete"].as_bool().unwrap(),
        };
        let unacknowledged = in_flight
            .as_ref()
            .filter(|(pending, _)| pending == id)
            .map(|(_, state)| state);
        assert!(
            found == *acknowledged || Some(&found) == unacknowledged,
            "{user}'s task {id}: acknowledged {acknowledged:?}, in flight {unacknowledged:?}, found {found:?}"
        );
        *acknowledged = found;
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_sigkill_and_the_file_stays_intact() {
    crash_rounds("file").await;
}

/// With the WAL index in the heap the index dies with the process; the restart rebuilds it from
/// the WAL file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_wal_index_in_the_heap_acknowledged_writes_survive_sigkill_too() {
    crash_rounds("heap").await;
}

/// `serve` on the SQLite file `url` with `database.wal_index = wal_index`.
async fn serve(url: &str, wal_index: &str) -> process::ServerProcess {
    let (child, log, dir) =
        process::spawn_server_with(url, &[("TODO_DATABASE__WAL_INDEX", wal_index)]);
    process::wait_listening((child, log, dir)).await
}

async fn crash_rounds(wal_index: &str) {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("todo.db");
    let url = database.display().to_string();
    let mut logs: Vec<WriterLog> = (0..WRITERS).map(|_| WriterLog::default()).collect();

    for round in 0..ROUNDS {
        // Arrange: a fresh server on the same file, and eight writers.
        let server = serve(&url, wal_index).await;
        let app = server.app.clone();
        if round > 0 {
            logs = futures_join(
                logs.into_iter()
                    .enumerate()
                    .map(|(w, log)| {
                        let app = app.clone();
                        tokio::spawn(async move { verify(&app, &user(w), log).await })
                    })
                    .collect(),
            )
            .await;
        }
        let writers: Vec<_> = logs
            .drain(..)
            .enumerate()
            .map(|(w, log)| tokio::spawn(write_until_killed(app.clone(), user(w), round, log)))
            .collect();

        // Act: SIGKILL mid-write.
        tokio::time::sleep(random_delay(
            Duration::from_millis(300),
            Duration::from_millis(700),
        ))
        .await;
        server.stop().await;
        logs = futures_join(writers).await;

        // Assert: the file is intact (the next round checks the data).
        assert_eq!(integrity(&database), "ok", "round {round}");
        let acknowledged: usize = logs.iter().map(|l| l.tasks.len()).sum();
        assert!(
            acknowledged > 0,
            "round {round}: some writes were acknowledged"
        );
    }

    let server = serve(&url, wal_index).await;
    for (w, log) in logs.into_iter().enumerate() {
        verify(&server.app, &user(w), log).await;
    }
    server.stop().await;
}

/// Wait for every task, in order, failing on the first panic.
async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("a writer panicked"));
    }
    out
}
