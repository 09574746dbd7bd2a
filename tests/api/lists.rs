//! `GET /api/{user_id}/tasks` as a list that scales: pages of at most `limit` tasks continued by
//! an opaque cursor (and an RFC 8288 `Link` header), filters, sort orders, substring search, and
//! `DELETE /api/{user_id}/tasks?complete=true`. Every rule is checked on both backends against a
//! model computed here from the tasks the test created.

use std::collections::{BTreeSet, HashMap};

use futures_util::{StreamExt, stream};
use reqwest::{Method, StatusCode, header::HeaderMap};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_error, assert_json, assert_validation, every_backend, list_content,
    spawn_or_skip,
};

/// These tests make hundreds of requests as one user in a few seconds: the request budget
/// (tested in `rate_limit.rs`) is off for them.
fn unlimited(settings: &mut todo_api::config::Settings) {
    settings.rate_limit.enabled = false;
}

/// `GET /api/{user}/tasks?{query}`: the response headers and the body, after checking the list
/// shape (exactly `tasks`, `count`, `total`, `next_cursor`; `count` = tasks on the page) and that
/// a `Link` header is there exactly when a next page is.
async fn list(app: &TestApp, user: &str, query: &str) -> (HeaderMap, Value) {
    let path = format!("{}?{query}", TestApp::tasks_path(user));
    let resp = app
        .authorized(Method::GET, &path, user)
        .send()
        .await
        .unwrap();
    let headers = resp.headers().clone();
    let body = assert_json(resp, StatusCode::OK).await;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["count", "next_cursor", "sync_cursor", "tasks", "total"],
        "{body}"
    );
    assert_eq!(
        body["count"].as_u64().unwrap() as usize,
        body["tasks"].as_array().unwrap().len()
    );
    match body["next_cursor"].as_str() {
        Some(cursor) => {
            let link = headers["link"].to_str().unwrap();
            assert!(
                link.starts_with(&format!("</api/{user}/tasks?"))
                    && link.ends_with(&format!("cursor={cursor}>; rel=\"next\"")),
                "Link {link}"
            );
        }
        None => {
            assert!(body["next_cursor"].is_null(), "{body}");
            assert!(!headers.contains_key("link"), "no Link on the last page");
        }
    }
    (headers, body)
}

/// The ids of a page, in order.
fn ids(body: &Value) -> Vec<i64> {
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// Every id of a list, walking its pages by cursor with `query` (which must not hold a cursor).
async fn walk(app: &TestApp, user: &str, query: &str) -> Vec<i64> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let (_, body) = list(app, user, &q).await;
        all.extend(ids(&body));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

/// `n` bodies of tasks titled `"{prefix} {i}"`.
fn titled(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"title": format!("{prefix} {i}")}))
        .collect()
}

/// `method path` as `user`, with a valid token.
async fn send(app: &TestApp, method: Method, path: &str, user: &str) -> reqwest::Response {
    app.authorized(method, path, user).send().await.unwrap()
}

/// Create the tasks `bodies` for `user`, eight at a time; their ids in the order given.
/// (Concurrent creates take ids in any order: sort them where the order matters.)
async fn create_all(app: &TestApp, user: &str, bodies: Vec<Value>) -> Vec<i64> {
    stream::iter(bodies)
        .map(|body| async move {
            app.create_task_from(user, &body).await["id"]
                .as_i64()
                .unwrap()
        })
        .buffered(8)
        .collect()
        .await
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[apply(every_backend)]
#[tokio::test]
async fn a_short_list_is_the_whole_list_with_its_total_and_no_next_page(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let (_, empty) = list(&app, "alice", "").await;
    assert_eq!(
        list_content(empty),
        json!({"tasks": [], "count": 0, "total": 0, "next_cursor": null})
    );

    let mut created = create_all(&app, "alice", titled("task", 3)).await;
    created.sort_unstable();
    app.create_task_ok("bob", "not alice's").await;
    // The plain GET (no query string at all) is today's body plus `total` and `next_cursor`.
    let resp = app.list_tasks("alice").await;
    assert!(!resp.headers().contains_key("link"));
    let body = assert_json(resp, StatusCode::OK).await;
    assert_eq!(ids(&body), created);
    assert_eq!(body["count"], 3);
    assert_eq!(body["total"], 3);
    assert_eq!(body["next_cursor"], Value::Null);
}

#[apply(every_backend)]
#[tokio::test]
async fn pages_continue_by_cursor_and_link_until_the_last(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let mut created = create_all(&app, "alice", titled("task", 25)).await;
    created.sort_unstable();

    let (headers, first) = list(&app, "alice", "limit=10&unknown=kept").await;
    assert_eq!(ids(&first), created[..10]);
    assert_eq!(
        (first["count"].clone(), first["total"].clone()),
        (json!(10), json!(25))
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(
        headers["link"],
        format!("</api/alice/tasks?limit=10&unknown=kept&cursor={cursor}>; rel=\"next\"").as_str(),
        "the Link keeps every parameter sent and sets the cursor"
    );
    // Following the Link as it is gives the second page.
    let link = headers["link"].to_str().unwrap();
    let next_path = &link[1..link.find('>').unwrap()];
    let resp = send(&app, Method::GET, next_path, "alice").await;
    let second = assert_json(resp, StatusCode::OK).await;
    assert_eq!(ids(&second), created[10..20]);
    // A cursor may be followed with another limit.
    let c2 = second["next_cursor"].as_str().unwrap();
    let (_, last) = list(&app, "alice", &format!("limit=100&cursor={c2}")).await;
    assert_eq!(ids(&last), created[20..]);
    assert_eq!(last["total"], 25);
    assert_eq!(last["next_cursor"], Value::Null);

    // The default page is 100; 500 is the most.
    let mut more = create_all(&app, "alice", titled("more", 80)).await;
    more.sort_unstable();
    let (_, default) = list(&app, "alice", "").await;
    assert_eq!(default["count"], 100);
    assert_eq!(default["total"], 105);
    assert_eq!(*ids(&default).last().unwrap(), more[74]);
    let (_, all) = list(&app, "alice", "limit=500").await;
    assert_eq!(all["count"], 105);
    assert_eq!(all["next_cursor"], Value::Null);
}

#[apply(every_backend)]
#[tokio::test]
async fn every_bad_parameter_is_a_422_naming_it(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let cases: &[(&str, &str, &str)] = &[
        ("complete=yes", "query.complete", "bool_parsing"),
        ("complete=", "query.complete", "bool_parsing"),
        ("priority=urgent", "query.priority", "enum"),
        ("priority=low,,high", "query.priority", "enum"),
        ("priority=HIGH", "query.priority", "enum"),
        ("tag=%20", "query.tag", "string_blank"),
        (
            "due_before=tomorrow",
            "query.due_before",
            "datetime_parsing",
        ),
        (
            "due_before=2026-02-30",
            "query.due_before",
            "datetime_parsing",
        ),
        (
            "due_after=2026-13-01T00:00:00Z",
            "query.due_after",
            "datetime_parsing",
        ),
        ("overdue=1", "query.overdue", "bool_parsing"),
        ("tz=Mars%2FOlympus", "query.tz", "time_zone_unknown"),
        ("tz=europe%2Fberlin", "query.tz", "time_zone_unknown"),
        ("q=", "query.q", "string_length"),
        ("q=a%07b", "query.q", "string_pattern_mismatch"),
        ("sort=size", "query.sort", "enum"),
        ("sort=--id", "query.sort", "enum"),
        ("limit=0", "query.limit", "range"),
        ("limit=501", "query.limit", "range"),
        ("limit=-1", "query.limit", "range"),
        ("limit=ten", "query.limit", "range"),
        ("limit=1.5", "query.limit", "range"),
    ];
    for (query, loc, kind) in cases {
        let path = format!("{}?{query}", TestApp::tasks_path("alice"));
        let resp = send(&app, Method::GET, &path, "alice").await;
        assert_validation(resp, &[(loc, kind)]).await;
    }
    let long_q = format!("q={}", "é".repeat(101));
    let resp = send(
        &app,
        Method::GET,
        &format!("/api/alice/tasks?{long_q}"),
        "alice",
    )
    .await;
    assert_validation(resp, &[("query.q", "string_length")]).await;
    let many_tags: String = (0..21).map(|n| format!("tag=t{n}&")).collect();
    let resp = app
        .authorized(
            Method::GET,
            &format!("/api/alice/tasks?{many_tags}"),
            "alice",
        )
        .send()
        .await
        .unwrap();
    assert_validation(resp, &[("query.tag", "too_long")]).await;
    // Several at once are all named.
    let resp = app
        .authorized(
            Method::GET,
            "/api/alice/tasks?limit=0&sort=x&tz=Nowhere",
            "alice",
        )
        .send()
        .await
        .unwrap();
    assert_validation(
        resp,
        &[
            ("query.limit", "range"),
            ("query.sort", "enum"),
            ("query.tz", "time_zone_unknown"),
        ],
    )
    .await;
    // Without a valid token the answer is 401 whatever the query says.
    let resp = app
        .client
        .get(app.url("/api/alice/tasks?limit=0&cursor=garbage"))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
}

/// Tasks for the filter and sort tests: varied priorities, tags, dues and completion.
fn catalogue() -> Vec<Value> {
    vec![
        json!({"title": "Pay rent", "priority": "high", "tags": ["Home", "money"], "due_date": "2026-12-01"}),
        json!({"title": "buy milk", "priority": "low", "tags": ["shopping"], "due_at": "2026-11-30T22:30:00Z"}),
        json!({"title": "Äpfel kaufen", "priority": "low", "tags": ["Shopping", "home"]}),
        json!({"title": "write report", "description": "Quarterly ÜBERSICHT for the board", "priority": "medium", "tags": ["work"], "due_at": "2026-12-01T09:00:00Z"}),
        json!({"title": "call mum", "priority": "none", "due_date": "2026-11-29"}),
        json!({"title": "Zebra crossing", "priority": "high", "tags": ["WORK", "home"], "due_at": "2026-12-02T00:00:00+01:00"}),
        json!({"title": "100% done_ish", "priority": "medium"}),
        json!({"title": "σοφία reading", "tags": ["books"], "due_date": "2026-12-03"}),
    ]
}

#[apply(every_backend)]
#[tokio::test]
async fn filters_keep_exactly_the_matching_tasks(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let ids_of = create_all(&app, "alice", catalogue()).await;
    let [rent, milk, apfel, report, mum, zebra, percent, sofia] = ids_of[..] else {
        unreachable!()
    };
    create_all(&app, "bob", catalogue()).await;
    // Complete two of alice's.
    for id in [milk, mum] {
        let resp = app
            .update_task("alice", id, &json!({"complete": true}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("complete=true", vec![milk, mum]),
        (
            "complete=false",
            vec![rent, apfel, report, zebra, percent, sofia],
        ),
        ("priority=high", vec![rent, zebra]),
        ("priority=low,medium", vec![milk, apfel, report, percent]),
        ("priority=low&priority=none", vec![milk, apfel, mum, sofia]),
        ("priority=none,low,medium,high", ids_of.clone()),
        ("tag=home", vec![rent, apfel, zebra]),
        ("tag=HOME&tag=Shopping", vec![apfel]),
        ("tag=work", vec![report, zebra]),
        ("tag=nothing", vec![]),
        // due_at before 2026-12-01T00:00Z, or a due_date before 2026-12-01 (UTC).
        ("due_before=2026-12-01", vec![milk, mum]),
        ("due_before=2026-12-01T09:00:00Z", vec![rent, milk, mum]),
        ("due_after=2026-12-01T09:00:00Z", vec![report, zebra, sofia]),
        (
            "due_after=2026-12-01&due_before=2026-12-02",
            vec![rent, report, zebra],
        ),
        // In Tokyo (UTC+9) 2026-12-01 starts at 2026-11-30T15:00Z: the rent's day starts then,
        // the milk (22:30Z) is after it, and the report is 18:00 Tokyo time on the 1st.
        (
            "due_after=2026-12-01&due_before=2026-12-02&tz=Asia%2FTokyo",
            vec![rent, milk, report],
        ),
        ("due_before=2026-12-01&tz=Asia%2FTokyo", vec![mum]),
        // Zebra is due 2026-12-01T23:00Z.
        (
            "due_after=2026-12-01T23:00:00Z&due_before=2026-12-01T23:00:00.001Z",
            vec![zebra],
        ),
        ("q=RENT", vec![rent]),
        ("q=%C3%A4pfel", vec![apfel]),
        ("q=%C3%84PF", vec![apfel]),
        ("q=%C3%BCbersicht", vec![report]),
        ("q=%CE%A3%CE%9F%CE%A6", vec![sofia]),
        ("q=%C3%A4p", vec![apfel]),
        ("q=ea", vec![sofia]),
        ("q=m", vec![milk, mum]),
        ("q=100%25", vec![percent]),
        ("q=e_i", vec![percent]),
        ("q=_", vec![percent]),
        ("q=%25", vec![percent]),
        ("q=report%20quarterly", vec![]),
        ("q=nothing%20here", vec![]),
        ("q=ing&tag=books&complete=false&priority=none", vec![sofia]),
    ];
    for (query, expected) in cases {
        let (_, body) = list(&app, "alice", query).await;
        let mut got = ids(&body);
        got.sort_unstable();
        let mut want = expected.clone();
        want.sort_unstable();
        assert_eq!(got, want, "?{query}");
        assert_eq!(body["total"], want.len(), "total of ?{query}");
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn overdue_is_not_complete_and_due_before_now(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let now = chrono::Utc::now();
    let past = (now - chrono::Duration::hours(2)).to_rfc3339();
    let future = (now + chrono::Duration::hours(2)).to_rfc3339();
    let yesterday = (now - chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let tomorrow = (now + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let ids_of = create_all(
        &app,
        "alice",
        vec![
            json!({"title": "late", "due_at": past}),
            json!({"title": "late but done", "due_at": past}),
            json!({"title": "later", "due_at": future}),
            json!({"title": "late day", "due_date": yesterday}),
            json!({"title": "next day", "due_date": tomorrow}),
            json!({"title": "whenever"}),
        ],
    )
    .await;
    app.update_task("alice", ids_of[1], &json!({"complete": true}))
        .await;
    let sorted = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids
    };
    let (_, overdue) = list(&app, "alice", "overdue=true").await;
    assert_eq!(ids(&overdue), sorted(vec![ids_of[0], ids_of[3]]));
    let (_, rest) = list(&app, "alice", "overdue=false").await;
    assert_eq!(
        ids(&rest),
        sorted(vec![ids_of[1], ids_of[2], ids_of[4], ids_of[5]])
    );
}

/// The model's order of `tasks` for `sort`: the key (None sorts last in both directions for
/// due), then id, both in the sort's direction.
fn model_order(tasks: &[Value], sort: &str, zone: chrono_tz::Tz) -> Vec<i64> {
    use chrono::TimeZone as _;
    let (descending, key) = match sort.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, sort),
    };
    let rank = |p: &str| {
        ["none", "low", "medium", "high"]
            .iter()
            .position(|x| *x == p)
            .unwrap()
    };
    let mut keyed: Vec<(Option<String>, i64)> = tasks
        .iter()
        .map(|t| {
            let k = match key {
                "id" => Some(format!("{:020}", t["id"].as_i64().unwrap())),
                "created_at" | "updated_at" => Some(t[key].as_str().unwrap().to_owned()),
                "priority" => Some(rank(t["priority"].as_str().unwrap()).to_string()),
                "title" => Some(t["title"].as_str().unwrap().to_lowercase()),
                "due" => match (t["due_at"].as_str(), t["due_date"].as_str()) {
                    (Some(at), _) => Some(format!(
                        "{:020}",
                        chrono::DateTime::parse_from_rfc3339(at)
                            .unwrap()
                            .timestamp_millis()
                            + 10_i64.pow(15)
                    )),
                    (None, Some(day)) => {
                        let day: chrono::NaiveDate = day.parse().unwrap();
                        let start = zone
                            .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
                            .earliest()
                            .unwrap()
                            .timestamp_millis();
                        Some(format!("{:020}", start + 10_i64.pow(15)))
                    }
                    (None, None) => None,
                },
                other => panic!("{other}"),
            };
            (k, t["id"].as_i64().unwrap())
        })
        .collect();
    keyed.sort_by(|(ka, ia), (kb, ib)| {
        let by_key = match (ka, kb) {
            (Some(a), Some(b)) => {
                let o = a.cmp(b);
                if descending { o.reverse() } else { o }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        let by_id = if descending { ib.cmp(ia) } else { ia.cmp(ib) };
        by_key.then(by_id)
    });
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[apply(every_backend)]
#[tokio::test]
async fn every_sort_order_is_kept_across_pages_with_ties_and_missing_dues(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    // Ties on every key: repeated titles (in two cases), priorities and dues, a due_date and a
    // due_at at the same instant, and several tasks without a due.
    let mut bodies = Vec::new();
    for n in 0..30 {
        let mut body = json!({
            "title": (["alpha", "Alpha", "beta", "Gamma", "gamma", "δέλτα"][n % 6]),
            "priority": (["none", "low", "medium", "high"][n % 4]),
        });
        match n % 5 {
            0 => body["due_date"] = json!(format!("2026-12-{:02}", 1 + n % 3)),
            1 => body["due_at"] = json!(format!("2026-12-{:02}T00:00:00Z", 1 + n % 3)),
            2 => body["due_at"] = json!(format!("2026-12-01T{:02}:30:00Z", n % 24)),
            _ => {}
        }
        bodies.push(body);
    }
    create_all(&app, "alice", bodies).await;
    // Touch a few so updated_at differs from created_at order.
    let (_, all) = list(&app, "alice", "limit=500").await;
    let all_ids = ids(&all);
    for id in [all_ids[3], all_ids[17], all_ids[8]] {
        app.update_task("alice", id, &json!({"description": "touched"}))
            .await;
    }
    let (_, all) = list(&app, "alice", "limit=500").await;
    let tasks = all["tasks"].as_array().unwrap().clone();

    for zone in ["UTC", "America/Los_Angeles"] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        for key in ["id", "created_at", "updated_at", "due", "priority", "title"] {
            for sort in [key.to_owned(), format!("-{key}")] {
                let expected = model_order(&tasks, &sort, tz);
                for limit in [4, 7, 500] {
                    let query = format!("sort={sort}&limit={limit}&tz={}", encode(zone));
                    let walked = walk(&app, "alice", &query).await;
                    assert_eq!(walked, expected, "?{query}");
                }
            }
        }
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn searched_and_tagged_lists_page_in_every_order_with_their_total(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    // Every third task is an invoice (one spelled in capitals), every fourth is tagged work,
    // and half are complete; bob holds the same words, which must never show up in alice's.
    let body = |n: usize| {
        let title = match n % 3 {
            0 if n == 9 => format!("INVOICE {n}"),
            0 => format!("send invoice {n}"),
            _ => format!("call {n}"),
        };
        let mut body = json!({"title": title});
        if n.is_multiple_of(4) {
            body["tags"] = json!(["Work"]);
            body["due_date"] = json!(format!("2026-12-{:02}", 1 + n % 7));
        }
        body
    };
    let alice = create_all(&app, "alice", (0..60).map(body).collect()).await;
    create_all(&app, "bob", (0..60).map(body).collect()).await;
    for n in (0..60).step_by(2) {
        let resp = app
            .update_task("alice", alice[n], &json!({"complete": true}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let invoices: Vec<i64> = (0..60).filter(|n| n % 3 == 0).map(|n| alice[n]).collect();
    let work: Vec<i64> = (0..60).filter(|n| n % 4 == 0).map(|n| alice[n]).collect();
    let open_invoices: Vec<i64> = (0..60)
        .filter(|n| n % 3 == 0 && n % 2 == 1)
        .map(|n| alice[n])
        .collect();
    let sorted = |mut ids: Vec<i64>, descending: bool| {
        ids.sort_unstable();
        if descending {
            ids.reverse();
        }
        ids
    };
    for (filter, matching) in [
        ("q=invoice", &invoices),
        ("q=nvoic&complete=false", &open_invoices),
        ("tag=WORK", &work),
    ] {
        for (sort, descending) in [("id", false), ("-id", true)] {
            let expected = sorted(matching.clone(), descending);
            for limit in [1, 7, 100] {
                let query = format!("{filter}&sort={sort}&limit={limit}");
                assert_eq!(walk(&app, "alice", &query).await, expected, "?{query}");
                let (_, first) = list(&app, "alice", &query).await;
                assert_eq!(first["total"], matching.len(), "total of ?{query}");
            }
        }
        // Sorted by due, every match comes once (the order itself is checked elsewhere).
        let query = format!("{filter}&sort=due&limit=5");
        assert_eq!(
            sorted(walk(&app, "alice", &query).await, false),
            sorted(matching.clone(), false),
            "?{query}"
        );
    }
    // After a delete and a retitle the search follows, in the same order.
    let gone = invoices[2];
    assert_eq!(
        app.delete_task("alice", gone).await.status(),
        StatusCode::NO_CONTENT
    );
    let renamed = alice[1];
    app.update_task("alice", renamed, &json!({"title": "late invoice"}))
        .await;
    let mut expected: Vec<i64> = invoices.iter().copied().filter(|&id| id != gone).collect();
    expected.push(renamed);
    let expected = sorted(expected, false);
    assert_eq!(walk(&app, "alice", "q=invoice&limit=4").await, expected);
    let (_, first) = list(&app, "alice", "q=invoice&limit=4").await;
    assert_eq!(first["total"], expected.len());
}

#[apply(every_backend)]
#[tokio::test]
async fn a_cursor_only_continues_the_list_it_came_from(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    create_all(
        &app,
        "alice",
        (0..6)
            .map(|n| json!({"title": format!("t{n}"), "tags": ["a"]}))
            .collect(),
    )
    .await;
    let (_, first) = list(&app, "alice", "tag=a&sort=-id&limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();

    for (query, named) in [
        ("tag=b&sort=-id", "(tag)"),
        ("sort=-id", "(tag)"),
        ("tag=a&sort=id", "(sort)"),
        ("tag=a", "(sort)"),
        ("tag=a&sort=-id&complete=false", "(complete)"),
        ("tag=a&sort=-id&q=abc&tz=Europe%2FParis", "(q, tz)"),
    ] {
        let path = format!("/api/alice/tasks?{query}&cursor={cursor}");
        let resp = send(&app, Method::GET, &path, "alice").await;
        let (_, body) = assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert!(
            body["detail"].as_str().unwrap().contains(named),
            "?{query}: {body}"
        );
    }
    // The same filters written differently are the same list.
    let (_, second) = list(
        &app,
        "alice",
        &format!("tag=A&sort=-id&limit=3&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["count"], 3);

    // Another user presenting the cursor is refused, even with the same parameters.
    let path = format!("/api/bob/tasks?tag=a&sort=-id&cursor={cursor}");
    let resp = send(&app, Method::GET, &path, "bob").await;
    let (_, body) = assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert!(
        body["detail"].as_str().unwrap().contains("another user"),
        "{body}"
    );

    // Garbage and tampered cursors are a 400, never a 500.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(b64.decode(&cursor).unwrap()).unwrap();
    let tampered = [
        b64.encode(json.replace("\"i\":", "\"i\":\"x\",\"j\":")),
        b64.encode(json.replace("\"v\":1", "\"v\":2")),
        b64.encode(r#"{"v":1,"u":"00000000","s":"-id","k":1,"i":1}"#),
        b64.encode("[]"),
        b64.encode(&json[..json.len() / 2]),
        format!("{cursor}x"),
        "%FF%FE".to_owned(),
        "not a cursor".replace(' ', "%20"),
        "A".repeat(5000),
    ];
    for bad in tampered {
        let path = format!("/api/alice/tasks?tag=a&sort=-id&cursor={bad}");
        let resp = send(&app, Method::GET, &path, "alice").await;
        assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    // An edited position only moves within alice's own list.
    let moved = b64.encode(json.replacen("\"k\":", "\"k\":1000000,\"_\":", 1));
    let path = format!("/api/alice/tasks?tag=a&sort=-id&cursor={moved}");
    let resp = send(&app, Method::GET, &path, "alice").await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn a_walk_never_repeats_or_skips_while_others_write(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let initial = create_all(
        &app,
        "alice",
        (0..1000)
            .map(|n| {
                let mut task = json!({
                    "title": format!("task {n:04}"),
                    "priority": (["low", "high"][n % 2]),
                    "tags": if n % 2 == 0 { json!(["t"]) } else { json!([]) },
                });
                // Due days and instants interleaved on the same days, and tasks without.
                let day = 1 + n % 28;
                match n % 3 {
                    0 => task["due_date"] = json!(format!("2026-12-{day:02}")),
                    1 => task["due_at"] = json!(format!("2026-12-{day:02}T{:02}:00:00Z", n % 24)),
                    _ => {}
                }
                task
            })
            .collect(),
    )
    .await;
    // The tasks tagged `t`: every other one, in creation order.
    let tagged: BTreeSet<i64> = initial.iter().copied().step_by(2).collect();
    // The writer deletes every third of the initial tasks and creates new ones while the
    // reader walks in pages of 7, for each order (and a tag's due order).
    let deleted = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let all: BTreeSet<i64> = initial.iter().copied().collect();
    for sort in [
        "sort=id",
        "sort=-priority",
        "sort=title",
        "sort=due",
        "tag=t&sort=-due",
    ] {
        let expected = if sort.starts_with("tag=") {
            &tagged
        } else {
            &all
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let app = TestApp::attach(app.address.clone(), app.backend);
            let (stop, deleted) = (stop.clone(), deleted.clone());
            let victims: Vec<i64> = initial
                .iter()
                .copied()
                .skip(sort.len() % 3)
                .step_by(3)
                .collect();
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < victims.len() {
                    let victim = victims[n];
                    if app.delete_task("alice", victim).await.status() == StatusCode::NO_CONTENT {
                        deleted.lock().unwrap().insert(victim);
                    }
                    app.create_task_ok("alice", &format!("new {sort} {n}"))
                        .await;
                    n += 1;
                }
            })
        };
        let walked = walk(&app, "alice", &format!("{sort}&limit=7")).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.await.unwrap();
        let seen: BTreeSet<i64> = walked.iter().copied().collect();
        assert_eq!(seen.len(), walked.len(), "no task twice ({sort})");
        let deleted = deleted.lock().unwrap().clone();
        for id in expected {
            if !deleted.contains(id) {
                assert!(
                    seen.contains(id),
                    "task {id} existed throughout and was skipped ({sort})"
                );
            }
        }
        assert!(!deleted.is_empty(), "the writer ran during the walk");
    }
    // A count per page: 1000 tasks in pages of 7 at rest is 143 pages.
    let mut pages: HashMap<usize, usize> = HashMap::new();
    let mut cursor = String::new();
    loop {
        let (_, body) = list(&app, "alice", &format!("limit=7{cursor}")).await;
        *pages
            .entry(body["count"].as_u64().unwrap() as usize)
            .or_default() += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let total: usize = pages.iter().map(|(size, n)| size * n).sum();
    let (_, body) = list(&app, "alice", "limit=1").await;
    assert_eq!(total as i64, body["total"].as_i64().unwrap());
}

#[apply(every_backend)]
#[tokio::test]
async fn clear_completed_deletes_only_the_users_complete_tasks(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    let mut alice = create_all(
        &app,
        "alice",
        (0..5)
            .map(|n| json!({"title": format!("a{n}"), "tags": ["x"]}))
            .collect(),
    )
    .await;
    alice.sort_unstable();
    let bob = app.create_task_ok("bob", "bob's").await["id"]
        .as_i64()
        .unwrap();
    let cleared_title =
        assert_json(app.get_task("alice", alice[1]).await, StatusCode::OK).await["title"]
            .as_str()
            .unwrap()
            .to_owned();
    for id in [alice[1], alice[3]] {
        app.update_task("alice", id, &json!({"complete": true}))
            .await;
    }
    app.update_task("bob", bob, &json!({"complete": true}))
        .await;

    for query in ["", "?complete=false", "?complete=yes", "?complete="] {
        let path = format!("/api/alice/tasks{query}");
        let resp = send(&app, Method::DELETE, &path, "alice").await;
        assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    let (_, body) = list(&app, "alice", "").await;
    assert_eq!(body["total"], 5, "a refused clear deletes nothing");

    let path = "/api/alice/tasks?complete=true";
    let resp = send(&app, Method::DELETE, path, "alice").await;
    assert_eq!(
        assert_json(resp, StatusCode::OK).await,
        json!({"deleted": 2})
    );
    let (_, body) = list(&app, "alice", "").await;
    assert_eq!(ids(&body), [alice[0], alice[2], alice[4]]);
    assert_eq!(body["total"], 3, "the unfiltered total follows the clear");
    let (_, body) = list(&app, "bob", "").await;
    assert_eq!(body["total"], 1);
    let tags = assert_json(app.list_tags("alice").await, StatusCode::OK).await;
    assert_eq!(tags, json!({"tags": [{"name": "x", "count": 3}]}));
    let resp = send(&app, Method::DELETE, path, "alice").await;
    assert_eq!(
        assert_json(resp, StatusCode::OK).await,
        json!({"deleted": 0})
    );
    // Bob's completed task is still there; alice cannot clear bob's list.
    assert_eq!(app.get_task("bob", bob).await.status(), StatusCode::OK);
    let resp = send(
        &app,
        Method::DELETE,
        "/api/bob/tasks?complete=true",
        "alice",
    )
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
    // Search no longer finds a cleared task.
    let (_, body) = list(&app, "alice", &format!("q={cleared_title}")).await;
    assert_eq!(body["total"], 0);
    let (_, body) = list(&app, "alice", "q=a").await;
    assert_eq!(body["total"], 3);
}

/// 50,000 tasks: 5,000 of `big`, 500 of `mid`, the rest over 50 other users, a third due at an instant, a third on a day, every
/// seventh tagged `work`, written straight into the database, then statistics gathered, so the
/// planner chooses as it would on a real database.
async fn seed_for_plans(app: &TestApp) {
    app.execute_batch(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000) \
         INSERT INTO tasks (id, user_id, title, title_key, search_text, complete, \
           created_at, updated_at, priority, due_at, due_date) \
         SELECT x, CASE WHEN x % 100 = 1 THEN 'mid' WHEN x % 10 = 0 THEN 'big' ELSE 'u' || (x % 50) END, 'task ' || x, 'task ' || x, 'task ' || x, x % 2, x, x, \
           x % 4, CASE WHEN x % 3 = 0 THEN 1700000000000 + x END, \
           CASE WHEN x % 3 = 1 THEN printf('2026-12-%02d', 1 + x % 28) END FROM n; \
         INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, updated_at, \
           priority, title_key, due_at, due_date) \
           SELECT user_id, 'work', id, 'work', created_at, updated_at, priority, \
           title_key, due_at, due_date FROM tasks WHERE id % 7 = 0; \
         ANALYZE;",
        "INSERT INTO tasks (user_id, title, title_key, search_text, complete, \
           created_at, updated_at, priority, due_at, due_date) \
         SELECT CASE WHEN x % 100 = 1 THEN 'mid' WHEN x % 10 = 0 THEN 'big' ELSE 'u' || (x % 50) END, 'task ' || x, 'task ' || x, 'task ' || x, x % 2 = 1, \
           x, x, x % 4, CASE WHEN x % 3 = 0 THEN 1700000000000 + x END, \
           CASE WHEN x % 3 = 1 THEN '2026-12-' || lpad((1 + x % 28)::text, 2, '0') END \
         FROM generate_series(1, 50000) AS x; \
         INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, updated_at, \
           priority, title_key, due_at, due_date) \
           SELECT user_id, 'work', id, 'work', created_at, updated_at, priority, \
           title_key, due_at, due_date FROM tasks WHERE id % 7 = 0; \
         ANALYZE tasks; ANALYZE task_tags;",
    )
    .await;
}

#[apply(every_backend)]
#[tokio::test]
async fn each_list_statement_reads_its_index(backend: Backend) {
    use todo_api::{
        domain::UserId,
        store::{AnyStore, open},
        tasks::{ListParams, ListRequest},
    };
    let app = spawn_or_skip!(backend, unlimited);
    seed_for_plans(&app).await;
    let store = open(&app.settings.database.url, &app.settings.database)
        .await
        .unwrap();
    let (sqlite, postgres) = (backend == Backend::Sqlite, backend == Backend::Postgres);
    let param = |sort: &str| ListParams {
        sort: Some(sort.to_owned()),
        ..ListParams::default()
    };
    let work_by = |sort: &str| ListParams {
        tag: vec!["work".into()],
        ..param(sort)
    };
    // A user's tasks in id order: SQLite keeps the table itself in that order (migration 6),
    // PostgreSQL has an index for it.
    let order_by_id = if sqlite {
        "SEARCH tasks USING PRIMARY KEY (user_id=?)"
    } else {
        "tasks_user_id_id"
    };
    // The tasks of a tag in id order: the primary key of task_tags on SQLite. PostgreSQL may
    // also walk task_tags_task_id, which is in id order too, when its statistics say the tag's
    // tasks are common enough (here every seventh task); either is an index of task_tags.
    let tags_by_id = if sqlite {
        "SEARCH task_tags USING PRIMARY KEY (user_id=? AND tag_key=?"
    } else {
        "Index Scan using task_tags_"
    };
    // (owner, parameters, the index each page statement must read, in order). Orders are read
    // for a user with a small share of the table; search and tags for one with many tasks, where
    // scanning their rows is what the index must avoid.
    let cases: Vec<(&str, ListParams, Vec<&str>)> = vec![
        ("mid", ListParams::default(), vec![order_by_id]),
        ("mid", param("-id"), vec![order_by_id]),
        ("mid", param("created_at"), vec!["tasks_user_created"]),
        ("mid", param("-updated_at"), vec!["tasks_user_updated"]),
        ("mid", param("-priority"), vec!["tasks_user_priority"]),
        ("mid", param("title"), vec!["tasks_user_title"]),
        (
            "mid",
            param("due"),
            vec!["tasks_user_due_at", "tasks_user_due_date", order_by_id],
        ),
        (
            "big",
            ListParams {
                q: Some("task 4321".into()),
                ..ListParams::default()
            },
            // PostgreSQL weighs the trigram index against this user's rows by its statistics
            // (bench/ measures the 100,000-task user); only a whole-table scan is ruled out.
            vec![if sqlite {
                "task_search VIRTUAL TABLE"
            } else {
                ""
            }],
        ),
        ("big", work_by("id"), vec![tags_by_id]),
        (
            "big",
            work_by("due"),
            vec!["task_tags_due_at", "task_tags_due_date", tags_by_id],
        ),
        ("big", work_by("-title"), vec!["task_tags_title"]),
        ("big", work_by("updated_at"), vec!["task_tags_updated"]),
    ];
    for (owner, params, indexes) in cases {
        let owner = UserId::new(owner);
        let request = ListRequest::parse(&owner, &params, 0).unwrap();
        let plans = match &store {
            AnyStore::Sqlite(s) => s.explain_list(&owner, request.query).await,
            AnyStore::Postgres(s) => s.explain_list(&owner, request.query).await,
        }
        .unwrap();
        eprintln!("{params:?}\n{}\n", plans.join("\n--\n"));
        if sqlite && params.q.is_some() {
            // FTS5 names its rowid bounds `>` and `<`: the count and the page read only the
            // owner's range of the search index, not every owner's matches.
            for plan in &plans {
                assert!(
                    plan.contains("task_search VIRTUAL TABLE INDEX") && plan.contains("><"),
                    "{params:?} must search within the owner's range:\n{plan}"
                );
            }
        }
        let pages = &plans[1..];
        assert_eq!(pages.len(), indexes.len(), "{params:?}: {plans:?}");
        for (plan, index) in pages.iter().zip(indexes) {
            assert!(
                plan.contains(index),
                "{params:?} must read {index}:\n{plan}"
            );
            if sqlite {
                assert!(
                    !plan.lines().any(|l| l.trim_start() == "SCAN tasks"),
                    "{params:?} scans the whole table:\n{plan}"
                );
                if params.q.is_none() && params.tag.is_empty() {
                    assert!(
                        !plan.contains("TEMP B-TREE FOR ORDER BY"),
                        "{params:?} sorts instead of reading in index order:\n{plan}"
                    );
                }
                if !params.tag.is_empty() {
                    // The walk of the tag's index is in order; only the page's own rows, read
                    // after it by the table's key, may be sorted (a due order's instants and
                    // days read no task: their ids are merged first).
                    let reads_tasks = plan.contains("SEARCH tasks ");
                    assert!(
                        plan.matches("TEMP B-TREE FOR ORDER BY").count() <= 1
                            && (!reads_tasks
                                || plan.contains(
                                    "SEARCH tasks USING PRIMARY KEY (user_id=? AND id=?)"
                                )),
                        "{params:?} sorts the tag's tasks or reads them another way:\n{plan}"
                    );
                }
            }
            if postgres {
                assert!(
                    !plan.contains("Seq Scan on tasks") && !plan.contains("Seq Scan on task_tags"),
                    "{params:?} scans the whole table:\n{plan}"
                );
            }
        }
    }
}

/// The total of `user`'s list with `query`.
async fn total(app: &TestApp, user: &str, query: &str) -> i64 {
    list(app, user, query).await.1["total"].as_i64().unwrap()
}

#[apply(every_backend)]
#[tokio::test]
async fn a_filtered_total_follows_every_write_of_its_owner(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    for title in ["invoice a", "invoice b", "other"] {
        app.create_task_from("alice", &json!({"title": title, "tags": ["x", "y"]}))
            .await;
    }
    let filters = [
        "q=invoice",
        "q=invoice&complete=false",
        "complete=false",
        "tag=x&tag=y",
    ];
    let totals = |expected: [i64; 4]| {
        let app = &app;
        async move {
            for (query, expected) in filters.iter().zip(expected) {
                // Twice: counted, then reused while alice writes nothing.
                assert_eq!(total(app, "alice", query).await, expected, "{query}");
                assert_eq!(total(app, "alice", query).await, expected, "{query}");
            }
        }
    };
    totals([2, 2, 3, 3]).await;

    // A create, a change of text, a completion, a change of tags, a delete, a clear: each one
    // is counted again.
    app.create_task_from("alice", &json!({"title": "invoice c"}))
        .await;
    totals([3, 3, 4, 3]).await;
    let resp = app
        .update_task("alice", 3, &json!({"title": "invoice other"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    totals([4, 4, 4, 3]).await;
    assert_eq!(app.toggle_task("alice", 1).await.status(), StatusCode::OK);
    totals([4, 3, 3, 3]).await;
    let resp = app.update_task("alice", 2, &json!({"tags": ["x"]})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    totals([4, 3, 3, 2]).await;
    assert_eq!(
        app.delete_task("alice", 4).await.status(),
        StatusCode::NO_CONTENT
    );
    totals([3, 2, 2, 2]).await;
    let resp = app
        .authorized(Method::DELETE, "/api/alice/tasks?complete=true", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(resp, StatusCode::OK).await["deleted"], 1);
    totals([2, 2, 2, 1]).await;

    // Another owner's writes are theirs: alice's totals stand, bob's are his own.
    app.create_task_from("bob", &json!({"title": "invoice bob", "tags": ["x", "y"]}))
        .await;
    totals([2, 2, 2, 1]).await;
    assert_eq!(total(&app, "bob", "q=invoice").await, 1);
    assert_eq!(total(&app, "bob", "tag=x&tag=y").await, 1);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_filtered_total_is_reused_while_its_owner_revision_holds(backend: Backend) {
    let app = spawn_or_skip!(backend, unlimited);
    for title in ["invoice a", "invoice b"] {
        app.create_task_ok("alice", title).await;
    }
    assert_eq!(total(&app, "alice", "q=invoice").await, 2);
    // Change a task's text behind the service's back, without its triggers: the revision does
    // not move, so the service answers with the total it counted (the page itself is read
    // again). The next write through the service counts again.
    app.execute_batch(
        "INSERT INTO task_search (task_search, rowid, search_text) \
         SELECT 'delete', (owner_no << 36) | 1, 'invoice a' \
         FROM task_owners WHERE user_id = 'alice'",
        "SET session_replication_role = replica; \
         UPDATE tasks SET search_text = 'renamed' WHERE id = 1",
    )
    .await;
    let (_, body) = list(&app, "alice", "q=invoice").await;
    assert_eq!(body["total"], 2, "the kept total");
    assert_eq!(body["count"], 1, "the page is read again");
    app.create_task_ok("alice", "unrelated").await;
    assert_eq!(total(&app, "alice", "q=invoice").await, 1);
}
