//! Assertions on the contract's shared shapes: the error body (`assert_error` and the 503
//! `DATABASE_UNAVAILABLE` built on it), JSON content types, timestamps, the `loc`s and types of
//! a validation error, and the fields of a task.

use reqwest::{Response, StatusCode, header::HeaderMap};
use serde_json::Value;

/// Assert the contract's error shape and return the body: exact status, JSON content type,
/// `detail` (non-empty string), `error_code`, an RFC 3339 UTC `timestamp`, the `request_id` that
/// the `X-Request-Id` response header also carries, nothing else but `errors` on validation
/// failures and `task` (the current task) on precondition failures.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> (HeaderMap, Value) {
    assert_eq!(resp.status(), status, "status");
    let headers = resp.headers().clone();
    assert_json_content_type(&headers);
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["error_code"], code, "error_code in {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail in {body}"
    );
    assert_timestamp(&body["timestamp"]);
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an X-Request-Id header on every response");
    assert!(!request_id.is_empty());
    assert_eq!(body["request_id"], request_id, "request_id in {body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in &keys {
        assert!(
            [
                "detail",
                "error_code",
                "timestamp",
                "request_id",
                "errors",
                "task"
            ]
            .contains(key),
            "unexpected key {key} in {body}"
        );
    }
    assert_eq!(
        keys.contains(&"errors"),
        code == "VALIDATION_ERROR",
        "`errors` is present exactly on validation errors: {body}"
    );
    assert_eq!(
        keys.contains(&"task"),
        code == "PRECONDITION_FAILED",
        "`task` is present exactly on precondition failures: {body}"
    );
    (headers, body)
}

/// Assert a 503 `DATABASE_UNAVAILABLE` in the error shape, telling the client when to retry.
pub async fn assert_database_unavailable(resp: Response) {
    let (headers, _) = assert_error(
        resp,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    assert_eq!(headers["retry-after"], "1");
}

pub fn assert_json_content_type(headers: &HeaderMap) {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
}

/// RFC 3339, UTC, `Z` suffix, exactly millisecond precision: `2025-12-24T10:00:00.123Z`.
pub fn assert_timestamp(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp {value} is a string"));
    assert_eq!(s.len(), 24, "timestamp {s} has millisecond precision");
    assert!(s.ends_with('Z'), "timestamp {s} is UTC with Z");
    assert_eq!(&s[19..20], ".", "timestamp {s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("timestamp {s}: {e}"));
}

/// The `loc`s of a validation error body, as `"body.title"` strings.
pub fn error_locs(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            e["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// Assert `status` (showing the body when it differs) and a JSON content type; return the body.
pub async fn assert_json(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    assert_eq!(actual, status, "status; body: {text}");
    assert_json_content_type(&headers);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is JSON ({e}): {text}"))
}

/// Assert a 422 `VALIDATION_ERROR` whose errors are exactly `expected`, as (`loc` joined with
/// dots, `type`) pairs in any order, each with a non-empty `msg`; return the body.
pub async fn assert_validation(resp: Response, expected: &[(&str, &str)]) -> Value {
    let (_, body) = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    let mut actual: Vec<(String, String)> = error_locs(&body)
        .into_iter()
        .zip(body["errors"].as_array().unwrap())
        .map(|(loc, e)| {
            assert!(
                e["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "msg of {e} in {body}"
            );
            (loc, e["type"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(loc, kind)| ((*loc).to_owned(), (*kind).to_owned()))
        .collect();
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected, "(loc, type) of the errors in {body}");
    body
}

/// Every key a task has, sorted.
pub const TASK_KEYS: [&str; 16] = [
    "complete",
    "completed_at",
    "created_at",
    "description",
    "due_at",
    "due_date",
    "id",
    "next_occurrence_id",
    "priority",
    "recurrence",
    "tags",
    "time_zone",
    "title",
    "updated_at",
    "user_id",
    "version",
];

/// A list body without its `sync_cursor`, which must be there (a non-empty string): it is a
/// position in the change feed, not content, so two reads of the same tasks may differ in it.
pub fn list_content(mut list: Value) -> Value {
    let cursor = list
        .as_object_mut()
        .unwrap_or_else(|| panic!("a list is an object"))
        .remove("sync_cursor");
    assert!(
        cursor
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty()),
        "a list carries its sync_cursor: {list}"
    );
    list
}

/// Assert a task has exactly the contract's keys, each with a value of its type: timestamps in
/// the contract's UTC millisecond form, `due_date` as `YYYY-MM-DD`, `priority` one of the four
/// words, `tags` an array of strings, ids positive.
pub fn assert_task_model(task: &Value) {
    let mut keys: Vec<&str> = task
        .as_object()
        .unwrap_or_else(|| panic!("a task is an object: {task}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, TASK_KEYS, "task fields of {task}");
    assert!(task["id"].as_i64().is_some_and(|id| id > 0), "id of {task}");
    assert!(
        task["version"].as_i64().is_some_and(|v| v >= 1),
        "version of {task}"
    );
    assert!(task["user_id"].is_string(), "user_id of {task}");
    assert!(task["title"].is_string(), "title of {task}");
    assert!(
        task["description"].is_null() || task["description"].is_string(),
        "description of {task}"
    );
    assert!(task["complete"].is_boolean(), "complete of {task}");
    assert_timestamp(&task["created_at"]);
    assert_timestamp(&task["updated_at"]);
    assert!(
        ["none", "low", "medium", "high"].contains(&task["priority"].as_str().unwrap_or("?")),
        "priority of {task}"
    );
    assert!(
        task["tags"]
            .as_array()
            .is_some_and(|tags| tags.iter().all(Value::is_string)),
        "tags of {task}"
    );
    for key in ["due_at", "completed_at"] {
        if !task[key].is_null() {
            assert_timestamp(&task[key]);
        }
    }
    if !task["due_date"].is_null() {
        let date = task["due_date"].as_str().unwrap_or_default();
        assert!(
            date.len() == 10 && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "due_date of {task}"
        );
    }
    assert!(
        task["due_at"].is_null() || task["due_date"].is_null(),
        "at most one of due_at and due_date in {task}"
    );
    for key in ["time_zone", "recurrence"] {
        assert!(
            task[key].is_null() || task[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} of {task}"
        );
    }
    assert!(
        task["next_occurrence_id"].is_null()
            || task["next_occurrence_id"].as_i64().is_some_and(|id| id > 0),
        "next_occurrence_id of {task}"
    );
    if task["complete"] == false {
        assert!(
            task["completed_at"].is_null(),
            "an incomplete task has no completed_at: {task}"
        );
    }
}
