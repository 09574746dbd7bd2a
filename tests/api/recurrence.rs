//! Recurring tasks: completing one (by the toggle, by PATCH or by PUT) keeps it completed and
//! creates its next occurrence in the same write, exactly once, due at the rule's next instant
//! after the completed one's due in the task's time zone, until `COUNT` or `UNTIL` ends the
//! series.

use std::collections::HashSet;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, assert_json, assert_task_model, assert_timestamp, every_backend,
    spawn_or_skip,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// The three ways to complete a task.
#[derive(Debug, Clone, Copy)]
enum Completion {
    /// `PATCH /api/{user}/tasks/{id}/complete` on an incomplete task.
    Toggle,
    /// `PATCH /api/{user}/tasks/{id}` with `{"complete": true}`.
    Patch,
    /// `PUT /api/{user}/tasks/{id}` with the same title and description and `complete: true`.
    Put,
}

const ALL_COMPLETIONS: [Completion; 3] = [Completion::Toggle, Completion::Patch, Completion::Put];

async fn get(app: &TestApp, id: &Value) -> Value {
    let task = assert_json(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_task_model(&task);
    task
}

async fn list(app: &TestApp) -> Value {
    assert_json(app.list_tasks("alice").await, StatusCode::OK).await
}

fn ids(list: &Value) -> Vec<i64> {
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// Create one of alice's tasks from `body`, asserting 201.
async fn create(app: &TestApp, body: Value) -> Value {
    let task = app.create_task_from("alice", &body).await;
    assert_task_model(&task);
    task
}

/// Complete the incomplete `task` in the way given; return the answer, asserting it is a
/// completed task with a `completed_at`.
async fn complete(app: &TestApp, task: &Value, how: Completion) -> Value {
    let id = &task["id"];
    let resp = match how {
        Completion::Toggle => app.toggle_task("alice", id).await,
        Completion::Patch => {
            app.update_task("alice", id, &json!({"complete": true}))
                .await
        }
        Completion::Put => {
            app.replace_task(
                "alice",
                id,
                &json!({"title": task["title"], "description": task["description"], "complete": true}),
            )
            .await
        }
    };
    let done = assert_json(resp, StatusCode::OK).await;
    assert_task_model(&done);
    assert_eq!(done["complete"], true, "{how:?}: {done}");
    assert_timestamp(&done["completed_at"]);
    done
}

/// Complete `task` and return the completed task and its next occurrence (as read back).
async fn complete_and_follow(app: &TestApp, task: &Value, how: Completion) -> (Value, Value) {
    let done = complete(app, task, how).await;
    assert!(
        done["next_occurrence_id"].as_i64().is_some(),
        "{how:?} of a recurring task gives a next occurrence: {done}"
    );
    let next = get(app, &done["next_occurrence_id"]).await;
    (done, next)
}

/// Assert `next` is the next occurrence of the completed `done`, due at `due` (a `due_at` value
/// if it has a `T`, else a `due_date`).
fn assert_next_occurrence(done: &Value, next: &Value, due: &str) {
    assert!(
        next["id"].as_i64() > done["id"].as_i64(),
        "a new task: {next} after {done}"
    );
    for key in [
        "user_id",
        "title",
        "description",
        "priority",
        "tags",
        "time_zone",
        "recurrence",
    ] {
        assert_eq!(next[key], done[key], "{key} of the next occurrence {next}");
    }
    assert_eq!(next["complete"], false, "{next}");
    assert_eq!(next["completed_at"], Value::Null, "{next}");
    assert_eq!(next["next_occurrence_id"], Value::Null, "{next}");
    let (due_at, due_date) = if due.contains('T') {
        (json!(due), Value::Null)
    } else {
        (Value::Null, json!(due))
    };
    assert_eq!(
        next["due_at"], due_at,
        "due_at of the next occurrence {next}"
    );
    assert_eq!(
        next["due_date"], due_date,
        "due_date of the next occurrence {next}"
    );
}

/// A daily task due at `due_at` in `time_zone`.
fn daily(title: &str, due_at: &str, time_zone: Value) -> Value {
    json!({"title": title, "due_at": due_at, "time_zone": time_zone, "recurrence": "FREQ=DAILY"})
}

/// Follow a series from `task`: complete each occurrence by the toggle and check the next is
/// due at each of `dues` in turn; return the last occurrence.
async fn follow(app: &TestApp, mut task: Value, dues: &[&str]) -> Value {
    for due in dues {
        let (done, next) = complete_and_follow(app, &task, Completion::Toggle).await;
        assert_next_occurrence(&done, &next, due);
        task = next;
    }
    task
}

// ---------------------------------------------------------------------------------------------
// Completing creates the next occurrence

#[apply(every_backend)]
#[tokio::test]
async fn completing_a_recurring_task_by_toggle_patch_or_put_creates_its_next_occurrence(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let mut expected_ids = Vec::new();

    for how in ALL_COMPLETIONS {
        let task = create(
            &app,
            json!({
                "title": format!("water the plants ({how:?})"),
                "description": "balcony",
                "priority": "high",
                "tags": ["Home", "garden"],
                // 09:00 in Berlin (winter time).
                "due_at": "2026-03-10T08:00:00Z",
                "time_zone": "Europe/Berlin",
                "recurrence": "FREQ=DAILY",
            }),
        )
        .await;

        let (done, next) = complete_and_follow(&app, &task, how).await;

        // The completed task stays completed, with its own due and rule.
        assert_eq!(done["id"], task["id"]);
        assert_eq!(done["due_at"], "2026-03-10T08:00:00.000Z", "{how:?}");
        assert_eq!(done["recurrence"], "FREQ=DAILY");
        assert_eq!(get(&app, &task["id"]).await, done, "{how:?}: read back");
        // The next occurrence: the same task one day later, open.
        assert_next_occurrence(&done, &next, "2026-03-11T08:00:00.000Z");
        assert_eq!(next["title"], format!("water the plants ({how:?})"));
        assert_eq!(next["description"], "balcony");
        assert_eq!(next["priority"], "high");
        assert_eq!(next["tags"], json!(["Home", "garden"]));
        assert_eq!(next["time_zone"], "Europe/Berlin");
        assert_eq!(next["user_id"], "alice");

        expected_ids.extend([task["id"].as_i64().unwrap(), next["id"].as_i64().unwrap()]);
        let listed = list(&app).await;
        assert_eq!(ids(&listed), expected_ids, "{how:?}: both are listed");
        assert_eq!(listed["count"], expected_ids.len());
        assert!(listed["tasks"].as_array().unwrap().contains(&next));
    }
    let bobs = assert_json(app.list_tasks("bob").await, StatusCode::OK).await;
    assert_eq!(bobs["count"], 0, "occurrences belong to their owner only");
}

#[apply(every_backend)]
#[tokio::test]
async fn completing_a_task_that_does_not_recur_creates_nothing(backend: Backend) {
    let app = spawn_or_skip!(backend);

    for (n, how) in ALL_COMPLETIONS.into_iter().enumerate() {
        for body in [
            json!({"title": format!("once {n}"), "due_at": "2026-03-10T08:00:00Z"}),
            json!({"title": format!("all day {n}"), "due_date": "2026-03-10", "time_zone": "Europe/Berlin"}),
            json!({"title": format!("plain {n}")}),
        ] {
            let task = create(&app, body).await;
            let done = complete(&app, &task, how).await;
            assert_eq!(done["next_occurrence_id"], Value::Null, "{how:?}: {done}");
        }
    }
    assert_eq!(list(&app).await["count"], 9, "no task was added");
}

// ---------------------------------------------------------------------------------------------
// When the next occurrence is due

#[apply(every_backend)]
#[tokio::test]
async fn the_next_occurrence_keeps_the_local_time_of_day_across_daylight_saving_changes(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);

    // 09:00 in Berlin: CET (UTC+1) until 2026-03-29, CEST (UTC+2) from then on.
    let berlin = create(
        &app,
        daily("berlin", "2026-03-28T08:00:00Z", json!("Europe/Berlin")),
    )
    .await;
    follow(
        &app,
        berlin,
        &["2026-03-29T07:00:00.000Z", "2026-03-30T07:00:00.000Z"],
    )
    .await;

    // 09:00 in New York: EDT (UTC-4) until 2026-11-01, EST (UTC-5) from then on.
    let new_york = create(
        &app,
        daily(
            "new york",
            "2026-10-31T13:00:00Z",
            json!("America/New_York"),
        ),
    )
    .await;
    follow(
        &app,
        new_york,
        &["2026-11-01T14:00:00.000Z", "2026-11-02T14:00:00.000Z"],
    )
    .await;

    // Without a time zone the task is in UTC: no change at all.
    let utc = create(&app, daily("utc", "2026-03-28T08:00:00Z", Value::Null)).await;
    follow(
        &app,
        utc,
        &["2026-03-29T08:00:00.000Z", "2026-03-30T08:00:00.000Z"],
    )
    .await;
}

#[apply(every_backend)]
#[tokio::test]
async fn an_all_day_task_recurs_on_calendar_days_and_stays_all_day(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let monthly = create(
        &app,
        json!({"title": "rent", "due_date": "2026-04-30", "recurrence": "FREQ=MONTHLY"}),
    )
    .await;
    follow(&app, monthly, &["2026-05-30", "2026-06-30"]).await;

    // RFC 5545: a monthly rule on the 31st skips the months without one.
    let month_end = create(
        &app,
        json!({"title": "report", "due_date": "2026-01-31", "recurrence": "FREQ=MONTHLY"}),
    )
    .await;
    follow(&app, month_end, &["2026-03-31"]).await;

    // A date is never converted through a time: not in a zone with a DST change that night,
    // nor in one far from UTC.
    let berlin = create(
        &app,
        json!({"title": "stretch", "due_date": "2026-03-28", "time_zone": "Europe/Berlin", "recurrence": "FREQ=DAILY"}),
    )
    .await;
    follow(&app, berlin, &["2026-03-29", "2026-03-30"]).await;
    let kiritimati = create(
        &app,
        json!({"title": "swim", "due_date": "2026-12-31", "time_zone": "Pacific/Kiritimati", "recurrence": "FREQ=DAILY"}),
    )
    .await;
    follow(&app, kiritimati, &["2027-01-01"]).await;
}

#[apply(every_backend)]
#[tokio::test]
async fn a_missed_task_is_next_due_after_its_own_due_not_after_today(backend: Backend) {
    let app = spawn_or_skip!(backend);

    let daily_task = create(&app, daily("missed", "2020-01-06T09:00:00Z", Value::Null)).await;
    follow(&app, daily_task, &["2020-01-07T09:00:00.000Z"]).await;

    // 2020-01-06 was a Monday.
    let weekly = create(
        &app,
        json!({"title": "missed weekly", "due_at": "2020-01-06T09:00:00Z", "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE"}),
    )
    .await;
    follow(&app, weekly, &["2020-01-08T09:00:00.000Z"]).await;

    let all_day = create(
        &app,
        json!({"title": "missed all day", "due_date": "2020-01-06", "recurrence": "FREQ=DAILY"}),
    )
    .await;
    follow(&app, all_day, &["2020-01-07"]).await;
}

#[apply(every_backend)]
#[tokio::test]
async fn a_weekly_rule_on_several_days_moves_to_the_next_day_it_lists(backend: Backend) {
    let app = spawn_or_skip!(backend);
    // 2026-05-04 is a Monday; 09:00 in Berlin (CEST).
    let task = create(
        &app,
        json!({
            "title": "gym",
            "due_at": "2026-05-04T09:00:00+02:00",
            "time_zone": "Europe/Berlin",
            "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
        }),
    )
    .await;
    assert_eq!(task["recurrence"], "FREQ=WEEKLY;BYDAY=MO,WE");

    follow(
        &app,
        task,
        &[
            "2026-05-06T07:00:00.000Z",
            "2026-05-11T07:00:00.000Z",
            "2026-05-13T07:00:00.000Z",
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Exactly once

#[apply(every_backend)]
#[tokio::test]
async fn completing_reopening_and_completing_again_creates_one_next_occurrence_in_total(
    backend: Backend,
) {
    let app = spawn_or_skip!(backend);
    let task = create(&app, daily("once", "2026-03-10T08:00:00Z", Value::Null)).await;
    let id = &task["id"];

    let (done, next) = complete_and_follow(&app, &task, Completion::Toggle).await;
    let next_id = done["next_occurrence_id"].clone();

    // Reopened and completed again, each way: the same next occurrence, no new one.
    for how in ALL_COMPLETIONS {
        let reopened = assert_json(
            app.update_task("alice", id, &json!({"complete": false}))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(reopened["complete"], false);
        assert_eq!(reopened["completed_at"], Value::Null);

        let again = complete(&app, &reopened, how).await;
        assert_eq!(again["next_occurrence_id"], next_id, "{how:?}");
    }
    // Completing a task that is already complete changes nothing about its occurrences.
    let already = assert_json(
        app.update_task("alice", id, &json!({"complete": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(already["next_occurrence_id"], next_id);

    // Reopened by the toggle, then completed by it.
    let reopened = assert_json(app.toggle_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(reopened["complete"], false);
    let again = complete(&app, &reopened, Completion::Toggle).await;
    assert_eq!(again["next_occurrence_id"], next_id);

    let listed = list(&app).await;
    assert_eq!(
        ids(&listed),
        [id.as_i64().unwrap(), next_id.as_i64().unwrap()],
        "one next occurrence in total"
    );
    assert_eq!(
        get(&app, &next_id).await,
        next,
        "the next occurrence is untouched"
    );
}

#[apply(every_backend)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_completions_create_exactly_one_next_occurrence(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let task = create(
        &app,
        daily("contended", "2026-03-10T08:00:00Z", Value::Null),
    )
    .await;
    let url = app.url(&TestApp::task_path("alice", &task["id"]));
    let token = app.token("alice");

    let requests: Vec<_> = (0..20)
        .map(|_| {
            // A client per request: twenty separate TCP connections.
            let client = reqwest::Client::new();
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let resp = client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&json!({"complete": true}))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                (status, resp.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        let (status, text) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        answers.push(serde_json::from_str::<Value>(&text).unwrap());
    }

    let next_ids: HashSet<String> = answers
        .iter()
        .map(|a| a["next_occurrence_id"].to_string())
        .collect();
    assert_eq!(next_ids.len(), 1, "one next occurrence: {next_ids:?}");
    let completed_at: HashSet<String> = answers
        .iter()
        .map(|a| a["completed_at"].to_string())
        .collect();
    assert_eq!(
        completed_at.len(),
        1,
        "it became complete once: {completed_at:?}"
    );
    let next_id = answers[0]["next_occurrence_id"].clone();
    assert!(next_id.as_i64().is_some(), "{}", answers[0]);

    let listed = list(&app).await;
    assert_eq!(
        ids(&listed),
        [task["id"].as_i64().unwrap(), next_id.as_i64().unwrap()]
    );
    let next = get(&app, &next_id).await;
    assert_next_occurrence(&answers[0], &next, "2026-03-11T08:00:00.000Z");
}

// ---------------------------------------------------------------------------------------------
// The end of a series

#[apply(every_backend)]
#[tokio::test]
async fn a_series_with_a_count_ends_after_that_many_occurrences(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // COUNT=2: completing the first creates the second; completing the second creates none.
    let first = create(
        &app,
        json!({"title": "twice", "due_at": "2026-06-01T09:00:00Z", "recurrence": "FREQ=DAILY;COUNT=2"}),
    )
    .await;
    let second = follow(&app, first, &["2026-06-02T09:00:00.000Z"]).await;
    assert_eq!(second["recurrence"], "FREQ=DAILY;COUNT=2");
    let last = complete(&app, &second, Completion::Patch).await;
    assert_eq!(last["next_occurrence_id"], Value::Null, "{last}");
    // Reopening and completing the last one again still creates none.
    let reopened = assert_json(
        app.toggle_task("alice", &second["id"]).await,
        StatusCode::OK,
    )
    .await;
    let again = complete(&app, &reopened, Completion::Put).await;
    assert_eq!(again["next_occurrence_id"], Value::Null, "{again}");
    assert_eq!(list(&app).await["count"], 2);

    // COUNT=3: three occurrences in all.
    let first = create(
        &app,
        json!({"title": "thrice", "due_date": "2026-06-01", "recurrence": "FREQ=WEEKLY;COUNT=3"}),
    )
    .await;
    let third = follow(&app, first, &["2026-06-08", "2026-06-15"]).await;
    let last = complete(&app, &third, Completion::Toggle).await;
    assert_eq!(last["next_occurrence_id"], Value::Null, "{last}");
    assert_eq!(list(&app).await["count"], 5);

    // COUNT=1: the task is the whole series.
    let only = create(
        &app,
        json!({"title": "once", "due_at": "2026-06-01T09:00:00Z", "recurrence": "FREQ=DAILY;COUNT=1"}),
    )
    .await;
    let done = complete(&app, &only, Completion::Toggle).await;
    assert_eq!(done["next_occurrence_id"], Value::Null, "{done}");
    assert_eq!(list(&app).await["count"], 6);
}

#[apply(every_backend)]
#[tokio::test]
async fn a_series_with_an_until_ends_with_the_last_occurrence_due_by_then(backend: Backend) {
    let app = spawn_or_skip!(backend);

    // UNTIL is inclusive: an occurrence due exactly then is still part of the series.
    let first = create(
        &app,
        json!({"title": "until", "due_at": "2026-06-01T09:00:00Z", "recurrence": "FREQ=DAILY;UNTIL=20260602T090000Z"}),
    )
    .await;
    let last = follow(&app, first, &["2026-06-02T09:00:00.000Z"]).await;
    let done = complete(&app, &last, Completion::Toggle).await;
    assert_eq!(done["next_occurrence_id"], Value::Null, "{done}");
    assert_eq!(list(&app).await["count"], 2);

    // An all-day series with a date UNTIL.
    let first = create(
        &app,
        json!({"title": "until a day", "due_date": "2026-06-01", "recurrence": "FREQ=DAILY;UNTIL=20260602"}),
    )
    .await;
    let last = follow(&app, first, &["2026-06-02"]).await;
    let done = complete(&app, &last, Completion::Patch).await;
    assert_eq!(done["next_occurrence_id"], Value::Null, "{done}");
    assert_eq!(list(&app).await["count"], 4);
}
