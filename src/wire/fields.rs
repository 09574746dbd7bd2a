//! The field reader every front door parses JSON input with: REST bodies and MCP tool arguments
//! obey the same rules and report every problem with its field (missing, null, wrong type, too
//! long, blank, unknown) in one 422 `VALIDATION_ERROR`. Also the two small readings of a raw
//! request both doors share: a bearer token from `Authorization`, and a body read within a size
//! limit.

use poem::{Body, Request, error::ReadBodyError, http::header};
use poem_openapi::types::Type;
use serde_json::{Map, Value};

use super::{
    error::ApiError,
    schemas::{TaskCreate, TaskReplace, TaskUpdate, ValidationIssue},
};
use crate::domain::{
    DomainError, Due, NewTask, Priority, Recurrence, Schedule, Tags, TagsError, TaskChanges,
    TaskDescription, TaskReplacement, TaskTitle, TimeZoneName,
};

/// A request schema and the domain value it parses into.
pub trait RequestSchema: Type + 'static {
    type Parsed: Send + 'static;
    fn parse(body: &mut ObjectReader) -> Option<Self::Parsed>;
}

/// Read `map` with `parse`, reporting every field at fault under `root` (`body` for REST,
/// `arguments` for MCP tools) as one 422 `VALIDATION_ERROR`; unknown fields are faults too.
///
/// The one entry point both front doors parse with, so REST bodies and MCP tool arguments obey
/// the same rules. Checking a recurrence rule expands it, which an odd rule can make take
/// milliseconds: objects with one are parsed on the blocking pool, others in place.
pub async fn parse_fields<T: Send + 'static>(
    map: Map<String, Value>,
    root: &'static str,
    parse: fn(&mut ObjectReader) -> Option<T>,
) -> Result<T, ApiError> {
    let (parsed, finished) = if map.contains_key("recurrence") {
        tokio::task::spawn_blocking(move || parse_object(map, root, parse))
            .await
            .map_err(|_| ApiError::internal())?
    } else {
        parse_object(map, root, parse)
    };
    match (parsed, finished) {
        (Some(parsed), Ok(())) => Ok(parsed),
        (_, Err(issues)) => Err(ApiError::validation(issues)),
        (None, Ok(())) => Err(ApiError::validation(vec![ValidationIssue::new(
            &[root],
            "invalid body",
            "value_error",
        )])),
    }
}

/// Read `map` with `parse`: the parsed value, and every problem found (unknown fields included).
#[allow(clippy::type_complexity)]
fn parse_object<T>(
    map: Map<String, Value>,
    root: &'static str,
    parse: fn(&mut ObjectReader) -> Option<T>,
) -> (Option<T>, Result<(), Vec<ValidationIssue>>) {
    let mut reader = ObjectReader::new(map, root);
    let parsed = parse(&mut reader);
    (parsed, reader.finish())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, the token
/// trimmed); `None` when the header is absent, another scheme, or the token empty.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let (scheme, token) = req.header(header::AUTHORIZATION)?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The request's declared `Content-Length`, when it has a sane one.
pub fn declared_length(req: &Request) -> Option<usize> {
    req.header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<usize>().ok())
}

/// Read `body` whole, refusing more than `limit` bytes (413): a `declared` length over it is
/// refused before reading, and a body that runs past it while read is refused too.
pub async fn read_limited(
    declared: Option<usize>,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    body.into_bytes_limit(limit).await.map_err(|e| match e {
        ReadBodyError::PayloadTooLarge => ApiError::payload_too_large(limit),
        _ => ApiError::bad_request("request body could not be read"),
    })
}

/// Reads fields out of a JSON object, collecting every problem instead of stopping at the first.
pub struct ObjectReader {
    map: Map<String, Value>,
    /// The first element of every problem's `loc`: `body` or `arguments`.
    root: &'static str,
    issues: Vec<ValidationIssue>,
}

impl ObjectReader {
    fn new(map: Map<String, Value>, root: &'static str) -> Self {
        Self {
            map,
            root,
            issues: Vec::new(),
        }
    }

    fn issue(&mut self, field: &str, msg: impl Into<String>, kind: &str) {
        self.issues
            .push(ValidationIssue::new(&[self.root, field], msg, kind));
    }

    /// Any key left unread is unknown: report it, so a typo such as `completed` is not ignored.
    fn finish(mut self) -> Result<(), Vec<ValidationIssue>> {
        let mut unknown: Vec<String> = self.map.keys().cloned().collect();
        unknown.sort();
        for key in unknown {
            self.issue(&key, format!("unknown field `{key}`"), "extra_forbidden");
        }
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(self.issues)
        }
    }

    /// `None` when absent; `Some(Value::Null)` when explicitly null.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field)
    }

    /// Two fields that contradict each other: a problem reported on `field`.
    pub fn conflict(&mut self, field: &str, msg: &str) {
        self.issue(field, msg, "conflict");
    }

    fn missing(&mut self, field: &str) {
        self.issue(field, format!("`{field}` is required"), "missing");
    }

    fn string(&mut self, field: &str, value: Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s),
            _ => {
                self.issue(field, format!("`{field}` must be a string"), "string_type");
                None
            }
        }
    }

    fn domain<T>(&mut self, field: &str, parsed: Result<T, DomainError>) -> Option<T> {
        parsed
            .map_err(|e| self.issue(field, e.message, e.kind))
            .ok()
    }

    /// A required integer id (a task's `task_id`).
    pub fn id(&mut self, field: &str) -> Option<i64> {
        match self.take(field) {
            None | Some(Value::Null) => {
                self.missing(field);
                None
            }
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(_) => {
                self.issue(
                    field,
                    format!("`{field}` must be a 64-bit integer"),
                    "int_parsing",
                );
                None
            }
        }
    }

    /// An optional string: `None` when absent or null; a problem when not a string.
    pub fn optional_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.take(field) {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.string(field, v).map(Some),
        }
    }

    /// An optional boolean, as the text a query parameter would carry (`"true"`/`"false"`).
    pub fn optional_bool_text(&mut self, field: &str) -> Option<Option<String>> {
        match self.take(field) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(b.to_string())),
            Some(_) => {
                self.issue(field, format!("`{field}` must be a boolean"), "bool_type");
                None
            }
        }
    }

    /// An optional integer, as the text a query parameter would carry.
    pub fn optional_integer_text(&mut self, field: &str) -> Option<Option<String>> {
        match self.take(field) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Some(n.to_string())),
            Some(_) => {
                self.issue(field, format!("`{field}` must be an integer"), "int_type");
                None
            }
        }
    }

    /// A string or an array of strings (a repeatable query parameter); empty when absent.
    pub fn strings(&mut self, field: &str) -> Option<Vec<String>> {
        match self.take(field) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::String(s)) => Some(vec![s]),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(
                items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            Some(_) => {
                self.issue(
                    field,
                    format!("`{field}` must be a string or an array of strings"),
                    "string_type",
                );
                None
            }
        }
    }

    /// An optional string that must be one of `allowed`: `None` when absent or null.
    pub fn optional_choice(
        &mut self,
        field: &str,
        allowed: &[&'static str],
    ) -> Option<Option<&'static str>> {
        let value = self.optional_string(field)?;
        match value {
            None => Some(None),
            Some(s) => match allowed.iter().find(|a| **a == s) {
                Some(found) => Some(Some(*found)),
                None => {
                    let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                    self.issue(
                        field,
                        format!("`{field}` must be one of {}", list.join(", ")),
                        "enum",
                    );
                    None
                }
            },
        }
    }

    /// A required, non-null title.
    pub fn title(&mut self) -> Option<TaskTitle> {
        match self.take("title") {
            None | Some(Value::Null) => {
                self.missing("title");
                None
            }
            Some(v) => {
                let s = self.string("title", v)?;
                self.domain("title", TaskTitle::parse(s))
            }
        }
    }

    /// An optional title: absent is `None`; null is an error (a title cannot be cleared).
    pub fn optional_title(&mut self) -> Option<Option<TaskTitle>> {
        match self.take("title") {
            None => Some(None),
            Some(Value::Null) => {
                self.issue("title", "`title` cannot be null", "string_type");
                None
            }
            Some(v) => {
                let s = self.string("title", v)?;
                self.domain("title", TaskTitle::parse(s)).map(Some)
            }
        }
    }

    /// A description: `None` when absent, `Some(None)` when null.
    pub fn description(&mut self) -> Option<Option<Option<TaskDescription>>> {
        match self.take("description") {
            None => Some(None),
            Some(Value::Null) => Some(Some(None)),
            Some(v) => {
                let s = self.string("description", v)?;
                self.domain("description", TaskDescription::parse(s))
                    .map(|d| Some(Some(d)))
            }
        }
    }

    /// A boolean `complete`: `None` when absent; null is an error.
    pub fn complete(&mut self) -> Option<Option<bool>> {
        match self.take("complete") {
            None => Some(None),
            Some(Value::Bool(b)) => Some(Some(b)),
            Some(Value::Null) => {
                self.issue("complete", "`complete` cannot be null", "bool_type");
                None
            }
            Some(_) => {
                self.issue("complete", "`complete` must be true or false", "bool_type");
                None
            }
        }
    }

    /// A priority: `None` when absent; null is an error (a priority is never empty, it is `none`).
    pub fn priority(&mut self) -> Option<Option<Priority>> {
        match self.take("priority") {
            None => Some(None),
            Some(Value::String(s)) => self.domain("priority", Priority::parse(&s)).map(Some),
            Some(_) => {
                self.issue(
                    "priority",
                    "`priority` must be one of `none`, `low`, `medium`, `high`",
                    "enum",
                );
                None
            }
        }
    }

    /// Tags: `None` when absent; null is an error (`[]` clears them). Each item is reported at
    /// its index.
    pub fn tags(&mut self) -> Option<Option<Tags>> {
        let items = match self.take("tags") {
            None => return Some(None),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.issue("tags", "`tags` must be an array of strings", "list_type");
                return None;
            }
        };
        let mut strings = Vec::with_capacity(items.len());
        let mut typed = true;
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => strings.push(s),
                _ => {
                    let index = index.to_string();
                    self.issues.push(ValidationIssue::new(
                        &[self.root, "tags", &index],
                        "each tag must be a string",
                        "string_type",
                    ));
                    typed = false;
                }
            }
        }
        if !typed {
            return None;
        }
        match Tags::parse(&strings) {
            Ok(tags) => Some(Some(tags)),
            Err(TagsError { index, error }) => {
                let index = index.map(|i| i.to_string());
                let mut loc = vec![self.root, "tags"];
                loc.extend(index.as_deref());
                self.issues
                    .push(ValidationIssue::new(&loc, error.message, error.kind));
                None
            }
        }
    }

    /// A nullable string field parsed by `parse`: `None` when absent, `Some(None)` when null.
    fn nullable<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, DomainError>,
    ) -> Option<Option<Option<T>>> {
        match self.take(field) {
            None => Some(None),
            Some(Value::Null) => Some(Some(None)),
            Some(v) => {
                let s = self.string(field, v)?;
                self.domain(field, parse(&s)).map(|t| Some(Some(t)))
            }
        }
    }

    /// `due_at` and `due_date`, each absent, null or a value; both with values is a conflict
    /// reported on both fields.
    #[allow(clippy::type_complexity)]
    pub fn due(&mut self) -> Option<(Option<Option<Due>>, Option<Option<Due>>)> {
        let due_at = self.nullable("due_at", Due::parse_at);
        let due_date = self.nullable("due_date", Due::parse_date);
        let (due_at, due_date) = (due_at?, due_date?);
        if matches!((&due_at, &due_date), (Some(Some(_)), Some(Some(_)))) {
            for field in ["due_at", "due_date"] {
                self.issue(
                    field,
                    "send either `due_at` (a date and time) or `due_date` (a whole day), not both",
                    "due_conflict",
                );
            }
            return None;
        }
        Some((due_at, due_date))
    }

    /// A time zone: `None` when absent, `Some(None)` when null (UTC).
    pub fn time_zone(&mut self) -> Option<Option<Option<TimeZoneName>>> {
        self.nullable("time_zone", TimeZoneName::parse)
    }

    /// A recurrence rule: `None` when absent, `Some(None)` when null (does not repeat).
    pub fn recurrence(&mut self) -> Option<Option<Option<Recurrence>>> {
        self.nullable("recurrence", Recurrence::parse)
    }

    /// Every newer field, as a change (used by PUT and PATCH).
    fn task_changes(&mut self) -> Option<TaskChanges> {
        let priority = self.priority();
        let tags = self.tags();
        let due = self.due();
        let time_zone = self.time_zone();
        let recurrence = self.recurrence();
        let (due_at, due_date) = due?;
        Some(TaskChanges {
            priority: priority?,
            tags: tags?,
            due_at,
            due_date,
            time_zone: time_zone?,
            recurrence: recurrence?,
            ..TaskChanges::default()
        })
    }
}

impl RequestSchema for TaskCreate {
    type Parsed = NewTask;

    fn parse(body: &mut ObjectReader) -> Option<NewTask> {
        let title = body.title();
        let description = body.description();
        let others = body.task_changes()?;
        let due = others.due_at.flatten().or(others.due_date.flatten());
        let schedule = Schedule::new(due, others.time_zone.flatten(), others.recurrence.flatten())
            .map_err(|e| body.issue(e.field, e.error.message, e.error.kind))
            .ok();
        Some(NewTask {
            title: title?,
            description: description?.flatten(),
            priority: others.priority.unwrap_or_default(),
            tags: others.tags.unwrap_or_default(),
            schedule: schedule?,
        })
    }
}

impl RequestSchema for TaskReplace {
    type Parsed = TaskReplacement;

    fn parse(body: &mut ObjectReader) -> Option<TaskReplacement> {
        let title = body.title();
        let description = match body.description() {
            Some(None) => {
                body.missing("description");
                None
            }
            other => other.flatten(),
        };
        let complete = match body.complete() {
            Some(None) => {
                body.missing("complete");
                None
            }
            other => other.flatten(),
        };
        let others = body.task_changes();
        Some(TaskReplacement {
            title: title?,
            description: description?,
            complete: complete?,
            others: others?,
        })
    }
}

impl RequestSchema for TaskUpdate {
    type Parsed = TaskChanges;

    fn parse(body: &mut ObjectReader) -> Option<TaskChanges> {
        let title = body.optional_title();
        let description = body.description();
        let complete = body.complete();
        let others = body.task_changes();
        Some(TaskChanges {
            title: title?,
            description: description?,
            complete: complete?,
            ..others?
        })
    }
}
