//! The MCP tools: one per task use case, each a thin translation like a REST operation.
//!
//! A tool takes its arguments as a raw JSON object and parses them with the field reader REST
//! bodies are parsed with ([`parse_fields`]), so a title, a tag list or a recurrence rule is
//! accepted or refused exactly as REST would, with the same `error_code`, `detail` and `errors`
//! (`loc` starting with `arguments` instead of `body`). It then calls one use case of
//! [`TaskService`] for the caller, who was authenticated before the request reached rmcp (see
//! `mcp::http`). Failures are tool results with `isError: true`, never protocol errors, so the
//! model reads them and can correct itself.

use poem::http::request::Parts;
use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension},
    model::{
        CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig,
    },
    tool, tool_handler, tool_router,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{CallRequestId, Caller, schemas};
use crate::{
    domain::{
        Task, TaskId, UserId, now_ms,
        sync::{Expected, IdempotencyKey, Outcome, StoredResponse, Written},
    },
    store::TaskStore,
    tasks::{Idempotency, ListPage, ListParams, ListRequest, TaskError, TaskService, WriteTerms},
    wire::{
        error::ApiError,
        fields::{ObjectReader, RequestSchema, parse_fields},
        schemas::{ARGUMENTS, TaskCreate, TaskUpdate, TaskView, ValidationIssue},
    },
};

/// The list arguments, read as the REST query parameters would carry them. `status` (`all`,
/// `pending`, `completed`) is the older spelling of `complete` and may not contradict it.
fn read_list_params(r: &mut ObjectReader) -> Option<ListParams> {
    // Every field is read before any is judged, so each problem is reported (and none is
    // mistaken for an unknown field).
    let status = r.optional_choice("status", &["all", "pending", "completed"]);
    let complete = r.optional_bool_text("complete");
    let priority = r.strings("priority");
    let tag = r.strings("tag");
    let due_before = r.optional_string("due_before");
    let due_after = r.optional_string("due_after");
    let overdue = r.optional_bool_text("overdue");
    let tz = r.optional_string("tz");
    let q = r.optional_string("q");
    let sort = r.optional_string("sort");
    let limit = r.optional_integer_text("limit");
    let cursor = r.optional_string("cursor");
    let from_status = match status? {
        Some("pending") => Some("false".to_owned()),
        Some("completed") => Some("true".to_owned()),
        _ => None,
    };
    let complete = match (complete?, from_status) {
        (Some(complete), Some(status)) if complete != status => {
            r.conflict(
                "status",
                "`status` and `complete` disagree: send one of them",
            );
            return None;
        }
        (complete, status) => complete.or(status),
    };
    Some(ListParams {
        complete,
        priority: priority?,
        tag: tag?,
        due_before: due_before?,
        due_after: due_after?,
        overdue: overdue?,
        tz: tz?,
        q: q?,
        sort: sort?,
        limit: limit?,
        cursor: cursor?,
    })
}

const INSTRUCTIONS: &str = "\
Tools over the signed-in user's todo list. Every tool acts for the user the bearer token belongs \
to; there is no way to reach another user's tasks. Use list_tasks to find a task's id before \
get_task, update_task, complete_task, uncomplete_task or delete_task. Dates and times are RFC 3339; \
pass the user's IANA time_zone with a recurrence. A result with isError true carries error_code, \
detail and, for VALIDATION_ERROR, errors[] naming each argument at fault (loc): fix those and retry. \
Every task carries a version. To change a task you read earlier without overwriting someone else's \
change, pass it as expected_version: a PRECONDITION_FAILED error then carries the task as it is now; \
merge and retry with its version. When you retry add_task after a timeout, pass the same \
idempotency_key as the first attempt so the task is created only once.";

/// The MCP server: the task use cases as tools. Cheap to clone (rmcp makes one per request).
pub struct TodoTools<S> {
    tasks: TaskService<S>,
    tool_router: ToolRouter<Self>,
}

impl<S: TaskStore> Clone for TodoTools<S> {
    fn clone(&self) -> Self {
        Self {
            tasks: self.tasks.clone(),
            tool_router: self.tool_router.clone(),
        }
    }
}

impl<S: TaskStore> TodoTools<S> {
    pub fn new(tasks: TaskService<S>) -> Self {
        Self {
            tasks,
            tool_router: Self::tool_router(),
        }
    }

    /// Mark the task the `task_id` argument names done (`complete`) or not done, if it is at
    /// the `expected_version` when one is given.
    async fn mark(
        &self,
        owner: &UserId,
        mut args: JsonObject,
        complete: bool,
    ) -> Result<Task, ApiError> {
        let expected = take_expected_version(&mut args)?;
        let id = task_id(args).await?;
        let terms = WriteTerms::new(expected, None);
        fresh(
            self.tasks
                .set_complete(owner, id, complete, terms)
                .await
                .map_err(task_error)?,
        )
    }
}

#[tool_router]
impl<S: TaskStore> TodoTools<S> {
    #[tool(
        description = "Create a task for the user. Use it when the user asks to add, remember or schedule \
something. Arguments: title (required, what to do, 1-200 characters); description (optional notes); \
priority (none|low|medium|high); tags (labels, e.g. [\"family\"]); due_at (a date-time with offset, \
e.g. \"2026-03-29T18:00:00+02:00\") or due_date (a whole day, \"2026-03-29\"), not both; time_zone \
(IANA name, e.g. \"Europe/Berlin\"); recurrence (an RFC 5545 RRULE such as \"FREQ=WEEKLY;BYDAY=SU\", \
which needs a due: the first occurrence). Example: \"call mum every Sunday at 6 pm\" -> \
{\"title\": \"Call mum\", \"due_at\": \"2026-03-29T18:00:00+02:00\", \"time_zone\": \"Europe/Berlin\", \
\"recurrence\": \"FREQ=WEEKLY;BYDAY=SU\"}. Pass an idempotency_key (a new UUID per task) whenever \
you might retry: a retry with the same key and arguments returns the first result and creates nothing. \
Returns the created task with its id and version.",
        input_schema = schemas::add_task_input(),
        output_schema = schemas::task_output(),
        annotations(title = "Add a task", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn add_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, mut args| async move {
            let key = take_idempotency_key(&mut args)?;
            let fingerprint = key.as_ref().map(|_| fingerprint("add_task", &args));
            let new_task =
                parse_fields(args, ARGUMENTS, <TaskCreate as RequestSchema>::parse).await?;
            let keyed = key.zip(fingerprint).map(|(key, fingerprint)| Idempotency {
                key,
                fingerprint,
                render: Box::new(|outcome| match outcome {
                    Outcome::Task(task) => stored(&task_result("Created", task.clone())),
                    _ => stored(&CallToolResult::success(Vec::new())),
                }),
            });
            match self
                .tasks
                .create(&owner, new_task, keyed)
                .await
                .map_err(task_error)?
            {
                Written::Fresh(task) => Ok(task_result("Created", task)),
                Written::Replayed(stored) => replayed(&stored),
            }
        })
        .await
    }

    #[tool(
        description = "List the user's tasks, a page at a time (oldest first unless sorted). Use it to \
answer \"what do I have to do?\", to find a task's id from its title before changing it, or to review \
finished work. All arguments are optional and combine: complete (true/false), priority (\"high\" or \
[\"high\",\"medium\"]), tag (one tag or an array: tasks carrying all of them), due_before / due_after \
(RFC 3339 or YYYY-MM-DD), overdue (true), tz (IANA zone for dates), q (text in title or description, \
case-insensitive), sort (id, created_at, updated_at, due, priority, title; prefix - for descending: \
\"-priority\" is most important first), limit (1-500, default 100), cursor (next_cursor of the previous \
call, with the same other arguments). Example: {\"complete\": false, \"sort\": \"due\", \"limit\": 20}. \
Returns tasks[], count, total (all matches) and next_cursor (null on the last page).",
        input_schema = schemas::list_tasks_input(),
        output_schema = schemas::task_list_output(),
        annotations(title = "List tasks", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tasks(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            let params = parse_fields(args, ARGUMENTS, read_list_params).await?;
            let request = ListRequest::parse(&owner, &params, now_ms())
                .map_err(|refusal| ApiError::from_list(refusal, ARGUMENTS))?;
            let page = self.tasks.list(&owner, request).await.map_err(task_error)?;
            Ok(list_result(page))
        })
        .await
    }

    #[tool(
        description = "Delete every completed task of the user at once (\"clear completed\"; there is no \
undo). Use it only when the user asks to clear or remove their finished tasks. No arguments. Returns \
deleted, the number of tasks removed.",
        input_schema = schemas::user_only_input(),
        output_schema = schemas::cleared_output(),
        annotations(title = "Clear completed tasks", read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn clear_completed_tasks(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            parse_fields(args, ARGUMENTS, |_| Some(())).await?;
            let deleted = fresh(
                self.tasks
                    .clear_completed(&owner, None)
                    .await
                    .map_err(task_error)?,
            )?;
            Ok(structured(
                format!("Deleted {deleted} completed tasks."),
                json!({ "deleted": deleted }),
            ))
        })
        .await
    }

    #[tool(
        description = "Get one of the user's tasks by id, with every field. Use it to check a task's \
details (due, recurrence, tags) before answering or changing it. Argument: task_id (required, an integer \
from list_tasks or add_task). Example: {\"task_id\": 42}. A task that does not exist (or is not the \
user's) is a NOT_FOUND error.",
        input_schema = schemas::task_id_input(),
        output_schema = schemas::task_output(),
        annotations(title = "Get a task", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            let id = task_id(args).await?;
            let task = self.tasks.get(&owner, id).await.map_err(task_error)?;
            Ok(task_result("Task", task))
        })
        .await
    }

    #[tool(
        description = "Change some fields of a task, leaving the others as they are. Use it to rename, \
reschedule, re-prioritise, retag or make a task repeat (or stop repeating). Arguments: task_id (required) \
and at least one of: title, description (null clears it), priority (none|low|medium|high), tags (the new \
full list; [] clears them), due_at or due_date (null clears the due), time_zone, recurrence (an RRULE; \
null stops the repetition), complete (true/false); optionally expected_version (the version you last \
read: the change is refused with PRECONDITION_FAILED if the task changed since). Example: move task 42 to \
Friday 9 am -> {\"task_id\": 42, \"due_at\": \"2026-04-03T09:00:00+02:00\"}. Returns the updated task.",
        input_schema = schemas::update_task_input(),
        output_schema = schemas::task_output(),
        annotations(title = "Update a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn update_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, mut args| async move {
            let expected = take_expected_version(&mut args)?;
            let (id, changes) = parse_fields(args, ARGUMENTS, |r| {
                let id = r.id("task_id");
                let changes = <TaskUpdate as RequestSchema>::parse(r);
                Some((id?, changes?))
            })
            .await?;
            let terms = WriteTerms::new(expected, None);
            let task = fresh(
                self.tasks
                    .update(&owner, id, changes, terms)
                    .await
                    .map_err(task_error)?,
            )?;
            Ok(task_result("Updated", task))
        })
        .await
    }

    #[tool(
        description = "Mark a task as done. Use it when the user says they finished something. Idempotent: \
completing a completed task changes nothing. For a recurring task, completing it creates the next \
occurrence (returned as next_occurrence_id). Arguments: task_id (required), expected_version (optional, \
as for update_task). Example: {\"task_id\": 42}.",
        input_schema = schemas::task_change_input(),
        output_schema = schemas::complete_output(),
        annotations(title = "Complete a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn complete_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            let task = self.mark(&owner, args, true).await?;
            let next = task.next_task_id;
            let task = view(task);
            let mut text = render_task("Completed", &task);
            if let Some(next) = next {
                text.push_str(&format!("\nNext occurrence: task {next}."));
            }
            Ok(structured(
                text,
                json!({"task": task, "next_occurrence_id": next}),
            ))
        })
        .await
    }

    #[tool(
        description = "Mark a completed task as not done again. Use it when the user says a task is not \
finished after all. Idempotent. Arguments: task_id (required), expected_version (optional, as for \
update_task). Example: {\"task_id\": 42}.",
        input_schema = schemas::task_change_input(),
        output_schema = schemas::task_output(),
        annotations(title = "Reopen a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn uncomplete_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            let task = self.mark(&owner, args, false).await?;
            Ok(task_result("Reopened", task))
        })
        .await
    }

    #[tool(
        description = "Delete a task for good (there is no undo; its id is never reused). Use it only when \
the user asks to remove a task, not when they finished it (use complete_task). Arguments: task_id \
(required), expected_version (optional: delete only if the task has not changed since you read it). \
Example: {\"task_id\": 42}. Deleting a task that does not exist is a NOT_FOUND error.",
        input_schema = schemas::task_change_input(),
        output_schema = schemas::deleted_output(),
        annotations(title = "Delete a task", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn delete_task(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, mut args| async move {
            let expected = take_expected_version(&mut args)?;
            let id = task_id(args).await?;
            let terms = WriteTerms::new(expected, None);
            fresh(
                self.tasks
                    .delete(&owner, id, terms)
                    .await
                    .map_err(task_error)?,
            )?;
            Ok(structured(
                format!("Deleted task {id}."),
                json!({"deleted": true, "task_id": id}),
            ))
        })
        .await
    }

    #[tool(
        description = "List the tags the user's tasks carry, each with how many tasks carry it, by name. \
Use it to reuse an existing tag rather than invent a near-duplicate, or to answer \"what categories do I \
have?\". No arguments. Example: {}.",
        input_schema = schemas::user_only_input(),
        output_schema = schemas::tag_list_output(),
        annotations(title = "List tags", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tags(
        &self,
        args: JsonObject,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        run(&parts, args, |owner, args| async move {
            parse_fields(args, ARGUMENTS, |_| Some(())).await?;
            let tags = self.tasks.tags(&owner).await.map_err(task_error)?;
            let text = if tags.is_empty() {
                "No tags.".to_owned()
            } else {
                tags.iter()
                    .map(|t| format!("{} ({})", t.name, t.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let tags: Vec<Value> = tags
                .into_iter()
                .map(|t| json!({"name": t.name, "count": t.count}))
                .collect();
            Ok(structured(text, json!({"tags": tags})))
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl<S: TaskStore> ServerHandler for TodoTools<S> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("todo-api", env!("CARGO_PKG_VERSION"))
                    .with_title("todo-api tasks"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}

/// The authenticated caller, and the arguments without the optional `user_id`, which must be the
/// caller's own id when present.
fn caller(parts: &Parts, mut args: JsonObject) -> Result<(UserId, JsonObject), ApiError> {
    // Set by `mcp::http` on every request it lets through; its absence is a wiring bug.
    let Some(Caller(owner)) = parts.extensions.get::<Caller>().cloned() else {
        tracing::error!("an MCP request reached a tool without an authenticated caller");
        return Err(ApiError::internal());
    };
    match args.remove("user_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(user_id)) if user_id == owner.as_str() => {}
        Some(Value::String(_)) => {
            tracing::debug!(subject = %owner, "forbidden: user_id argument is not the subject");
            return Err(ApiError::forbidden());
        }
        Some(_) => {
            return Err(ApiError::validation(vec![ValidationIssue::new(
                &[ARGUMENTS, "user_id"],
                "`user_id` must be a string",
                "string_type",
            )]));
        }
    }
    Ok((owner, args))
}

/// The one `task_id` argument of get, complete, uncomplete and delete.
async fn task_id(args: JsonObject) -> Result<TaskId, ApiError> {
    parse_fields(args, ARGUMENTS, |r: &mut ObjectReader| r.id("task_id")).await
}

fn task_error(e: TaskError) -> ApiError {
    ApiError::from_task(e, ARGUMENTS)
}

/// A write's result when it carried no idempotency key (so it cannot be a replay).
fn fresh<T>(written: Written<T>) -> Result<T, ApiError> {
    match written {
        Written::Fresh(value) => Ok(value),
        Written::Replayed(_) => {
            tracing::error!("a write without an idempotency key was answered as a replay");
            Err(ApiError::internal())
        }
    }
}

/// Take the optional `expected_version` (an integer of at least 1) out of the arguments.
fn take_expected_version(args: &mut JsonObject) -> Result<Option<Expected>, ApiError> {
    match args.remove("expected_version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 1) => {
            Ok(n.as_i64().map(|v| Expected::OneOf(vec![v])))
        }
        Some(_) => Err(ApiError::validation(vec![ValidationIssue::new(
            &[ARGUMENTS, "expected_version"],
            "`expected_version` must be an integer of at least 1: the task's version",
            "int_type",
        )])),
    }
}

/// Take the optional `idempotency_key` out of the arguments.
fn take_idempotency_key(args: &mut JsonObject) -> Result<Option<IdempotencyKey>, ApiError> {
    let invalid = |message: String| {
        ApiError::validation(vec![ValidationIssue::new(
            &[ARGUMENTS, "idempotency_key"],
            message,
            "idempotency_key_invalid",
        )])
    };
    match args.remove("idempotency_key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => IdempotencyKey::parse(&raw)
            .map(Some)
            .map_err(|e| invalid(e.message)),
        Some(_) => Err(invalid("`idempotency_key` must be a string".into())),
    }
}

/// What a retry must repeat to be the same call: the tool and its arguments (without the key).
/// Never equal to a REST request's, so a key used on one door is "reused" on the other.
fn fingerprint(tool: &str, args: &JsonObject) -> String {
    let mut hash = Sha256::new();
    hash.update(b"mcp\n");
    hash.update(tool.as_bytes());
    hash.update(b"\n");
    hash.update(serde_json::to_vec(args).unwrap_or_default());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A tool result as stored under an idempotency key.
fn stored(result: &CallToolResult) -> StoredResponse {
    StoredResponse {
        status: 200,
        headers: Vec::new(),
        body: serde_json::to_vec(result).unwrap_or_default(),
    }
}

/// The tool result stored under an idempotency key, given again.
fn replayed(stored: &StoredResponse) -> Result<CallToolResult, ApiError> {
    serde_json::from_slice(&stored.body).map_err(|e| {
        tracing::error!(error = %e, "a stored tool result does not parse");
        ApiError::internal()
    })
}

/// Run one tool for the authenticated caller (see [`caller`]) and give its outcome as the
/// result: refusals and failures become `isError` results carrying the REST error body
/// (`error_code`, `detail`, `timestamp` and, for `VALIDATION_ERROR`, `errors`) as JSON text, so
/// nothing reaches the client as a protocol error or a 500.
///
/// The body is in `content`, not `structuredContent`: clients check `structuredContent` against
/// the tool's `outputSchema` even on errors (the official TypeScript SDK rejects the whole result
/// otherwise), and an error body is not a task.
async fn run<F, Fut>(parts: &Parts, args: JsonObject, tool: F) -> Result<CallToolResult, ErrorData>
where
    F: FnOnce(UserId, JsonObject) -> Fut,
    Fut: Future<Output = Result<CallToolResult, ApiError>>,
{
    let outcome = match caller(parts, args) {
        Ok((owner, args)) => tool(owner, args).await,
        Err(error) => Err(error),
    };
    Ok(match outcome {
        Ok(result) => result,
        Err(error) => {
            let mut body = error.body().clone();
            if let Some(CallRequestId(id)) = parts.extensions.get::<CallRequestId>() {
                body.request_id.clone_from(id);
            }
            let text = serde_json::to_string(&body).unwrap_or_default();
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
    })
}

fn structured(text: String, value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    result
}

/// A task as the REST API shows it.
fn view(task: Task) -> Value {
    serde_json::to_value(TaskView::from(task)).unwrap_or_else(|_| json!({}))
}

fn task_result(verb: &str, task: Task) -> CallToolResult {
    let task = view(task);
    structured(render_task(verb, &task), json!({ "task": task }))
}

fn list_result(page: ListPage) -> CallToolResult {
    let tasks: Vec<Value> = page.tasks.into_iter().map(view).collect();
    let mut text = if tasks.is_empty() {
        "No tasks.".to_owned()
    } else {
        let lines: Vec<String> = tasks.iter().map(|t| render_task("-", t)).collect();
        lines.join("\n")
    };
    let count = tasks.len();
    if page.next_cursor.is_some() {
        text.push_str(&format!(
            "\n({count} of {} shown; pass next_cursor as cursor for more.)",
            page.total
        ));
    }
    structured(
        text,
        json!({
            "tasks": tasks, "count": count, "total": page.total, "next_cursor": page.next_cursor,
            "sync_cursor": page.sync_cursor
        }),
    )
}

/// One line for people and text-only clients:
/// `Created task 42 "Call mum" [pending; priority high; due 2026-03-29T16:00:00.000Z]`.
fn render_task(verb: &str, task: &Value) -> String {
    let text = |field: &str| task[field].as_str().filter(|s| !s.is_empty());
    let mut facts = vec![
        if task["complete"].as_bool() == Some(true) {
            "done"
        } else {
            "pending"
        }
        .to_owned(),
    ];
    if let Some(priority) = text("priority").filter(|p| *p != "none") {
        facts.push(format!("priority {priority}"));
    }
    if let Some(due) = text("due_at").or(text("due_date")) {
        facts.push(format!("due {due}"));
    }
    if let Some(rule) = text("recurrence") {
        facts.push(format!("repeats {rule}"));
    }
    if let Some(tags) = task["tags"].as_array().filter(|t| !t.is_empty()) {
        let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        facts.push(format!("tags {}", tags.join(", ")));
    }
    format!(
        "{verb} task {} \"{}\" [{}]",
        task["id"],
        text("title").unwrap_or_default(),
        facts.join("; ")
    )
}
