//! What only a shared PostgreSQL database brings: several instances on one database, start-up
//! migrations under a lock, outages and recovery, TLS modes, and moving data from SQLite.
//! Each test runs in its own schema of `TEST_DATABASE_URL` and is skipped when it is unset.

use std::{
    collections::HashSet,
    path::Path,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use todo_api::{
    domain::now_ms,
    store::sqlite::{SqliteOptions, SqliteStore},
};
use tokio::task::JoinHandle;

use crate::support::{
    Backend, PgSchema, TestApp, assert_database_unavailable,
    pg::{pg_connect, with_params},
    process::{spawn_server, todo_api_async, wait_listening},
    proxy::{Link, Proxy, upstream_of, via},
    spawn_or_skip, test_settings,
};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn join_all<T: Send + 'static>(
    futures: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<JoinHandle<T>> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

fn id(task: &Value) -> i64 {
    task["id"].as_i64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Several instances on one database

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_serve_one_consistent_set_of_tasks() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (a, b) = (spawn_server(&schema.url), spawn_server(&schema.url));
    let (a, b) = (wait_listening(a).await, wait_listening(b).await);
    let (app_a, app_b) = (a.app.clone(), b.app.clone());
    assert_ne!(app_a.address, app_b.address);

    // Interleaved creates: 30 on each instance, all in flight at once.
    let creates = (0..60).map(|i| {
        let app = if i % 2 == 0 {
            app_a.clone()
        } else {
            app_b.clone()
        };
        async move {
            let resp = app
                .create_task("alice", &json!({"title": format!("task {i}")}))
                .await;
            assert_eq!(resp.status(), StatusCode::CREATED);
            (i, resp.json::<Value>().await.unwrap())
        }
    });
    let created = join_all(creates).await;
    let ids: HashSet<i64> = created.iter().map(|(_, t)| id(t)).collect();
    assert_eq!(ids.len(), 60, "every id is unique across instances");

    // Each instance updates the tasks the other one created.
    let updates = created.iter().map(|(i, task)| {
        let app = if i % 2 == 0 {
            app_b.clone()
        } else {
            app_a.clone()
        };
        let task = task.clone();
        async move {
            let resp = app
                .update_task(
                    "alice",
                    id(&task),
                    &json!({"title": format!("edited {}", id(&task))}),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::OK);
            let updated: Value = resp.json().await.unwrap();
            assert_eq!(updated["title"], format!("edited {}", id(&task)));
            assert_eq!(updated["created_at"], task["created_at"]);
            assert!(updated["updated_at"].as_str() > task["updated_at"].as_str());
            updated
        }
    });
    join_all(updates).await;

    // Twenty concurrent toggles of one task through both instances: no lost update, and
    // every write gets its own, later updated_at.
    let contended = created[0].1.clone();
    let toggles = (0..20).map(|i| {
        let app = if i % 2 == 0 {
            app_a.clone()
        } else {
            app_b.clone()
        };
        let id = id(&contended);
        async move {
            let resp = app.toggle_task("alice", id).await;
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()["updated_at"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let stamps = join_all(toggles).await;
    assert_eq!(
        stamps.iter().collect::<HashSet<_>>().len(),
        20,
        "updated_at is strictly monotonic per task across instances"
    );
    let after: Value = app_b
        .get_task("alice", id(&contended))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["complete"], false, "an even number of toggles");
    assert_eq!(
        after["updated_at"].as_str(),
        stamps.iter().max().map(String::as_str)
    );

    // Deletes through both instances; a second delete through the other one is a 404.
    let doomed: Vec<i64> = created
        .iter()
        .skip(1)
        .step_by(3)
        .map(|(_, t)| id(t))
        .collect();
    for (n, task_id) in doomed.iter().enumerate() {
        let (first, second) = if n % 2 == 0 {
            (&app_a, &app_b)
        } else {
            (&app_b, &app_a)
        };
        assert_eq!(
            first.delete_task("alice", task_id).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            second.delete_task("alice", task_id).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    // Both instances see the same list.
    let list_a: Value = app_a.list_tasks("alice").await.json().await.unwrap();
    let list_b: Value = app_b.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(list_a, list_b);
    assert_eq!(list_a["count"], 60 - doomed.len());
    let listed: Vec<i64> = list_a["tasks"].as_array().unwrap().iter().map(id).collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert!(listed.iter().all(|i| !doomed.contains(i)));

    // Ids are never reused, whichever instance creates next.
    let next = app_b.create_task_ok("alice", "next").await;
    assert!(id(&next) > *ids.iter().max().unwrap());

    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_starting_at_once_on_an_empty_database_migrate_it_once() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };

    let spawned: Vec<_> = (0..3).map(|_| spawn_server(&schema.url)).collect();
    let mut servers = Vec::new();
    for s in spawned {
        servers.push(wait_listening(s).await);
    }

    for server in &servers {
        let resp = server
            .app
            .client
            .get(server.app.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let mut logs = String::new();
    for server in servers {
        logs.push_str(&server.stop().await);
    }
    assert_eq!(
        logs.matches("applied PostgreSQL migration").count(),
        8,
        "each of the eight migrations was applied exactly once:\n{logs}"
    );
    let rows = schema
        .connect()
        .await
        .query(
            "SELECT version, count(*) FROM todo_schema_migrations GROUP BY version ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<(i32, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        versions,
        vec![
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 1),
            (7, 1),
            (8, 1)
        ]
    );
}

#[tokio::test]
async fn the_migrate_command_migrates_postgres_and_is_idempotent() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    for _ in 0..2 {
        let out = todo_api_async(dir.path())
            .env("DATABASE_URL", &schema.url)
            .arg("migrate")
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("is up to date"));
    }
    let client = schema.connect().await;
    let version: i32 = client
        .query_one("SELECT max(version) FROM todo_schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 8);
    let tasks: i64 = client
        .query_one("SELECT count(*) FROM tasks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tasks, 0);
}

// ---------------------------------------------------------------------------------------------
// Outages

/// A server whose database connections go through a proxy, with short timeouts.
async fn app_behind_proxy(schema: &PgSchema) -> (TestApp, Proxy) {
    let proxy = Proxy::start(upstream_of(&schema.admin_url)).await;
    let mut settings = test_settings(via(&schema.url, proxy.addr));
    settings.database.busy_timeout_ms = 1000;
    settings.database.connect_timeout_ms = 1000;
    settings.database.statement_timeout_ms = 1000;
    let app = TestApp::start(settings, Backend::Postgres, None).await;
    (app, proxy)
}

async fn assert_health_unavailable(app: &TestApp) {
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unavailable");
    assert_eq!(body["error_code"], "DATABASE_UNAVAILABLE");
}

/// Poll until the list answers 200 again, without a restart.
async fn wait_for_recovery(app: &TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let resp = app.list_tasks("alice").await;
        match resp.status() {
            StatusCode::OK => return started.elapsed(),
            StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("while recovering: {other} (never anything but 200 or 503)"),
        }
        assert!(started.elapsed() < within, "no recovery within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_database_that_goes_down_is_a_503_with_retry_after_and_the_service_recovers_by_itself() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (app, proxy) = app_behind_proxy(&schema).await;
    let kept = app.create_task_ok("alice", "kept").await;

    proxy.set(Link::Refuse);

    for attempt in 0..3 {
        let started = Instant::now();
        assert_database_unavailable(app.list_tasks("alice").await).await;
        assert_database_unavailable(app.create_task("alice", &json!({"title": "lost"})).await)
            .await;
        assert_database_unavailable(app.toggle_task("alice", id(&kept)).await).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "attempt {attempt}: answered in {:?}",
            started.elapsed()
        );
    }
    assert_health_unavailable(&app).await;

    proxy.set(Link::Up);

    wait_for_recovery(&app, Duration::from_secs(10)).await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let list: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(
        list["tasks"],
        json!([kept]),
        "nothing lost, nothing half-written"
    );
    app.create_task_ok("alice", "after").await;
}

#[tokio::test]
async fn a_database_that_stops_answering_is_a_503_within_the_timeouts_not_a_hang() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (app, proxy) = app_behind_proxy(&schema).await;
    let kept = app.create_task_ok("alice", "kept").await;

    proxy.set(Link::Blackhole);

    // First on the pooled connection (statement timeout 1 s + 1 s grace), then on new
    // connections (connect timeout 1 s).
    for _ in 0..2 {
        let started = Instant::now();
        assert_database_unavailable(app.get_task("alice", id(&kept)).await).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "answered in {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_health_unavailable(&app).await;
    assert!(started.elapsed() < Duration::from_secs(4));

    proxy.set(Link::Up);

    wait_for_recovery(&app, Duration::from_secs(10)).await;
    assert_eq!(
        app.get_task("alice", id(&kept)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn terminated_database_connections_are_replaced_without_a_restart() {
    let app = spawn_or_skip!(Backend::Postgres);
    let schema = app.pg_schema();
    let kept = app.create_task_ok("alice", "kept").await;
    let admin = pg_connect(&schema.admin_url).await.unwrap();

    for _ in 0..3 {
        let terminated: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&schema.name],
            )
            .await
            .unwrap()
            .get(0);
        assert!(terminated >= 1, "the server had connections to terminate");

        // At worst a request that raced the termination gets a 503; never a 500.
        wait_for_recovery(&app, Duration::from_secs(10)).await;
        assert_eq!(
            app.get_task("alice", id(&kept)).await.status(),
            StatusCode::OK
        );
    }
    app.create_task_ok("alice", "after").await;
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn sslmode_in_the_url_decides_encryption_and_certificate_checks_as_libpq_does() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let admin = schema.connect().await;
    let ssl: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if ssl != "on" {
        eprintln!("SKIPPED (TLS checks): the test server has ssl = {ssl}");
        return;
    }
    let cert_file: String = admin
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .unwrap()
        .get(0);

    async fn encrypted(url: &str) -> Result<bool, String> {
        let client = pg_connect(url).await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.get(0))
    }
    let url = |params: &[&str]| {
        with_params(
            &schema.admin_url,
            &params.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>(),
        )
    };

    assert_eq!(encrypted(&url(&["sslmode=disable"])).await, Ok(false));
    assert_eq!(encrypted(&url(&["sslmode=prefer"])).await, Ok(true));
    // libpq's require: encrypted, whatever the certificate (here a self-signed one).
    assert_eq!(encrypted(&url(&["sslmode=require"])).await, Ok(true));
    // verify-full against the bundled public roots rejects a self-signed certificate.
    let rejected = encrypted(&url(&["sslmode=verify-full"])).await;
    assert!(rejected.is_err(), "{rejected:?}");
    // With the server's own certificate as the root, the chain checks out.
    if std::fs::read(&cert_file).is_ok() {
        let root = format!("sslrootcert={}", cert_file.replace('/', "%2F"));
        assert_eq!(
            encrypted(&url(&["sslmode=verify-ca", &root])).await,
            Ok(true),
            "verify-ca with {cert_file}"
        );
    }

    // The server itself runs with the same rules.
    let mut settings = test_settings(with_params(&schema.url, &["sslmode=require".into()]));
    settings.database.connect_timeout_ms = 2000;
    let app = TestApp::start(settings, Backend::Postgres, None).await;
    app.create_task_ok("alice", "over TLS").await;
}

// ---------------------------------------------------------------------------------------------
// Moving data between backends

/// A SQLite file with `n` tasks of several users, ids with gaps, and a deleted highest id.
async fn seed_sqlite(path: &Path, n: i64) -> i64 {
    SqliteStore::open(&SqliteOptions {
        path: path.to_owned(),
        pool_size: 1,
        busy_timeout: Duration::from_secs(5),
        synchronous: "NORMAL".into(),
        wal_index: Default::default(),
        metrics: Default::default(),
    })
    .unwrap();
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    let base = now_ms() - 86_400_000;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tasks (id, user_id, title, description, complete, created_at, \
                   updated_at) VALUES ((SELECT last_id + 1 FROM task_ids), ?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .unwrap();
        for i in 0..n {
            let description = match i % 4 {
                0 => None,
                1 => Some(String::new()),
                2 => Some(format!("notes for {i}: «ünïcødé» 🦀\nline two")),
                _ => Some("d".repeat(1000)),
            };
            let created = base + i * 7;
            insert
                .execute(rusqlite::params![
                    format!("user_{}", i % 7),
                    format!("task {i} ✓ {}", "x".repeat((i % 190) as usize)),
                    description,
                    i % 3 == 0,
                    created,
                    created + (i % 5) * 1000,
                ])
                .unwrap();
        }
    }
    // Gaps, and a highest id that no longer exists but must never be handed out again.
    tx.execute("DELETE FROM tasks WHERE id % 11 = 0 OR id > ?1", [n - 3])
        .unwrap();
    tx.commit().unwrap();
    n
}

fn dump_sqlite(path: &Path) -> (Vec<Vec<String>>, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, user_id, title, quote(description), complete, created_at, updated_at \
             FROM tasks ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            (0..7)
                .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let seq = conn
        .query_row("SELECT last_id FROM task_ids", [], |r| r.get(0))
        .unwrap();
    (rows, seq)
}

async fn migrate_data(from: &str, to: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    todo_api_async(dir.path())
        .args(["migrate-data", "--from", from, "--to", to])
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_thousands_of_tasks_from_sqlite_to_postgres_and_back_keeps_them_exactly() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (source, back) = (dir.path().join("source.db"), dir.path().join("back.db"));
    let n = seed_sqlite(&source, 3000).await;
    let (source_rows, source_seq) = dump_sqlite(&source);
    assert_eq!(source_seq, n, "the deleted highest ids still count");
    let source_url = format!("sqlite://{}", source.display());

    // SQLite -> PostgreSQL.
    let out = migrate_data(&source_url, &schema.url).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("copied {} tasks", source_rows.len())),
        "{stdout}"
    );

    // A target that already has tasks is refused and left alone.
    let again = migrate_data(&source_url, &schema.url).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already has tasks"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // PostgreSQL -> a new SQLite file: the round trip is exact, id counter included.
    let out = migrate_data(&schema.url, &format!("sqlite://{}", back.display())).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (back_rows, back_seq) = dump_sqlite(&back);
    assert_eq!(back_rows.len(), source_rows.len());
    assert!(back_rows == source_rows, "rows differ after the round trip");
    assert_eq!(back_seq, source_seq);

    // Both backends serve the moved data identically, and continue after the old highest id.
    let mut sqlite_settings = test_settings(source.display().to_string());
    sqlite_settings.database.pool_size = 2;
    let on_sqlite = TestApp::start(sqlite_settings, Backend::Sqlite, None).await;
    let on_postgres =
        TestApp::start(test_settings(schema.url.clone()), Backend::Postgres, None).await;
    for user in ["user_0", "user_3", "user_6", "nobody"] {
        let mut a: Value = on_sqlite.list_tasks(user).await.json().await.unwrap();
        let mut b: Value = on_postgres.list_tasks(user).await.json().await.unwrap();
        // Feed positions are each database's own; the tasks and everything else are the same.
        for list in [&mut a, &mut b] {
            assert!(list["sync_cursor"].is_string(), "{list}");
            list.as_object_mut().unwrap().remove("sync_cursor");
        }
        assert_eq!(a, b, "{user}'s tasks");
    }
    let next_pg = on_postgres.create_task_ok("user_1", "next").await;
    let next_sqlite = on_sqlite.create_task_ok("user_1", "next").await;
    assert_eq!(id(&next_pg), n + 1);
    assert_eq!(id(&next_sqlite), n + 1);
}
