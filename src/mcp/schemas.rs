//! The JSON Schemas (draft 2020-12) the tools publish: what each tool takes and what its
//! `structuredContent` holds, limits included. The limits are the domain's constants, so the
//! schemas cannot promise more than the parsers accept; the parsers remain the authority (a
//! schema is advice to the model, the parser's answer is the rule).

use std::sync::Arc;

use rmcp::model::JsonObject;
use serde_json::{Value, json};

use crate::{
    domain::{
        DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS,
        list::SortKey,
        recurrence::RECURRENCE_MAX_CHARS,
        sync::IDEMPOTENCY_KEY_MAX,
        tags::{TAG_MAX_CHARS, TAGS_MAX_ITEMS},
    },
    tasks::list::{DEFAULT_LIMIT, MAX_LIMIT, SEARCH_MAX_CHARS},
};

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("every schema here is a JSON object"),
    }
}

fn user_id() -> Value {
    json!({
        "type": "string",
        "description": "Optional, for compatibility with clients that send it: the signed-in user's id. \
                        It must equal the token's subject; leave it out otherwise."
    })
}

fn task_id() -> Value {
    json!({"type": "integer", "description": "The task's id, as returned by add_task or list_tasks."})
}

/// The writable task fields; `nullable` lets `update_task` clear the ones that can be cleared.
fn task_fields(update: bool) -> serde_json::Map<String, Value> {
    let nullable = |ty: &str| -> Value {
        if update {
            json!([ty, "null"])
        } else {
            json!(ty)
        }
    };
    let fields = json!({
        "title": {
            "type": "string", "minLength": 1, "maxLength": TITLE_MAX_CHARS,
            "description": "What to do, 1 to 200 characters, not only whitespace. Example: \"Call mum\"."
        },
        "description": {
            "type": ["string", "null"], "maxLength": DESCRIPTION_MAX_CHARS,
            "description": "Longer notes, up to 1000 characters; null for none."
        },
        "priority": {
            "type": "string", "enum": ["none", "low", "medium", "high"],
            "description": "How important the task is; `none` when not said."
        },
        "tags": {
            "type": "array", "maxItems": TAGS_MAX_ITEMS,
            "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_CHARS},
            "description": "Labels such as [\"family\", \"errands\"]: up to 20, each up to 50 characters; \
                            case-insensitive duplicates are dropped. [] removes every tag."
        },
        "due_at": {
            "type": nullable("string"), "format": "date-time",
            "description": "When the task is due, as an RFC 3339 date-time with an offset, \
                            e.g. \"2026-03-29T18:00:00+02:00\". Use either due_at or due_date."
        },
        "due_date": {
            "type": nullable("string"), "format": "date",
            "description": "The day the task is due when no time is given, YYYY-MM-DD, e.g. \"2026-03-29\"."
        },
        "time_zone": {
            "type": nullable("string"),
            "description": "The user's IANA time zone, e.g. \"Europe/Berlin\": a recurrence is expanded in it, \
                            so 18:00 stays 18:00 across daylight saving. Omitted means UTC."
        },
        "recurrence": {
            "type": nullable("string"), "maxLength": RECURRENCE_MAX_CHARS,
            "description": "How the task repeats, as an RFC 5545 RRULE, e.g. \"FREQ=WEEKLY;BYDAY=SU\" for every \
                            Sunday. Needs a due (due_at or due_date): the first occurrence."
        }
    });
    match fields {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// The optional `idempotency_key` of a create.
fn idempotency_key() -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": "^[!#-~]+$",
        "description": "A new random key (e.g. a UUID) for this create; send the same key again if you retry it after a timeout or an error without a result, and the task is created only once."
    })
}

/// The optional `expected_version` of a change.
fn expected_version() -> Value {
    json!({
        "type": "integer", "minimum": 1,
        "description": "The task's version as you last read it: the change is made only if nobody changed the task since, otherwise a PRECONDITION_FAILED error carries the task as it is now."
    })
}

pub fn add_task_input() -> Arc<JsonObject> {
    let mut properties = task_fields(false);
    properties.insert("user_id".into(), user_id());
    properties.insert("idempotency_key".into(), idempotency_key());
    object(json!({
        "type": "object",
        "properties": properties,
        "required": ["title"],
        "additionalProperties": false
    }))
}

pub fn update_task_input() -> Arc<JsonObject> {
    let mut properties = task_fields(true);
    properties.insert("task_id".into(), task_id());
    properties.insert("user_id".into(), user_id());
    properties.insert("expected_version".into(), expected_version());
    properties.insert(
        "complete".into(),
        json!({"type": "boolean", "description": "Whether the task is done (complete_task and uncomplete_task say it more plainly)."}),
    );
    object(json!({
        "type": "object",
        "properties": properties,
        "required": ["task_id"],
        "minProperties": 2,
        "additionalProperties": false
    }))
}

/// The arguments of complete, uncomplete and delete: the task, and the version expected.
pub fn task_change_input() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {
            "task_id": task_id(), "user_id": user_id(), "expected_version": expected_version()
        },
        "required": ["task_id"],
        "additionalProperties": false
    }))
}

pub fn task_id_input() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {"task_id": task_id(), "user_id": user_id()},
        "required": ["task_id"],
        "additionalProperties": false
    }))
}

pub fn list_tasks_input() -> Arc<JsonObject> {
    let one_or_many =
        |item: Value| json!({"anyOf": [item.clone(), {"type": "array", "items": item}]});
    let sorts: Vec<String> = SortKey::ALL
        .iter()
        .flat_map(|(_, name)| [(*name).to_owned(), format!("-{name}")])
        .collect();
    object(json!({
        "type": "object",
        "properties": {
            "complete": {"type": "boolean", "description": "Only done (true) or not done (false) tasks."},
            "status": {
                "type": "string", "enum": ["all", "pending", "completed"],
                "description": "Older spelling of complete: `pending` (not done), `completed`, or `all`."
            },
            "priority": one_or_many(json!({"type": "string", "enum": ["none", "low", "medium", "high"]})),
            "tag": one_or_many(json!({"type": "string", "minLength": 1, "maxLength": TAG_MAX_CHARS})),
            "due_before": {"type": "string", "description": "RFC 3339 date-time or YYYY-MM-DD: due strictly before."},
            "due_after": {"type": "string", "description": "RFC 3339 date-time or YYYY-MM-DD: due at or after."},
            "overdue": {"type": "boolean", "description": "true: not done and due before now."},
            "tz": {"type": "string", "description": "IANA time zone for YYYY-MM-DD values and all-day dues (default UTC)."},
            "q": {"type": "string", "minLength": 1, "maxLength": SEARCH_MAX_CHARS, "description": "Text the title or description contains, ignoring case."},
            "sort": {"type": "string", "enum": sorts},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "cursor": {"type": "string", "description": "next_cursor of the previous call."},
            "user_id": user_id()
        },
        "additionalProperties": false
    }))
}

pub fn cleared_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {"deleted": {"type": "integer", "minimum": 0}},
        "required": ["deleted"]
    }))
}

pub fn user_only_input() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {"user_id": user_id()},
        "additionalProperties": false
    }))
}

/// A task exactly as the REST API returns it.
fn task() -> Value {
    let nullable_string = json!({"type": ["string", "null"]});
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "user_id": {"type": "string"},
            "title": {"type": "string", "maxLength": TITLE_MAX_CHARS},
            "description": {"type": ["string", "null"], "maxLength": DESCRIPTION_MAX_CHARS},
            "complete": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "priority": {"type": "string", "enum": ["none", "low", "medium", "high"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": TAGS_MAX_ITEMS},
            "due_at": nullable_string,
            "due_date": nullable_string,
            "time_zone": nullable_string,
            "recurrence": nullable_string,
            "completed_at": nullable_string,
            "next_occurrence_id": {"type": ["integer", "null"]},
            "version": {"type": "integer", "minimum": 1}
        },
        "required": [
            "id", "user_id", "title", "description", "complete", "created_at", "updated_at",
            "priority", "tags", "due_at", "due_date", "time_zone", "recurrence", "completed_at",
            "next_occurrence_id", "version"
        ]
    })
}

pub fn task_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {"task": task()},
        "required": ["task"]
    }))
}

pub fn complete_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {
            "task": task(),
            "next_occurrence_id": {
                "type": ["integer", "null"],
                "description": "For a recurring task: the id of its next occurrence, created when it was completed."
            }
        },
        "required": ["task", "next_occurrence_id"]
    }))
}

pub fn task_list_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {
            "tasks": {"type": "array", "items": task()},
            "count": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "next_cursor": {"type": ["string", "null"]},
            "sync_cursor": {"type": "string"}
        },
        "required": ["tasks", "count", "total", "next_cursor", "sync_cursor"]
    }))
}

pub fn deleted_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {"deleted": {"const": true}, "task_id": {"type": "integer"}},
        "required": ["deleted", "task_id"]
    }))
}

pub fn tag_list_output() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
                    "required": ["name", "count"]
                }
            }
        },
        "required": ["tags"]
    }))
}
