//! `GET /api/{user_id}/tags`: the user's tags, each with the number of their tasks carrying it,
//! matched case-insensitively and ordered by name case-insensitively; never another user's.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, assert_error, assert_json, every_backend, spawn_or_skip};

/// The user's tags as (lowercase name, count), in the order listed, after checking the shape of
/// the answer: exactly `{"tags": [{"name": …, "count": …}, …]}`, ordered by name
/// case-insensitively.
async fn tags(app: &TestApp, user: &str) -> Vec<(String, i64)> {
    let body = assert_json(app.list_tags(user).await, StatusCode::OK).await;
    let object = body.as_object().expect("an object");
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["tags"],
        "keys of {body}"
    );
    let entries = body["tags"].as_array().expect("a tags array");
    let listed: Vec<(String, i64)> = entries
        .iter()
        .map(|entry| {
            let mut keys: Vec<&String> =
                entry.as_object().expect("an entry object").keys().collect();
            keys.sort();
            assert_eq!(keys, ["count", "name"], "keys of {entry}");
            let name = entry["name"].as_str().expect("a name string");
            let count = entry["count"].as_i64().expect("an integer count");
            assert!(count >= 1, "only tags in use are listed: {entry}");
            (name.to_lowercase(), count)
        })
        .collect();
    let mut unique: Vec<&String> = listed.iter().map(|(name, _)| name).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "each tag once: {body}");
    // The order of ASCII names is certain; where others go is the database's collation.
    let ascii: Vec<&String> = listed
        .iter()
        .map(|(name, _)| name)
        .filter(|name| name.is_ascii())
        .collect();
    assert!(
        ascii.windows(2).all(|w| w[0] < w[1]),
        "ordered by name case-insensitively: {body}"
    );
    listed
}

fn expect(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

async fn create(app: &TestApp, user: &str, title: &str, tags: Value) -> Value {
    app.create_task_from(user, &json!({"title": title, "tags": tags}))
        .await
}

#[apply(every_backend)]
#[tokio::test]
async fn a_user_without_tags_gets_an_empty_list(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let resp = app.list_tags("alice").await;
    assert_eq!(
        assert_json(resp, StatusCode::OK).await,
        json!({"tags": []}),
        "no task at all"
    );

    app.create_task_ok("alice", "untagged").await;
    create(&app, "alice", "empty list", json!([])).await;
    let resp = app.list_tags("alice").await;
    assert_eq!(
        assert_json(resp, StatusCode::OK).await,
        json!({"tags": []}),
        "tasks without tags"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn tags_are_listed_with_the_number_of_tasks_carrying_them_ordered_by_name_case_insensitively(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    create(&app, "alice", "a", json!(["Work"])).await;
    create(&app, "alice", "b", json!(["work", "home"])).await;
    create(&app, "alice", "c", json!(["WORK", "errands", "Zebra"])).await;
    create(&app, "alice", "d", json!(["apple"])).await;
    // A completed task counts too.
    let done = create(&app, "alice", "e", json!(["Banana"])).await;
    assert_json(app.toggle_task("alice", &done["id"]).await, StatusCode::OK).await;

    assert_eq!(
        tags(&app, "alice").await,
        expect(&[
            ("apple", 1),
            ("banana", 1),
            ("errands", 1),
            ("home", 1),
            ("work", 3),
            ("zebra", 1),
        ])
    );

    // The name shown is one of the spellings used.
    let body = assert_json(app.list_tags("alice").await, StatusCode::OK).await;
    let work = body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str().unwrap().to_lowercase() == "work")
        .unwrap();
    assert!(
        ["Work", "work", "WORK"].contains(&work["name"].as_str().unwrap()),
        "{work}"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn tags_differing_only_in_case_are_one_tag_beyond_ascii_too(backend: Backend) {
    let app = spawn_or_skip!(backend);
    create(&app, "alice", "a", json!(["ÉTÉ"])).await;
    create(&app, "alice", "b", json!(["été"])).await;
    create(&app, "alice", "c", json!(["Été", "ÄRGER"])).await;
    create(&app, "alice", "d", json!(["ärger"])).await;

    let mut listed = tags(&app, "alice").await;
    // (Where non-ASCII names sort is the database's collation: only the counts are asserted.)
    listed.sort();
    assert_eq!(listed, expect(&[("ärger", 2), ("été", 3)]));
}

#[apply(every_backend)]
#[tokio::test]
async fn another_users_tags_never_appear(backend: Backend) {
    let app = spawn_or_skip!(backend);
    create(&app, "alice", "mine", json!(["shared", "alice only"])).await;
    create(&app, "bob", "his", json!(["Shared", "bob only"])).await;
    create(&app, "bob", "his too", json!(["shared"])).await;

    assert_eq!(
        tags(&app, "alice").await,
        expect(&[("alice only", 1), ("shared", 1)])
    );
    assert_eq!(
        tags(&app, "bob").await,
        expect(&[("bob only", 1), ("shared", 2)])
    );
    assert_eq!(
        assert_json(app.list_tags("carol").await, StatusCode::OK).await,
        json!({"tags": []})
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn changing_a_tasks_tags_or_deleting_it_updates_the_counts(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let a = create(&app, "alice", "a", json!(["work", "home"])).await;
    let b = create(&app, "alice", "b", json!(["Work"])).await;
    assert_eq!(
        tags(&app, "alice").await,
        expect(&[("home", 1), ("work", 2)])
    );

    // PATCH replaces the task's tags.
    assert_json(
        app.update_task("alice", &a["id"], &json!({"tags": ["home", "garden"]}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        tags(&app, "alice").await,
        expect(&[("garden", 1), ("home", 1), ("work", 1)])
    );

    // PUT with tags replaces them; PUT without leaves them.
    assert_json(
        app.replace_task(
            "alice",
            &b["id"],
            &json!({"title": "b", "description": null, "complete": false, "tags": ["garden"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_json(
        app.replace_task(
            "alice",
            &a["id"],
            &json!({"title": "a2", "description": null, "complete": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        tags(&app, "alice").await,
        expect(&[("garden", 2), ("home", 1)])
    );

    // Deleting a task takes its tags out of the counts.
    assert_eq!(
        app.delete_task("alice", &b["id"]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        tags(&app, "alice").await,
        expect(&[("garden", 1), ("home", 1)])
    );

    // Clearing the tags of the last task carrying them empties the list.
    assert_json(
        app.update_task("alice", &a["id"], &json!({"tags": []}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        assert_json(app.list_tags("alice").await, StatusCode::OK).await,
        json!({"tags": []})
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn the_next_occurrence_of_a_recurring_task_carries_its_tags_into_the_counts(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = app
        .create_task_from(
            "alice",
            &json!({"title": "daily", "tags": ["Routine"], "due_date": "2026-03-10", "recurrence": "FREQ=DAILY"}),
        )
        .await;
    assert_eq!(tags(&app, "alice").await, expect(&[("routine", 1)]));

    let done = assert_json(app.toggle_task("alice", &task["id"]).await, StatusCode::OK).await;

    assert!(done["next_occurrence_id"].as_i64().is_some(), "{done}");
    assert_eq!(tags(&app, "alice").await, expect(&[("routine", 2)]));
}

#[apply(every_backend)]
#[tokio::test]
async fn the_tags_endpoint_needs_a_valid_token_for_the_users_own_path(backend: Backend) {
    let app = spawn_or_skip!(backend);
    create(&app, "alice", "secret", json!(["private"])).await;
    let url = app.url(&TestApp::tags_path("alice"));

    let resp = app.client.get(&url).send().await.unwrap();
    let (headers, _) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    assert_eq!(headers["www-authenticate"], "Bearer");

    let resp = app
        .client
        .get(&url)
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    let (headers, _) = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );

    let resp = app
        .client
        .get(&url)
        .bearer_auth(app.token("bob"))
        .send()
        .await
        .unwrap();
    let (_, body) = assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
    assert!(!body.to_string().contains("private"), "{body}");
}
