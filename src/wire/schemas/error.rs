//! The error schemas: the stable error codes, one field's problem, and the body every error
//! response has.

use poem_openapi::{Enum, Object, types::Example};
use serde::Serialize;

use super::{scalars::Timestamp, task::TaskView};

/// Stable, machine-readable error codes. Clients branch on these, never on `detail`.
///
/// `BAD_REQUEST` (400), `AUTH_MISSING` and `AUTH_INVALID` (401), `AUTH_FORBIDDEN` (403),
/// `NOT_FOUND` (404), `METHOD_NOT_ALLOWED` (405), `QUOTA_EXCEEDED` and `IDEMPOTENCY_IN_PROGRESS`
/// (409), `CURSOR_EXPIRED` (410), `PRECONDITION_FAILED` (412), `PAYLOAD_TOO_LARGE` (413),
/// `VALIDATION_ERROR` and `IDEMPOTENCY_KEY_REUSED` (422), `RATE_LIMITED` (429),
/// `INTERNAL_ERROR` (500), `DATABASE_UNAVAILABLE` and `AUTH_UNAVAILABLE` (503). New codes may be added: treat an unknown
/// code like the status it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "ErrorCode", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadRequest,
    AuthMissing,
    AuthInvalid,
    AuthForbidden,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    ValidationError,
    InternalError,
    DatabaseUnavailable,
    AuthUnavailable,
    QuotaExceeded,
    RateLimited,
    PreconditionFailed,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    CursorExpired,
}

/// The first element of the `loc` of a problem in a REST request body.
pub const BODY: &str = "body";
/// The first element of the `loc` of a problem in an MCP tool's arguments.
pub const ARGUMENTS: &str = "arguments";
/// The first element of the `loc` of a problem in a REST query parameter.
pub const QUERY: &str = "query";

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize)]
#[oai(rename = "ValidationIssue", example)]
pub struct ValidationIssue {
    /// Where the problem is: `["body", "title"]`, `["body", "tags", "3"]` (an item of a list),
    /// `["path", "task_id"]`, or `["body"]` for the whole body.
    pub loc: Vec<String>,
    /// What is wrong, for people.
    pub msg: String,
    /// What is wrong, for programs: `missing`, `string_type`, `bool_type`, `list_type`,
    /// `string_too_long`, `string_pattern_mismatch` (NUL or control characters), `string_blank`,
    /// `too_long` (too many items), `enum`, `datetime_parsing`, `date_parsing`, `due_conflict`,
    /// `time_zone_unknown`, `recurrence_invalid`, `recurrence_requires_due`,
    /// `recurrence_never_occurs`, `recurrence_too_frequent`, `extra_forbidden`, `object_type`,
    /// `int_parsing`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
}

impl Example for ValidationIssue {
    fn example() -> Self {
        Self::new(
            &["body", "title"],
            "title must contain at least one non-whitespace character",
            "string_blank",
        )
    }
}

impl ValidationIssue {
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }
}

/// The body of every error response: `detail` for people, `error_code` for programs.
//  (No doc comment on `error_code`: poem-openapi would wrap its `$ref` in an `allOf`.)
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Error", example)]
pub struct ErrorBody {
    /// What went wrong, for people. Never contains internals.
    pub detail: String,
    pub error_code: ErrorCode,
    /// When the error happened.
    pub timestamp: Timestamp,
    /// The request's id, also sent as the `X-Request-Id` response header and written in every
    /// log line of the request: quote it when reporting a problem.
    pub request_id: String,
    /// Field-level problems; present on `VALIDATION_ERROR` only.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationIssue>>,
    /// The task as it is now; present on `PRECONDITION_FAILED` only, so a client can merge its
    /// change without another request.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Box<TaskView>>,
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            detail: "body.title: title must contain at least one non-whitespace character".into(),
            error_code: ErrorCode::ValidationError,
            timestamp: Timestamp(1_766_570_400_123),
            request_id: "4f3c2a1b9d8e4f7a8b6c5d4e3f2a1b0c".into(),
            errors: Some(vec![ValidationIssue::example()]),
            task: None,
        }
    }
}
