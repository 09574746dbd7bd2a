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

use crate::domain::{
    self, DESCRIPTION_MAX_CHARS,
    recurrence::RECURRENCE_MAX_CHARS,
    tags::{TAG_MAX_CHARS, TAGS_MAX_ITEMS},
};

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
        match super::rfc3339::format_millis(self.0) {
            // ASCII digits and separators only.
            Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => serializer.serialize_str(&self.to_rfc3339()),
        }
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

/// A value that is always present in responses but may be `null`; optional and nullable in
/// requests when wrapped in `Option`. Only for inline schemas (a `$ref` cannot carry `nullable`
/// without an `allOf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T> Default for Nullable<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => reference,
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            value => T::parse_from_json(value)
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.as_ref().and_then(T::to_json).unwrap_or(Value::Null))
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// An all-day date, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DateText(pub String);

string_schema!(
    DateText,
    "string_date",
    MetaSchema {
        example: Some(Value::String("2026-04-30".into())),
        ..MetaSchema::new_with_format("string", "date")
    }
);

/// An IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TimeZoneText(pub String);

string_schema!(
    TimeZoneText,
    "string_time_zone",
    MetaSchema {
        max_length: Some(64),
        example: Some(Value::String("Europe/Berlin".into())),
        ..MetaSchema::new("string")
    }
);

/// An RFC 5545 recurrence rule (the RRULE value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RecurrenceText(pub String);

string_schema!(
    RecurrenceText,
    "string_recurrence",
    MetaSchema {
        max_length: Some(RECURRENCE_MAX_CHARS),
        example: Some(Value::String("FREQ=WEEKLY;BYDAY=MO,WE".into())),
        ..MetaSchema::new("string")
    }
);

/// A task's tags: at most `TAGS_MAX_ITEMS`, each 1 to `TAG_MAX_CHARS` characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TagNames(pub Vec<String>);

impl Type for TagNames {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "tag_names".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
                min_length: Some(1),
                max_length: Some(TAG_MAX_CHARS),
                ..MetaSchema::new("string")
            })))),
            max_items: Some(TAGS_MAX_ITEMS),
            example: Some(serde_json::json!(["home", "errands"])),
            ..MetaSchema::new("array")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for TagNames {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Vec::<String>::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for TagNames {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// How important a task is: `none` (the default), `low`, `medium` or `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "Priority", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    None,
    Low,
    Medium,
    High,
}

impl From<domain::Priority> for Priority {
    fn from(p: domain::Priority) -> Self {
        match p {
            domain::Priority::None => Self::None,
            domain::Priority::Low => Self::Low,
            domain::Priority::Medium => Self::Medium,
            domain::Priority::High => Self::High,
        }
    }
}

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
    pub priority: Priority,
    /// Labels, in the order given; matching is case-insensitive. Empty when there are none.
    pub tags: TagNames,
    /// When the task is due, as an instant (UTC). Null when it has no due or an all-day
    /// `due_date`.
    pub due_at: Nullable<Timestamp>,
    /// The day the task is due, with no time of day. Null when it has no due or a `due_at`.
    pub due_date: Nullable<DateText>,
    /// The IANA time zone the recurrence is expanded in (so 09:00 stays 09:00 across daylight
    /// saving changes). Null means UTC.
    pub time_zone: Nullable<TimeZoneText>,
    /// How the task repeats: an RFC 5545 RRULE, in canonical form. Null when it does not repeat.
    pub recurrence: Nullable<RecurrenceText>,
    /// When `complete` last became true; null while the task is not complete.
    #[oai(read_only)]
    pub completed_at: Nullable<Timestamp>,
    /// The id of the task created as this recurring task's next occurrence when it was
    /// completed; null until then, and for tasks that do not repeat.
    #[oai(read_only)]
    pub next_occurrence_id: Nullable<i64>,
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
            priority: t.priority.into(),
            tags: TagNames(t.tags),
            due_at: Nullable(t.due.and_then(|d| d.at_ms()).map(Timestamp)),
            due_date: Nullable(t.due.and_then(|d| d.due_date_string()).map(DateText)),
            time_zone: Nullable(t.time_zone.map(TimeZoneText)),
            recurrence: Nullable(t.recurrence.map(RecurrenceText)),
            completed_at: Nullable(t.completed_at_ms.map(Timestamp)),
            next_occurrence_id: Nullable(t.next_task_id),
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
            priority: Priority::Medium,
            tags: TagNames(vec!["errands".into()]),
            due_at: Nullable(Some(Timestamp(1_766_656_800_000))),
            due_date: Nullable(None),
            time_zone: Nullable(Some(TimeZoneText("Europe/Berlin".into()))),
            recurrence: Nullable(Some(RecurrenceText("FREQ=WEEKLY;BYDAY=SA".into()))),
            completed_at: Nullable(None),
            next_occurrence_id: Nullable(None),
        }
    }
}

/// One page of a list of the caller's tasks.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskList", example)]
pub struct TaskList {
    /// This page of the caller's tasks that match the filters, in the requested order; empty
    /// when none match.
    pub tasks: Vec<Task>,
    /// Number of tasks in `tasks` (this page).
    pub count: i64,
    /// Number of the caller's tasks that match the filters, over all pages.
    pub total: i64,
    /// Pass it as `cursor` (with the same filters and sort) to get the next page; null on the
    /// last page. Opaque: do not build or edit it.
    pub next_cursor: Nullable<String>,
}

impl Example for TaskList {
    fn example() -> Self {
        Self {
            tasks: vec![Task::example()],
            count: 1,
            total: 7,
            next_cursor: Nullable(Some(
                "eyJ2IjoxLCJ1IjoiOWJkNTk4MzYiLCJzIjoiaWQiLCJrIjo0MiwiaSI6NDJ9".into(),
            )),
        }
    }
}

/// The result of clearing completed tasks.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "DeletedTasks", example)]
pub struct DeletedTasks {
    /// How many tasks were deleted (0 when none were complete).
    pub deleted: i64,
}

impl Example for DeletedTasks {
    fn example() -> Self {
        Self { deleted: 3 }
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
    #[oai(skip_serializing_if_is_none)]
    pub priority: Option<Priority>,
    /// Labels, 0 to 20, each trimmed to 1 to 50 characters; duplicates that differ only in case
    /// are dropped (the first spelling is kept).
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<TagNames>,
    /// When the task is due, as an RFC 3339 date-time with any offset; returned in UTC.
    /// Exclusive with `due_date`.
    #[oai(skip_serializing_if_is_none)]
    pub due_at: Option<Nullable<Timestamp>>,
    /// The day the task is due, with no time of day. Exclusive with `due_at`.
    #[oai(skip_serializing_if_is_none)]
    pub due_date: Option<Nullable<DateText>>,
    /// The IANA time zone the recurrence is expanded in; null means UTC.
    #[oai(skip_serializing_if_is_none)]
    pub time_zone: Option<Nullable<TimeZoneText>>,
    /// How the task repeats: an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=MO,WE`. Needs
    /// `due_at` or `due_date`; `COUNT` and `UNTIL` are honoured; rules that never occur or fire
    /// more often than once a minute are refused. Completing the task creates its next
    /// occurrence.
    #[oai(skip_serializing_if_is_none)]
    pub recurrence: Option<Nullable<RecurrenceText>>,
}

impl Example for TaskCreate {
    fn example() -> Self {
        Self {
            title: TitleInput("Buy milk".into()),
            description: Some(Description(Some("2 litres, semi-skimmed".into()))),
            priority: Some(Priority::Medium),
            tags: Some(TagNames(vec!["errands".into()])),
            due_at: Some(Nullable(Some(Timestamp(1_766_656_800_000)))),
            due_date: None,
            time_zone: Some(Nullable(Some(TimeZoneText("Europe/Berlin".into())))),
            recurrence: Some(Nullable(Some(RecurrenceText(
                "FREQ=WEEKLY;BYDAY=SA".into(),
            )))),
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
    #[oai(skip_serializing_if_is_none)]
    pub priority: Option<Priority>,
    /// Labels, 0 to 20, each trimmed to 1 to 50 characters; duplicates that differ only in case
    /// are dropped (the first spelling is kept). `[]` clears them; omit to leave them unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<TagNames>,
    /// When the task is due, as an RFC 3339 date-time with any offset; returned in UTC.
    /// Exclusive with `due_date`. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub due_at: Option<Nullable<Timestamp>>,
    /// The day the task is due, with no time of day. Exclusive with `due_at`. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub due_date: Option<Nullable<DateText>>,
    /// The IANA time zone the recurrence is expanded in; null means UTC.
    #[oai(skip_serializing_if_is_none)]
    pub time_zone: Option<Nullable<TimeZoneText>>,
    /// How the task repeats: an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=MO,WE`. Needs
    /// `due_at` or `due_date`; `COUNT` and `UNTIL` are honoured; rules that never occur or fire
    /// more often than once a minute are refused. Completing the task creates its next
    /// occurrence. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub recurrence: Option<Nullable<RecurrenceText>>,
}

impl Example for TaskReplace {
    fn example() -> Self {
        Self {
            title: TitleInput("Buy oat milk".into()),
            description: Description(None),
            complete: true,
            priority: None,
            tags: None,
            due_at: None,
            due_date: None,
            time_zone: None,
            recurrence: None,
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
    #[oai(skip_serializing_if_is_none)]
    pub priority: Option<Priority>,
    /// Labels, 0 to 20, each trimmed to 1 to 50 characters; duplicates that differ only in case
    /// are dropped (the first spelling is kept). `[]` clears them; omit to leave them unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<TagNames>,
    /// When the task is due, as an RFC 3339 date-time with any offset; returned in UTC.
    /// Exclusive with `due_date`. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub due_at: Option<Nullable<Timestamp>>,
    /// The day the task is due, with no time of day. Exclusive with `due_at`. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub due_date: Option<Nullable<DateText>>,
    /// The IANA time zone the recurrence is expanded in; null means UTC.
    #[oai(skip_serializing_if_is_none)]
    pub time_zone: Option<Nullable<TimeZoneText>>,
    /// How the task repeats: an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=MO,WE`. Needs
    /// `due_at` or `due_date`; `COUNT` and `UNTIL` are honoured; rules that never occur or fire
    /// more often than once a minute are refused. Completing the task creates its next
    /// occurrence. Null clears it; omit to leave it unchanged.
    #[oai(skip_serializing_if_is_none)]
    pub recurrence: Option<Nullable<RecurrenceText>>,
}

impl Example for TaskUpdate {
    fn example() -> Self {
        Self {
            title: None,
            description: None,
            complete: Some(true),
            priority: Some(Priority::High),
            tags: None,
            due_at: None,
            due_date: None,
            time_zone: None,
            recurrence: None,
        }
    }
}

/// One of the caller's tags and how many of the caller's tasks carry it.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TagCount", example)]
pub struct TagCount {
    /// The tag, as one of the tasks spells it.
    pub name: String,
    /// How many of the caller's tasks carry it (spellings that differ only in case count as one).
    pub count: i64,
}

impl Example for TagCount {
    fn example() -> Self {
        Self {
            name: "errands".into(),
            count: 3,
        }
    }
}

/// The caller's tags, ordered by name case-insensitively.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TagList", example)]
pub struct TagList {
    /// Every tag the caller's tasks carry; empty when there are none.
    pub tags: Vec<TagCount>,
}

impl Example for TagList {
    fn example() -> Self {
        Self {
            tags: vec![TagCount::example()],
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
/// `NOT_FOUND` (404), `METHOD_NOT_ALLOWED` (405), `QUOTA_EXCEEDED` (409), `PAYLOAD_TOO_LARGE`
/// (413), `VALIDATION_ERROR` (422), `RATE_LIMITED` (429), `INTERNAL_ERROR` (500),
/// `DATABASE_UNAVAILABLE` and `AUTH_UNAVAILABLE` (503). New codes may be added: treat an unknown
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
}

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
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            detail: "body.title: title must contain at least one non-whitespace character".into(),
            error_code: ErrorCode::ValidationError,
            timestamp: Timestamp(1_766_570_400_123),
            request_id: "4f3c2a1b9d8e4f7a8b6c5d4e3f2a1b0c".into(),
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
