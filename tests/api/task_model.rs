//! The richer task model: `priority`, `tags`, `due_at` / `due_date`, `time_zone`, `recurrence`,
//! and the read-only `completed_at` and `next_occurrence_id`: their defaults, how each is
//! normalised, what PUT and PATCH do with them, and the 422 that names every field at fault and
//! changes nothing.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_error, assert_json, assert_task_model, assert_timestamp,
    assert_validation, error_locs, every_backend, list_content, spawn_or_skip,
};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn get(app: &TestApp, user: &str, id: &Value) -> Value {
    assert_json(app.get_task(user, id).await, StatusCode::OK).await
}

async fn list(app: &TestApp, user: &str) -> Value {
    list_content(assert_json(app.list_tasks(user).await, StatusCode::OK).await)
}

/// PATCH `body` and return the task, asserting 200 and the task's shape.
async fn patch_ok(app: &TestApp, id: &Value, body: &Value) -> Value {
    let task = assert_json(app.update_task("alice", id, body).await, StatusCode::OK).await;
    assert_task_model(&task);
    task
}

/// PUT `body` and return the task, asserting 200 and the task's shape.
async fn put_ok(app: &TestApp, id: &Value, body: &Value) -> Value {
    let task = assert_json(app.replace_task("alice", id, body).await, StatusCode::OK).await;
    assert_task_model(&task);
    task
}

/// Let the clock move past the millisecond of the last write.
async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

/// A task with every settable field, and what the server answers for it.
fn full_body() -> Value {
    json!({
        "title": "Water the plants",
        "description": "balcony and kitchen",
        "priority": "high",
        "tags": ["  Home ", "garden", "HOME"],
        // A Monday, 09:00 in Berlin.
        "due_at": "2026-05-04T12:30:00+05:30",
        "time_zone": "Europe/Berlin",
        "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
    })
}

/// The new fields of the task `full_body` creates.
fn full_fields() -> Value {
    json!({
        "priority": "high",
        "tags": ["Home", "garden"],
        "due_at": "2026-05-04T07:00:00.000Z",
        "due_date": null,
        "time_zone": "Europe/Berlin",
        "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE",
        "completed_at": null,
        "next_occurrence_id": null,
    })
}

/// Assert `task` has every field of `fields` with that value.
fn assert_fields(task: &Value, fields: &Value) {
    for (key, value) in fields.as_object().unwrap() {
        assert_eq!(&task[key], value, "{key} of {task}");
    }
}

const NEW_FIELDS_DEFAULTS: &str = r#"{
    "priority": "none",
    "tags": [],
    "due_at": null,
    "due_date": null,
    "time_zone": null,
    "recurrence": null,
    "completed_at": null,
    "next_occurrence_id": null
}"#;

fn defaults() -> Value {
    serde_json::from_str(NEW_FIELDS_DEFAULTS).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The fields, their defaults and their normal forms

#[apply(every_backend)]
#[tokio::test]
async fn a_task_created_with_only_a_title_has_the_default_of_every_new_field(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for body in [
        json!({"title": "plain"}),
        json!({
            "title": "explicit defaults",
            "priority": "none",
            "tags": [],
            "due_at": null,
            "due_date": null,
            "time_zone": null,
            "recurrence": null,
        }),
    ] {
        let task = app.create_task_from("alice", &body).await;

        assert_task_model(&task);
        assert_fields(&task, &defaults());
        assert_eq!(task["complete"], false);
        assert_eq!(get(&app, "alice", &task["id"]).await, task, "GET of {body}");
    }
    let listed = list(&app, "alice").await;
    for task in listed["tasks"].as_array().unwrap() {
        assert_task_model(task);
        assert_fields(task, &defaults());
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn a_task_created_with_every_new_field_returns_them_normalised_and_reads_back_the_same(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);

    let resp = app.create_task("alice", &full_body()).await;

    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let task = assert_json(resp, StatusCode::CREATED).await;
    assert_task_model(&task);
    assert_eq!(location, Some(format!("/api/alice/tasks/{}", task["id"])));
    assert_fields(&task, &full_fields());
    assert_eq!(task["title"], "Water the plants");
    assert_eq!(task["description"], "balcony and kitchen");
    assert_eq!(task["complete"], false);
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["created_at"], task["updated_at"]);

    assert_eq!(get(&app, "alice", &task["id"]).await, task);
    assert_eq!(list(&app, "alice").await["tasks"], json!([task]));
}

#[apply(every_backend)]
#[tokio::test]
async fn every_priority_can_be_set_on_create_and_changed_by_put_and_patch(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let priorities = ["none", "low", "medium", "high"];

    for priority in priorities {
        let task = app
            .create_task_from("alice", &json!({"title": "p", "priority": priority}))
            .await;
        assert_eq!(task["priority"], priority);
        assert_eq!(get(&app, "alice", &task["id"]).await["priority"], priority);
    }

    let task = app.create_task_ok("alice", "changing").await;
    for priority in priorities.iter().rev() {
        let patched = patch_ok(&app, &task["id"], &json!({ "priority": priority })).await;
        assert_eq!(patched["priority"], *priority);
    }
    for priority in priorities {
        let replaced = put_ok(
            &app,
            &task["id"],
            &json!({"title": "changing", "description": null, "complete": false, "priority": priority}),
        )
        .await;
        assert_eq!(replaced["priority"], priority);
    }
    assert_eq!(get(&app, "alice", &task["id"]).await["priority"], "high");
}

#[apply(every_backend)]
#[tokio::test]
async fn due_at_accepts_any_rfc_3339_offset_and_is_returned_in_utc_with_milliseconds(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let cases = [
        ("2026-05-01T10:00:00+05:30", "2026-05-01T04:30:00.000Z"),
        ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00.000Z"),
        ("2026-05-01T10:00:00+00:00", "2026-05-01T10:00:00.000Z"),
        ("2026-05-01T10:00:00.123-07:00", "2026-05-01T17:00:00.123Z"),
        ("2026-12-31T23:30:00.5-01:00", "2027-01-01T00:30:00.500Z"),
        ("2026-03-29T02:30:00+01:00", "2026-03-29T01:30:00.000Z"),
    ];
    let patched = app.create_task_ok("alice", "moving").await;

    for (sent, expected) in cases {
        let task = app
            .create_task_from("alice", &json!({"title": "due", "due_at": sent}))
            .await;
        assert_eq!(task["due_at"], expected, "created with {sent}");
        assert_eq!(task["due_date"], Value::Null);
        assert_eq!(get(&app, "alice", &task["id"]).await["due_at"], expected);

        let task = patch_ok(&app, &patched["id"], &json!({ "due_at": sent })).await;
        assert_eq!(task["due_at"], expected, "patched with {sent}");
        assert_eq!(get(&app, "alice", &patched["id"]).await["due_at"], expected);
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn due_date_is_an_all_day_date_returned_as_sent_whatever_the_time_zone(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // Kiritimati is UTC+14 and Pago Pago UTC-11: a date converted through a time would shift.
    for time_zone in [
        Value::Null,
        json!("Pacific/Kiritimati"),
        json!("Pacific/Pago_Pago"),
    ] {
        for date in ["2026-02-28", "2028-02-29", "2026-12-31"] {
            let task = app
                .create_task_from(
                    "alice",
                    &json!({"title": "all day", "due_date": date, "time_zone": time_zone}),
                )
                .await;
            assert_eq!(task["due_date"], date, "in {time_zone}");
            assert_eq!(task["due_at"], Value::Null);
            assert_eq!(task["time_zone"], time_zone);
            let fetched = get(&app, "alice", &task["id"]).await;
            assert_eq!(fetched, task);
        }
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn setting_due_at_replaces_due_date_and_setting_due_date_replaces_due_at(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app
        .create_task_from("alice", &json!({"title": "d", "due_date": "2026-06-01"}))
        .await;
    let id = &task["id"];
    assert_eq!(
        (&task["due_at"], &task["due_date"]),
        (&Value::Null, &json!("2026-06-01"))
    );

    let steps = [
        // PATCH
        (
            "PATCH",
            json!({"due_at": "2026-06-01T09:00:00Z"}),
            json!("2026-06-01T09:00:00.000Z"),
            Value::Null,
        ),
        (
            "PATCH",
            json!({"due_date": "2026-06-02"}),
            Value::Null,
            json!("2026-06-02"),
        ),
        // A value for one and null for the other is not a conflict.
        (
            "PATCH",
            json!({"due_at": "2026-06-03T09:00:00Z", "due_date": null}),
            json!("2026-06-03T09:00:00.000Z"),
            Value::Null,
        ),
        (
            "PATCH",
            json!({"due_at": null, "due_date": "2026-06-04"}),
            Value::Null,
            json!("2026-06-04"),
        ),
        // null for the kind of due the task does not have clears nothing.
        (
            "PATCH",
            json!({"due_at": null}),
            Value::Null,
            json!("2026-06-04"),
        ),
        (
            "PATCH",
            json!({"due_at": "2026-06-04T09:00:00Z"}),
            json!("2026-06-04T09:00:00.000Z"),
            Value::Null,
        ),
        (
            "PATCH",
            json!({"due_date": null}),
            json!("2026-06-04T09:00:00.000Z"),
            Value::Null,
        ),
        // PUT
        (
            "PUT",
            json!({"title": "d", "description": null, "complete": false, "due_at": "2026-06-05T09:00:00Z"}),
            json!("2026-06-05T09:00:00.000Z"),
            Value::Null,
        ),
        (
            "PUT",
            json!({"title": "d", "description": null, "complete": false, "due_date": "2026-06-06"}),
            Value::Null,
            json!("2026-06-06"),
        ),
        (
            "PUT",
            json!({"title": "d", "description": null, "complete": false, "due_at": "2026-06-07T09:00:00Z", "due_date": null}),
            json!("2026-06-07T09:00:00.000Z"),
            Value::Null,
        ),
    ];
    for (method, body, due_at, due_date) in steps {
        let changed = if method == "PUT" {
            put_ok(&app, id, &body).await
        } else {
            patch_ok(&app, id, &body).await
        };
        assert_eq!(changed["due_at"], due_at, "{method} {body}");
        assert_eq!(changed["due_date"], due_date, "{method} {body}");
        assert_eq!(get(&app, "alice", id).await, changed);
    }

    // On create too, a value for one and null for the other is fine.
    let created = app
        .create_task_from(
            "alice",
            &json!({"title": "c", "due_at": "2026-06-08T09:00:00Z", "due_date": null}),
        )
        .await;
    assert_eq!(created["due_at"], "2026-06-08T09:00:00.000Z");
    assert_eq!(created["due_date"], Value::Null);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_time_zone_is_an_iana_name_kept_as_sent_and_null_clears_it(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "America/Argentina/Buenos_Aires",
        "UTC",
    ];

    for zone in zones {
        let task = app
            .create_task_from("alice", &json!({"title": "z", "time_zone": zone}))
            .await;
        assert_eq!(task["time_zone"], zone);
        assert_eq!(get(&app, "alice", &task["id"]).await["time_zone"], zone);
    }

    let task = app.create_task_ok("alice", "travelling").await;
    for zone in zones {
        assert_eq!(
            patch_ok(&app, &task["id"], &json!({ "time_zone": zone })).await["time_zone"],
            zone
        );
    }
    let cleared = patch_ok(&app, &task["id"], &json!({"time_zone": null})).await;
    assert_eq!(cleared["time_zone"], Value::Null);
    assert_eq!(get(&app, "alice", &task["id"]).await, cleared);
}

#[apply(every_backend)]
#[tokio::test]
async fn recurrence_rules_are_returned_in_canonical_form(backend: Backend) {
    let app = spawn_or_skip!(backend);
    // The canonical form: no `RRULE:` prefix, upper case, parts in RFC 5545 order, values
    // sorted, defaults (`INTERVAL=1`, `WKST=MO`) left out.
    let cases = [
        ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
        ("FREQ=DAILY", "FREQ=DAILY"),
        ("FREQ=MONTHLY;COUNT=3", "FREQ=MONTHLY;COUNT=3"),
        (
            "FREQ=DAILY;INTERVAL=2;COUNT=3",
            "FREQ=DAILY;COUNT=3;INTERVAL=2",
        ),
        ("rrule:freq=weekly;byday=we,mo", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("FREQ=WEEKLY;WKST=MO;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
    ];
    let patched = app
        .create_task_from(
            "alice",
            &json!({"title": "r", "due_at": "2026-05-04T07:00:00Z"}),
        )
        .await;

    for (sent, canonical) in cases {
        let task = app
            .create_task_from(
                "alice",
                &json!({"title": "r", "due_at": "2026-05-04T07:00:00Z", "recurrence": sent}),
            )
            .await;
        assert_eq!(task["recurrence"], canonical, "created with {sent}");
        assert_eq!(
            get(&app, "alice", &task["id"]).await["recurrence"],
            canonical
        );

        let task = patch_ok(&app, &patched["id"], &json!({ "recurrence": sent })).await;
        assert_eq!(task["recurrence"], canonical, "patched with {sent}");
    }
    let cleared = patch_ok(&app, &patched["id"], &json!({"recurrence": null})).await;
    assert_eq!(cleared["recurrence"], Value::Null);
    assert_eq!(
        cleared["due_at"], "2026-05-04T07:00:00.000Z",
        "the due stays"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn tags_are_trimmed_and_deduplicated_case_insensitively_keeping_the_first_spelling_and_order(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let sent = json!([
        "  Work ", "home", "WORK", " work", "Home", "errands", "Été", "ÉTÉ", "\tshop\n"
    ]);
    let kept = json!(["Work", "home", "errands", "Été", "shop"]);

    let task = app
        .create_task_from("alice", &json!({"title": "t", "tags": sent}))
        .await;
    assert_eq!(task["tags"], kept);
    assert_eq!(get(&app, "alice", &task["id"]).await["tags"], kept);

    let other = app.create_task_ok("alice", "patched").await;
    assert_eq!(
        patch_ok(&app, &other["id"], &json!({ "tags": sent })).await["tags"],
        kept
    );
    let replaced = put_ok(
        &app,
        &other["id"],
        &json!({"title": "patched", "description": null, "complete": false, "tags": ["b", "a", "B"]}),
    )
    .await;
    assert_eq!(
        replaced["tags"],
        json!(["b", "a"]),
        "order as sent, not sorted"
    );
    // A change of spelling alone is a change.
    assert_eq!(
        patch_ok(&app, &other["id"], &json!({"tags": ["B", "a"]})).await["tags"],
        json!(["B", "a"])
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn twenty_tags_of_fifty_characters_are_accepted_exactly(backend: Backend) {
    let app = spawn_or_skip!(backend);
    // 50 characters each, most of them two bytes in UTF-8.
    let tags: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "é".repeat(48)))
        .collect();
    assert!(tags.iter().all(|t| t.chars().count() == 50));

    let task = app
        .create_task_from("alice", &json!({"title": "many", "tags": tags}))
        .await;
    assert_eq!(task["tags"], json!(tags));
    assert_eq!(get(&app, "alice", &task["id"]).await["tags"], json!(tags));

    // 50 characters once trimmed: the surrounding whitespace does not count.
    let padded = format!("  {}\t", "x".repeat(50));
    let task = app
        .create_task_from("alice", &json!({"title": "padded", "tags": [padded]}))
        .await;
    assert_eq!(task["tags"], json!(["x".repeat(50)]));
}

// ---------------------------------------------------------------------------------------------
// PUT and PATCH

#[apply(every_backend)]
#[tokio::test]
async fn put_leaves_absent_new_fields_unchanged_and_null_or_an_empty_list_clears_them(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_from("alice", &full_body()).await;
    let id = &task["id"];

    // Only the required fields: every new field stays as it was.
    let renamed = put_ok(
        &app,
        id,
        &json!({"title": "renamed", "description": null, "complete": false}),
    )
    .await;
    assert_fields(&renamed, &full_fields());
    assert_eq!(renamed["title"], "renamed");
    assert_eq!(renamed["description"], Value::Null);
    assert_eq!(renamed["created_at"], task["created_at"]);
    assert!(renamed["updated_at"].as_str() > task["updated_at"].as_str());

    // Every new field sent: every one is set (a due_date replacing the due_at).
    let replaced = put_ok(
        &app,
        id,
        &json!({
            "title": "renamed",
            "description": "monthly now",
            "complete": false,
            "priority": "low",
            "tags": ["x", "Y"],
            "due_date": "2026-06-01",
            "time_zone": "Asia/Kolkata",
            "recurrence": "FREQ=MONTHLY",
        }),
    )
    .await;
    assert_fields(
        &replaced,
        &json!({
            "priority": "low",
            "tags": ["x", "Y"],
            "due_at": null,
            "due_date": "2026-06-01",
            "time_zone": "Asia/Kolkata",
            "recurrence": "FREQ=MONTHLY",
            "completed_at": null,
            "next_occurrence_id": null,
        }),
    );
    assert_eq!(replaced["description"], "monthly now");

    // null clears each nullable field and [] clears the tags; the absent priority stays.
    let cleared = put_ok(
        &app,
        id,
        &json!({
            "title": "renamed",
            "description": null,
            "complete": false,
            "tags": [],
            "due_date": null,
            "time_zone": null,
            "recurrence": null,
        }),
    )
    .await;
    let mut expected = defaults();
    expected["priority"] = json!("low");
    assert_fields(&cleared, &expected);

    assert_eq!(get(&app, "alice", id).await, cleared);
}

#[apply(every_backend)]
#[tokio::test]
async fn patch_changes_only_the_new_fields_sent_and_null_or_an_empty_list_clears_them(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_from("alice", &full_body()).await;
    let id = &task["id"];

    let steps = [
        (json!({"priority": "medium"}), json!({"priority": "medium"})),
        (
            json!({"tags": ["Errands", "errands", " shop "]}),
            json!({"tags": ["Errands", "shop"]}),
        ),
        (
            json!({"time_zone": "America/New_York"}),
            json!({"time_zone": "America/New_York"}),
        ),
        (
            json!({"recurrence": "FREQ=DAILY;INTERVAL=1"}),
            json!({"recurrence": "FREQ=DAILY"}),
        ),
        (
            json!({"due_at": "2026-06-01T08:00:00-04:00"}),
            json!({"due_at": "2026-06-01T12:00:00.000Z"}),
        ),
        (json!({"recurrence": null}), json!({"recurrence": null})),
        (json!({"due_at": null}), json!({"due_at": null})),
        (json!({"time_zone": null}), json!({"time_zone": null})),
        (json!({"tags": []}), json!({"tags": []})),
        (json!({"priority": "none"}), json!({"priority": "none"})),
        (
            json!({"title": "only the title"}),
            json!({"title": "only the title"}),
        ),
        (
            json!({"due_date": "2026-07-01", "tags": ["one"], "priority": "low"}),
            json!({"due_date": "2026-07-01", "tags": ["one"], "priority": "low"}),
        ),
    ];
    let mut expected = task.clone();
    for (body, changes) in steps {
        let before = expected["updated_at"].as_str().unwrap().to_owned();
        let changed = patch_ok(&app, id, &body).await;
        for (key, value) in changes.as_object().unwrap() {
            expected[key] = value.clone();
        }
        expected["updated_at"] = changed["updated_at"].clone();
        expected["version"] = json!(expected["version"].as_i64().unwrap() + 1);
        assert_eq!(changed, expected, "after PATCH {body}");
        assert!(
            changed["updated_at"].as_str().unwrap() > before.as_str(),
            "PATCH {body} moves updated_at forward"
        );
    }
    assert_eq!(get(&app, "alice", id).await, expected);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_patch_with_no_field_is_a_400_on_a_task_with_every_field_and_changes_nothing(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_from("alice", &full_body()).await;

    let resp = app.update_task("alice", &task["id"], &json!({})).await;

    assert_error(resp, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(get(&app, "alice", &task["id"]).await, task);
}

// ---------------------------------------------------------------------------------------------
// completed_at and next_occurrence_id

#[apply(every_backend)]
#[tokio::test]
async fn completed_at_is_the_instant_a_task_last_became_complete_and_reopening_clears_it(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "finish me").await;
    let id = &task["id"];
    assert_eq!(task["completed_at"], Value::Null);

    // Completed by the toggle, a moment after it was created.
    pause().await;
    let done = assert_json(app.toggle_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(done["complete"], true);
    assert_timestamp(&done["completed_at"]);
    let first = done["completed_at"].as_str().unwrap().to_owned();
    assert!(first.as_str() >= task["created_at"].as_str().unwrap());
    assert!(first.as_str() <= done["updated_at"].as_str().unwrap());
    assert!(first.as_str() > task["updated_at"].as_str().unwrap());
    assert_eq!(done["next_occurrence_id"], Value::Null, "it does not recur");

    // Writes that leave it complete keep the instant it became complete.
    let renamed = patch_ok(&app, id, &json!({"title": "finished"})).await;
    assert_eq!(renamed["completed_at"], first.as_str());
    let again = patch_ok(&app, id, &json!({"complete": true})).await;
    assert_eq!(again["completed_at"], first.as_str());
    let replaced = put_ok(
        &app,
        id,
        &json!({"title": "finished", "description": null, "complete": true}),
    )
    .await;
    assert_eq!(replaced["completed_at"], first.as_str());
    assert_eq!(get(&app, "alice", id).await["completed_at"], first.as_str());

    // Reopening clears it, whichever way.
    let reopened = assert_json(app.toggle_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(reopened["complete"], false);
    assert_eq!(reopened["completed_at"], Value::Null);

    // Completing it again records the new instant.
    pause().await;
    let redone = patch_ok(&app, id, &json!({"complete": true})).await;
    assert_timestamp(&redone["completed_at"]);
    let second = redone["completed_at"].as_str().unwrap().to_owned();
    assert!(second > first, "{second} > {first}");
    assert!(second.as_str() <= redone["updated_at"].as_str().unwrap());

    let reopened = put_ok(
        &app,
        id,
        &json!({"title": "finished", "description": null, "complete": false}),
    )
    .await;
    assert_eq!(reopened["completed_at"], Value::Null);
    pause().await;
    let by_put = put_ok(
        &app,
        id,
        &json!({"title": "finished", "description": null, "complete": true}),
    )
    .await;
    assert_timestamp(&by_put["completed_at"]);
    assert!(by_put["completed_at"].as_str().unwrap() > second.as_str());
    let reopened = patch_ok(&app, id, &json!({"complete": false})).await;
    assert_eq!(reopened["completed_at"], Value::Null);

    assert_eq!(get(&app, "alice", id).await, reopened);
}

#[apply(every_backend)]
#[tokio::test]
async fn completed_at_and_next_occurrence_id_are_read_only(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "read only").await;
    let id = &task["id"];

    for field in ["completed_at", "next_occurrence_id"] {
        let value = if field == "completed_at" {
            json!("2026-01-01T00:00:00.000Z")
        } else {
            json!(1)
        };
        let loc = format!("body.{field}");

        let resp = app
            .create_task("alice", &json!({"title": "x", field: value}))
            .await;
        assert_validation(resp, &[(&loc, "extra_forbidden")]).await;

        let resp = app
            .replace_task(
                "alice",
                id,
                &json!({"title": "x", "description": null, "complete": true, field: value}),
            )
            .await;
        assert_validation(resp, &[(&loc, "extra_forbidden")]).await;

        let resp = app.update_task("alice", id, &json!({ field: value })).await;
        assert_validation(resp, &[(&loc, "extra_forbidden")]).await;
    }
    assert_eq!(list(&app, "alice").await["tasks"], json!([task]));
}

// ---------------------------------------------------------------------------------------------
// Validation

/// The expected (loc, type) of every error of a validation failure.
type Errors = Vec<(&'static str, &'static str)>;

/// (case, body, the expected errors)
fn invalid_creates() -> Vec<(&'static str, Value, Errors)> {
    let due = "2026-05-04T07:00:00Z";
    let numbered = |n: usize| (0..n).map(|i| format!("tag {i}")).collect::<Vec<_>>();
    vec![
        (
            "unknown priority",
            json!({"title": "t", "priority": "urgent"}),
            vec![("body.priority", "enum")],
        ),
        (
            "priority in another case",
            json!({"title": "t", "priority": "High"}),
            vec![("body.priority", "enum")],
        ),
        (
            "21 tags",
            json!({"title": "t", "tags": numbered(21)}),
            vec![("body.tags", "too_long")],
        ),
        (
            "21 tags, counted as sent before duplicates are dropped",
            json!({"title": "t", "tags": (0..21).map(|i| if i % 2 == 0 { "a" } else { "A" }).collect::<Vec<_>>()}),
            vec![("body.tags", "too_long")],
        ),
        (
            "a 51-character tag at index 3",
            json!({"title": "t", "tags": ["a", "b", "c", "x".repeat(51)]}),
            vec![("body.tags.3", "string_too_long")],
        ),
        (
            "a tag of 51 multi-byte characters",
            json!({"title": "t", "tags": ["é".repeat(51)]}),
            vec![("body.tags.0", "string_too_long")],
        ),
        (
            "a blank tag",
            json!({"title": "t", "tags": ["ok", "  "]}),
            vec![("body.tags.1", "string_blank")],
        ),
        (
            "an empty tag",
            json!({"title": "t", "tags": [""]}),
            vec![("body.tags.0", "string_blank")],
        ),
        (
            "a control character inside a tag",
            json!({"title": "t", "tags": ["ok", "a\u{7}b"]}),
            vec![("body.tags.1", "string_pattern_mismatch")],
        ),
        (
            "NUL inside a tag",
            json!({"title": "t", "tags": ["a\u{0}b"]}),
            vec![("body.tags.0", "string_pattern_mismatch")],
        ),
        (
            "a tag that is a number",
            json!({"title": "t", "tags": ["ok", 7]}),
            vec![("body.tags.1", "string_type")],
        ),
        (
            "tags as a string",
            json!({"title": "t", "tags": "work"}),
            vec![("body.tags", "list_type")],
        ),
        (
            "tags as an object",
            json!({"title": "t", "tags": {"work": true}}),
            vec![("body.tags", "list_type")],
        ),
        (
            "due_at that is not a date-time",
            json!({"title": "t", "due_at": "tomorrow"}),
            vec![("body.due_at", "datetime_parsing")],
        ),
        (
            "due_at without an offset",
            json!({"title": "t", "due_at": "2026-05-01T10:00:00"}),
            vec![("body.due_at", "datetime_parsing")],
        ),
        (
            "due_at that is only a date",
            json!({"title": "t", "due_at": "2026-05-01"}),
            vec![("body.due_at", "datetime_parsing")],
        ),
        (
            "due_date that does not exist",
            json!({"title": "t", "due_date": "2026-02-30"}),
            vec![("body.due_date", "date_parsing")],
        ),
        (
            "due_date without zero padding",
            json!({"title": "t", "due_date": "2026-5-1"}),
            vec![("body.due_date", "date_parsing")],
        ),
        (
            "due_date with a time",
            json!({"title": "t", "due_date": "2026-05-01T00:00:00Z"}),
            vec![("body.due_date", "date_parsing")],
        ),
        (
            "both due_at and due_date",
            json!({"title": "t", "due_at": due, "due_date": "2026-05-04"}),
            vec![
                ("body.due_at", "due_conflict"),
                ("body.due_date", "due_conflict"),
            ],
        ),
        (
            "unknown time zone",
            json!({"title": "t", "time_zone": "Mars/Olympus"}),
            vec![("body.time_zone", "time_zone_unknown")],
        ),
        (
            "unknown city of a real region",
            json!({"title": "t", "time_zone": "Europe/Atlantis"}),
            vec![("body.time_zone", "time_zone_unknown")],
        ),
        (
            "a rule more frequent than once a minute",
            json!({"title": "t", "due_at": due, "recurrence": "FREQ=SECONDLY"}),
            vec![("body.recurrence", "recurrence_too_frequent")],
        ),
        (
            "a rule that never occurs",
            json!({"title": "t", "due_at": due, "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}),
            vec![("body.recurrence", "recurrence_never_occurs")],
        ),
        (
            "a rule that is not a rule",
            json!({"title": "t", "due_at": due, "recurrence": "every other tuesday"}),
            vec![("body.recurrence", "recurrence_invalid")],
        ),
        (
            "an unknown frequency",
            json!({"title": "t", "due_at": due, "recurrence": "FREQ=FORTNIGHTLY"}),
            vec![("body.recurrence", "recurrence_invalid")],
        ),
        (
            "a recurrence without any due",
            json!({"title": "t", "recurrence": "FREQ=DAILY"}),
            vec![("body.recurrence", "recurrence_requires_due")],
        ),
        (
            "a recurrence with both dues null",
            json!({"title": "t", "due_at": null, "due_date": null, "recurrence": "FREQ=DAILY"}),
            vec![("body.recurrence", "recurrence_requires_due")],
        ),
        (
            "an unknown field next to the new ones",
            json!({"title": "t", "priority": "low", "tag": "work"}),
            vec![("body.tag", "extra_forbidden")],
        ),
        (
            "several problems at once",
            json!({
                "title": "",
                "priority": "urgent",
                "tags": ["ok", "x".repeat(51)],
                "due_date": "2026-02-30",
                "time_zone": "Mars/Olympus",
            }),
            vec![
                ("body.title", "string_blank"),
                ("body.priority", "enum"),
                ("body.tags.1", "string_too_long"),
                ("body.due_date", "date_parsing"),
                ("body.time_zone", "time_zone_unknown"),
            ],
        ),
    ]
}

#[apply(every_backend)]
#[tokio::test]
async fn invalid_new_fields_on_create_are_422_naming_each_problem_and_store_nothing(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);

    for (case, body, expected) in invalid_creates() {
        let resp = app.create_task("alice", &body).await;
        let status = resp.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        assert_validation(resp, &expected).await;
    }
    assert_eq!(
        list(&app, "alice").await,
        json!({"tasks": [], "count": 0, "total": 0, "next_cursor": null}),
        "nothing was stored"
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn new_fields_of_the_wrong_json_type_are_422_naming_the_field(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = app.create_task_ok("alice", "typed").await;

    for (field, value) in [
        ("priority", json!(3)),
        ("priority", json!(["high"])),
        ("due_at", json!(1_777_000_000)),
        ("due_date", json!(true)),
        ("time_zone", json!(1)),
        ("recurrence", json!(["FREQ=DAILY"])),
    ] {
        let resp = app
            .create_task("alice", &json!({"title": "t", field: value}))
            .await;
        let (_, body) =
            assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(
            error_locs(&body),
            [format!("body.{field}")],
            "{field}: {value}"
        );

        let resp = app
            .update_task("alice", &task["id"], &json!({ field: value }))
            .await;
        let (_, body) =
            assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(
            error_locs(&body),
            [format!("body.{field}")],
            "{field}: {value}"
        );
    }
    assert_eq!(list(&app, "alice").await["tasks"], json!([task]));
}

#[apply(every_backend)]
#[tokio::test]
async fn invalid_new_fields_on_replace_and_update_are_422_and_leave_the_task_unchanged(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    // A recurring task with a due, and a plain one without.
    let task = app.create_task_from("alice", &full_body()).await;
    let plain = app.create_task_ok("alice", "plain").await;
    let id = &task["id"];
    let required = |extra: Value| {
        let mut body = json!({"title": "x", "description": null, "complete": false});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    let updates = [
        (
            json!({"priority": "urgent"}),
            vec![("body.priority", "enum")],
        ),
        (
            json!({"tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
            vec![("body.tags", "too_long")],
        ),
        (
            json!({"tags": ["a", "b", "c", "x".repeat(51)]}),
            vec![("body.tags.3", "string_too_long")],
        ),
        (
            json!({"tags": ["  "]}),
            vec![("body.tags.0", "string_blank")],
        ),
        (json!({"tags": "a"}), vec![("body.tags", "list_type")]),
        (
            json!({"due_at": "not a time"}),
            vec![("body.due_at", "datetime_parsing")],
        ),
        (
            json!({"due_date": "2026-02-30"}),
            vec![("body.due_date", "date_parsing")],
        ),
        (
            json!({"due_at": "2026-05-04T07:00:00Z", "due_date": "2026-05-04"}),
            vec![
                ("body.due_at", "due_conflict"),
                ("body.due_date", "due_conflict"),
            ],
        ),
        (
            json!({"time_zone": "Mars/Olympus"}),
            vec![("body.time_zone", "time_zone_unknown")],
        ),
        (
            json!({"recurrence": "FREQ=SECONDLY"}),
            vec![("body.recurrence", "recurrence_too_frequent")],
        ),
        (
            json!({"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}),
            vec![("body.recurrence", "recurrence_never_occurs")],
        ),
        (
            json!({"recurrence": "nonsense"}),
            vec![("body.recurrence", "recurrence_invalid")],
        ),
        // Clearing the due of a recurring task would leave a recurrence without a due.
        (
            json!({"due_at": null}),
            vec![("body.recurrence", "recurrence_requires_due")],
        ),
        (
            json!({"due_at": null, "due_date": null}),
            vec![("body.recurrence", "recurrence_requires_due")],
        ),
        (
            json!({"completed": true}),
            vec![("body.completed", "extra_forbidden")],
        ),
        (
            json!({"priority": "urgent", "tags": [""], "time_zone": "Nowhere/Special"}),
            vec![
                ("body.priority", "enum"),
                ("body.tags.0", "string_blank"),
                ("body.time_zone", "time_zone_unknown"),
            ],
        ),
    ];
    for (body, expected) in &updates {
        let resp = app.update_task("alice", id, body).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "PATCH {body}"
        );
        assert_validation(resp, expected).await;

        let body = required(body.clone());
        let resp = app.replace_task("alice", id, &body).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "PUT {body}"
        );
        assert_validation(resp, expected).await;
    }

    // A task without a due cannot be given a recurrence alone.
    let resp = app
        .update_task("alice", &plain["id"], &json!({"recurrence": "FREQ=DAILY"}))
        .await;
    assert_validation(resp, &[("body.recurrence", "recurrence_requires_due")]).await;
    let resp = app
        .replace_task(
            "alice",
            &plain["id"],
            &required(json!({"recurrence": "FREQ=DAILY"})),
        )
        .await;
    assert_validation(resp, &[("body.recurrence", "recurrence_requires_due")]).await;

    assert_eq!(get(&app, "alice", id).await, task, "the task is unchanged");
    assert_eq!(
        get(&app, "alice", &plain["id"]).await,
        plain,
        "the plain task is unchanged"
    );
    assert_eq!(list(&app, "alice").await["count"], 2, "nothing was created");
}
