//! Assertions on the contract's shared shapes: the error body (`assert_error` and the 503
//! `DATABASE_UNAVAILABLE` built on it), JSON content types, timestamps, and the `loc`s of a
//! validation error.

use reqwest::{Response, StatusCode, header::HeaderMap};
use serde_json::Value;

/// Assert the contract's error shape and return the body: exact status, JSON content type,
/// `detail` (non-empty string), `error_code`, an RFC 3339 UTC `timestamp`, nothing else but
/// `errors` on validation failures.
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
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in &keys {
        assert!(
            ["detail", "error_code", "timestamp", "errors"].contains(key),
            "unexpected key {key} in {body}"
        );
    }
    assert_eq!(
        keys.contains(&"errors"),
        code == "VALIDATION_ERROR",
        "`errors` is present exactly on validation errors: {body}"
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
