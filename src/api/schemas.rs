//! The wire format: every request and response body of the contract, as OpenAPI schemas.
//!
//! Request bodies are parsed by `api::body` (so every problem is reported with its field); the
//! `Object` derives here exist to publish exact schemas. Field docs become schema descriptions.

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::domain::{self, DESCRIPTION_MAX_CHARS};

/// An instant, as RFC 3339 UTC with millisecond precision and a `Z` suffix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(domain::now_ms())
    }

    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .unwrap_or_default()
            // `to_rfc3339_opts` writes directly; `format(..)` re-parses its pattern on every call.
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::String("2025-12-24T10:00:00.123Z".into())),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(&s)
                .map(|t| Self(t.timestamp_millis()))
                .map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_rfc3339()))
    }
}

/// Implements the poem-openapi traits of a one-string schema type whose schema is built in code,
/// so its limits come from the domain's constants rather than from literals in attributes.
macro_rules! string_schema {
    ($ty:ident, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(s)) => Ok(Self(s)),
                    other => Err(ParseError::expected_type(other.unwrap_or_default())),
                }
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

/// A title as the server returns it: 1 to `TITLE_MAX_CHARS` characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(pub String);

string_schema!(
    Title,
    "string_title",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(domain::TITLE_MAX_CHARS),
        ..MetaSchema::new("string")
    }
);

/// A title as a client sends it: as `Title`, with at least one character that is not whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleInput(pub String);

string_schema!(
    TitleInput,
    "string_title_input",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(domain::TITLE_MAX_CHARS),
        pattern: Some(r"\S".into()),
        ..MetaSchema::new("string")
    }
);

/// A description that is always present in the document but may be `null`:
/// `{"type": "string", "nullable": true, "maxLength": 1000}`, listed as required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(pub Option<String>);

impl Type for Description {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "nullable_string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            nullable: true,
            max_length: Some(DESCRIPTION_MAX_CHARS),
            description: Some("Free text, at most 1000 characters, or null for none."),
            example: Some(Value::String("2 litres, semi-skimmed".into())),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Description {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            Some(Value::String(s)) => Ok(Self(Some(s))),
            Some(other) => Err(ParseError::expected_type(other)),
        }
    }
}

impl Serialize for Description {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl ToJSON for Description {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone().map(Value::String).unwrap_or(Value::Null))
    }
}

/// A task.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Task", example)]
pub struct Task {
    /// Server-assigned identifier, unique within the database and never reused.
    #[oai(read_only)]
    pub id: i64,
    /// The owner: the authenticated user's id (the token's `sub`).
    #[oai(read_only)]
    pub user_id: String,
    /// What to do: 1 to 200 characters, at least one of them not whitespace.
    pub title: Title,
    pub description: Description,
    /// Whether the task is done. False on creation.
    pub complete: bool,
    /// When the task was created. Never changes.
    #[oai(read_only)]
    pub created_at: Timestamp,
    /// When the task last changed. Moves forward on every modification.
    #[oai(read_only)]
    pub updated_at: Timestamp,
}

impl From<domain::Task> for Task {
    fn from(t: domain::Task) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id,
            title: Title(t.title),
            description: Description(t.description),
            complete: t.complete,
            created_at: Timestamp(t.created_at_ms),
            updated_at: Timestamp(t.updated_at_ms),
        }
    }
}

impl Example for Task {
    fn example() -> Self {
        Self {
            id: 42,
            user_id: "user_abc123".into(),
            title: Title("Buy milk".into()),
            description: Description(None),
            complete: false,
            created_at: Timestamp(1_766_570_400_123),
            updated_at: Timestamp(1_766_570_400_123),
        }
    }
}

/// The caller's tasks, ordered by id ascending.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskList", example)]
pub struct TaskList {
    /// Every task the caller owns, ordered by id ascending; empty when there are none.
    pub tasks: Vec<Task>,
    /// Number of tasks in `tasks`.
    pub count: i64,
}

impl Example for TaskList {
    fn example() -> Self {
        Self {
            tasks: vec![Task::example()],
            count: 1,
        }
    }
}

/// A new task.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TaskCreate", deny_unknown_fields, example)]
pub struct TaskCreate {
    /// 1 to 200 characters, at least one of them not whitespace. Stored exactly as sent.
    pub title: TitleInput,
    /// Optional; omit it or send null for none.
    pub description: Option<Description>,
}

impl Example for TaskCreate {
    fn example() -> Self {
        Self {
            title: TitleInput("Buy milk".into()),
            description: Some(Description(Some("2 litres, semi-skimmed".into()))),
        }
    }
}

/// A full replacement: every field is required (`description` may be null).
#[derive(Debug, Clone, Object)]
#[oai(rename = "TaskReplace", deny_unknown_fields, example)]
pub struct TaskReplace {
    /// 1 to 200 characters, at least one of them not whitespace.
    pub title: TitleInput,
    /// Free text, at most 1000 characters; null for none. Required, even when null.
    pub description: Description,
    /// Whether the task is done.
    pub complete: bool,
}

impl Example for TaskReplace {
    fn example() -> Self {
        Self {
            title: TitleInput("Buy oat milk".into()),
            description: Description(None),
            complete: true,
        }
    }
}

/// A partial update: send at least one field. `"description": null` clears the description.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TaskUpdate", deny_unknown_fields, example)]
pub struct TaskUpdate {
    /// 1 to 200 characters, at least one of them not whitespace. Cannot be null.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<TitleInput>,
    /// Free text, at most 1000 characters; null clears it. Omit it to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<Description>,
    /// Whether the task is done. Cannot be null. Omit it to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub complete: Option<bool>,
}

impl Example for TaskUpdate {
    fn example() -> Self {
        Self {
            title: None,
            description: None,
            complete: Some(true),
        }
    }
}

/// Liveness and database reachability: `status` is `ok` when the service can serve requests,
/// `degraded` otherwise; `database` is `ok` when the database answered a round trip.
//  (No doc comments on `$ref` fields: poem-openapi would wrap the `$ref` in an `allOf`.)
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Health", example)]
pub struct Health {
    pub status: HealthStatus,
    pub database: DatabaseStatus,
}

impl Example for Health {
    fn example() -> Self {
        Self {
            status: HealthStatus::Ok,
            database: DatabaseStatus::Ok,
        }
    }
}

/// The service's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "HealthStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// The database's state: `ok` when it answered a round trip, `unavailable` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "DatabaseStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    Ok,
    Unavailable,
}

/// Stable, machine-readable error codes. Clients branch on these, never on `detail`.
///
/// `BAD_REQUEST` (400), `AUTH_MISSING` and `AUTH_INVALID` (401), `AUTH_FORBIDDEN` (403),
/// `NOT_FOUND` (404), `METHOD_NOT_ALLOWED` (405), `PAYLOAD_TOO_LARGE` (413), `VALIDATION_ERROR`
/// (422), `INTERNAL_ERROR` (500), `DATABASE_UNAVAILABLE` and `AUTH_UNAVAILABLE` (503). New codes
/// may be added: treat an unknown code like the status it came with.
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
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Object, Serialize)]
#[oai(rename = "ValidationIssue", example)]
pub struct ValidationIssue {
    /// Where the problem is: `["body", "title"]`, `["path", "task_id"]`, or `["body"]` for the whole body.
    pub loc: Vec<String>,
    /// What is wrong, for people.
    pub msg: String,
    /// What is wrong, for programs: `missing`, `string_type`, `bool_type`, `string_too_long`,
    /// `string_pattern_mismatch` (NUL characters), `string_blank`, `extra_forbidden`, `object_type`,
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
    /// Field-level problems; present on `VALIDATION_ERROR` only.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationIssue>>,
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            detail: "body.title: title must contain at least one non-whitespace character".into(),
            error_code: ErrorCode::ValidationError,
            timestamp: Timestamp(1_766_570_400_123),
            errors: Some(vec![ValidationIssue::example()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::Type;

    use super::*;
    use crate::domain::TITLE_MAX_CHARS;

    #[test]
    fn the_published_limits_are_the_domain_limits() {
        for schema in [Title::schema_ref(), TitleInput::schema_ref()] {
            let MetaSchemaRef::Inline(schema) = schema else {
                panic!("titles are inline schemas")
            };
            assert_eq!(schema.min_length, Some(1));
            assert_eq!(schema.max_length, Some(TITLE_MAX_CHARS));
        }
        let MetaSchemaRef::Inline(description) = Description::schema_ref() else {
            panic!("descriptions are inline schemas")
        };
        assert_eq!(description.max_length, Some(DESCRIPTION_MAX_CHARS));
        // The prose a person reads in the document states the same numbers.
        let spec = crate::api::document().spec();
        assert!(spec.contains(&format!("1 to {TITLE_MAX_CHARS} characters")));
        assert!(spec.contains(&format!("at most {DESCRIPTION_MAX_CHARS} characters")));
    }
}
