//! The task schemas: a task, a page of tasks, the request bodies that create, replace and
//! update one, and the tag counts.

use poem_openapi::{Object, types::Example};
use serde::Serialize;

use crate::domain;

use super::scalars::*;

/// A task.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Task", example)]
pub struct TaskView {
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
    /// 1 on create, +1 on every change of any field. The `ETag` of the task's responses is this
    /// number quoted (`"3"`); send it back in `If-Match` to change the task only if nobody else
    /// has changed it since.
    #[oai(read_only)]
    pub version: i64,
}

impl From<domain::Task> for TaskView {
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
            version: t.version,
        }
    }
}

impl Example for TaskView {
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
            version: 3,
        }
    }
}

/// One page of a list of the caller's tasks.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskList", example)]
pub struct TaskList {
    /// This page of the caller's tasks that match the filters, in the requested order; empty
    /// when none match.
    pub tasks: Vec<TaskView>,
    /// Number of tasks in `tasks` (this page).
    pub count: i64,
    /// Number of the caller's tasks that match the filters, over all pages.
    pub total: i64,
    /// Pass it as `cursor` (with the same filters and sort) to get the next page; null on the
    /// last page. Opaque: do not build or edit it.
    pub next_cursor: Nullable<String>,
    /// The change feed's position of the data this page was read from: after a full list,
    /// follow `GET /api/{user_id}/changes?since=` from here to hear of every later change.
    pub sync_cursor: String,
}

impl Example for TaskList {
    fn example() -> Self {
        Self {
            tasks: vec![TaskView::example()],
            count: 1,
            total: 7,
            next_cursor: Nullable(Some(
                "eyJ2IjoxLCJ1IjoiOWJkNTk4MzYiLCJzIjoiaWQiLCJrIjo0MiwiaSI6NDJ9".into(),
            )),
            sync_cursor: "eyJ2IjoxLCJ1IjoiOWJkNTk4MzYiLCJwIjpbOTMxLDBdfQ".into(),
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
