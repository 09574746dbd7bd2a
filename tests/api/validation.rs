//! Schema validation: JSON that parses but breaks the contract is a 422 naming each field at
//! fault, and never changes stored data.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, assert_error, error_locs, every_backend, spawn_or_skip};

#[apply(every_backend)]
#[tokio::test]
async fn titles_of_1_and_200_characters_are_accepted_exactly_as_sent(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for title in [
        "a".to_owned(),
        "a".repeat(200),
        "🦀".repeat(200),
        "é".repeat(200),
        "  padded\ttitle  ".to_owned(),
        "日本語のタスク".to_owned(),
    ] {
        let resp = app.create_task("alice", &json!({ "title": title })).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "{title:?}");
        let task: Value = resp.json().await.unwrap();
        assert_eq!(task["title"], title.as_str());
        let fetched: Value = app
            .get_task("alice", &task["id"])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(fetched["title"], title.as_str(), "stored exactly as sent");
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn descriptions_of_1000_characters_are_accepted_and_1001_rejected(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let ok = app
        .create_task(
            "alice",
            &json!({"title": "t", "description": "ü".repeat(1000)}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);

    let resp = app
        .create_task(
            "alice",
            &json!({"title": "t", "description": "d".repeat(1001)}),
        )
        .await;
    let (_, body) = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    assert_eq!(error_locs(&body), ["body.description"]);
    assert_eq!(body["errors"][0]["type"], "string_too_long");
}

/// (case, body, expected locs, expected type of the first error)
fn invalid_creates() -> Vec<(&'static str, Value, Vec<&'static str>, &'static str)> {
    vec![
        (
            "201 characters",
            json!({"title": "a".repeat(201)}),
            vec!["body.title"],
            "string_too_long",
        ),
        (
            "201 multi-byte characters",
            json!({"title": "🦀".repeat(201)}),
            vec!["body.title"],
            "string_too_long",
        ),
        (
            "empty title",
            json!({"title": ""}),
            vec!["body.title"],
            "string_blank",
        ),
        (
            "blank title",
            json!({"title": "   \t\n"}),
            vec!["body.title"],
            "string_blank",
        ),
        (
            "NUL in the title (PostgreSQL cannot store it)",
            json!({"title": "a\u{0}b"}),
            vec!["body.title"],
            "string_pattern_mismatch",
        ),
        (
            "NUL in the description",
            json!({"title": "t", "description": "\u{0}"}),
            vec!["body.description"],
            "string_pattern_mismatch",
        ),
        (
            "missing title",
            json!({"description": "x"}),
            vec!["body.title"],
            "missing",
        ),
        (
            "null title",
            json!({"title": null}),
            vec!["body.title"],
            "missing",
        ),
        (
            "numeric title",
            json!({"title": 42}),
            vec!["body.title"],
            "string_type",
        ),
        (
            "array title",
            json!({"title": ["a"]}),
            vec!["body.title"],
            "string_type",
        ),
        (
            "numeric description",
            json!({"title": "a", "description": 7}),
            vec!["body.description"],
            "string_type",
        ),
        (
            "unknown field",
            json!({"title": "a", "completed": true}),
            vec!["body.completed"],
            "extra_forbidden",
        ),
        (
            "complete on create",
            json!({"title": "a", "complete": true}),
            vec!["body.complete"],
            "extra_forbidden",
        ),
        (
            "array body",
            json!([{"title": "a"}]),
            vec!["body"],
            "object_type",
        ),
        ("string body", json!("a"), vec!["body"], "object_type"),
        ("null body", json!(null), vec!["body"], "object_type"),
        (
            "several problems at once",
            json!({"title": "", "description": 1, "extra": 1}),
            vec!["body.title", "body.description", "body.extra"],
            "string_blank",
        ),
    ]
}

#[apply(every_backend)]
#[tokio::test]
async fn invalid_create_bodies_are_422_naming_each_field_and_store_nothing(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for (case, body, locs, kind) in invalid_creates() {
        let resp = app.create_task("alice", &body).await;
        let (_, err) =
            assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(error_locs(&err), locs, "{case}");
        assert_eq!(err["errors"][0]["type"], kind, "{case}: {err}");
        assert!(
            err["errors"][0]["msg"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{case}"
        );
    }
    let list: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(list["count"], 0, "nothing was stored");
}

#[apply(every_backend)]
#[tokio::test]
async fn invalid_replacements_and_updates_are_422_and_leave_the_task_unchanged(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "original").await;
    let id = &task["id"];

    let replacements = [
        (
            json!({"title": "x", "complete": true}),
            vec!["body.description"],
        ),
        (
            json!({"title": "x", "description": null}),
            vec!["body.complete"],
        ),
        (
            json!({"description": null, "complete": true}),
            vec!["body.title"],
        ),
        (
            json!({"title": "x", "description": null, "complete": null}),
            vec!["body.complete"],
        ),
        (
            json!({"title": "x", "description": null, "complete": "yes"}),
            vec!["body.complete"],
        ),
        (
            json!({"title": "x", "description": null, "complete": 1}),
            vec!["body.complete"],
        ),
        (
            json!({"title": "x", "description": null, "complete": true, "completed": true}),
            vec!["body.completed"],
        ),
    ];
    for (body, locs) in replacements {
        let resp = app.replace_task("alice", id, &body).await;
        let (_, err) =
            assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(error_locs(&err), locs, "PUT {body}");
    }

    let updates = [
        (json!({"title": null}), vec!["body.title"]),
        (json!({"title": " "}), vec!["body.title"]),
        (json!({"title": "a".repeat(201)}), vec!["body.title"]),
        (json!({"complete": null}), vec!["body.complete"]),
        (json!({"complete": "true"}), vec!["body.complete"]),
        (
            json!({"description": "d".repeat(1001)}),
            vec!["body.description"],
        ),
        (json!({"completed": true}), vec!["body.completed"]),
    ];
    for (body, locs) in updates {
        let resp = app.update_task("alice", id, &body).await;
        let (_, err) =
            assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(error_locs(&err), locs, "PATCH {body}");
    }

    let after: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(after, task, "the task is unchanged");
}
