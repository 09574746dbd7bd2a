//! The Tasks resource: `/api/{user_id}/tasks[/{task_id}[/complete]]` and the user's tags,
//! `/api/{user_id}/tags`.
//!
//! Translation only: each operation turns the bearer token and path into the owner, parses the
//! body into a domain value, calls one use case of `TaskService` and shapes its result as the
//! contract's response. Paths are written in full on each operation because poem-openapi binds
//! path parameters by position.

use std::sync::Arc;

use poem::http::StatusCode;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
};

use super::{
    ApiTags,
    body::JsonBody,
    list_query::{Deferred, TaskSort, shown},
    security::BearerAuth,
    sync::{
        Cached, Synced, idempotency, idempotency_key, if_match, if_none_match, list_etag,
        render_cleared, render_deleted, render_task, task_etag,
    },
};
use crate::wire::{
    error::ApiError,
    response::{DirectJsonResponse, JsonResponse},
    schemas::{
        DeletedTasks, Nullable, Priority, TagCount, TagList, TaskCreate, TaskList, TaskReplace,
        TaskUpdate, TaskView,
    },
};
use crate::{
    auth::TokenVerifier,
    domain::{Task, now_ms, sync::Written},
    store::TaskStore,
    tasks::{ListParams, ListRequest, TaskService, WriteTerms},
};

/// The Tasks operations, over any store backend.
pub struct TasksApi<S> {
    tasks: TaskService<S>,
    verifier: Arc<TokenVerifier>,
    max_body_bytes: usize,
}

impl<S: TaskStore> TasksApi<S> {
    pub fn new(tasks: TaskService<S>, verifier: Arc<TokenVerifier>, max_body_bytes: usize) -> Self {
        Self {
            tasks,
            verifier,
            max_body_bytes,
        }
    }
}

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// One page of the caller's tasks that match the filters, in the requested order.
    #[oai(status = 200)]
    Ok(
        DirectJsonResponse<TaskList>,
        /// The next page (RFC 8288), when there is one:
        /// `</api/{user_id}/tasks?...&cursor=...>; rel="next"`.
        #[oai(header = "Link")]
        Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum DeleteCompletedResponse {
    /// The completed tasks were deleted.
    #[oai(status = 200)]
    Ok(JsonResponse<DeletedTasks>),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// The task was created.
    #[oai(status = 201)]
    Created(
        DirectJsonResponse<TaskView>,
        /// The new task's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(DirectJsonResponse<TaskView>),
}

#[derive(ApiResponse)]
pub enum ListTagsResponse {
    /// The caller's tags with their task counts, ordered by name case-insensitively.
    #[oai(status = 200)]
    Ok(JsonResponse<TagList>),
}

#[derive(ApiResponse)]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 204)]
    Deleted,
}

type Result<T> = std::result::Result<T, ApiError>;

#[OpenApi(tag = "ApiTags::Tasks")]
impl<S: TaskStore> TasksApi<S> {
    /// List tasks
    ///
    /// One page of the user's tasks, filtered and sorted, at most `limit` (default 100) at a
    /// time. When more match, `next_cursor` (and the `Link` header) continue the list: pass it
    /// as `cursor` with the same filters and sort. Pages never repeat or skip a task that exists
    /// for the whole walk, whatever is created or deleted meanwhile. Bad values are a 422 naming
    /// the parameter; a cursor used with other filters, another sort or by another user is a 400.
    /// Unknown parameters are ignored.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "listTasks"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_tasks(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// Only complete (`true`) or not complete (`false`) tasks. Example: `false`.
        complete: Query<Deferred<bool>>,
        /// Only tasks with one of these priorities: comma-separated or repeated.
        /// Example: `high,medium`.
        priority: Query<Deferred<Vec<Priority>>>,
        /// Only tasks carrying this tag (case-insensitive); repeated, tasks carrying all of them.
        /// Example: `work`.
        tag: Query<Deferred<Vec<String>>>,
        /// Only tasks due strictly before this RFC 3339 date-time, or before the start of this
        /// `YYYY-MM-DD` day in `tz`. A task with a `due_date` is due at the start of its day in
        /// `tz`. Example: `2026-12-01`.
        due_before: Query<Deferred<String>>,
        /// Only tasks due at or after this RFC 3339 date-time, or the start of this `YYYY-MM-DD`
        /// day in `tz`. Example: `2026-11-01T09:00:00Z`.
        due_after: Query<Deferred<String>>,
        /// `true`: only tasks not complete and due before now; `false`: only the others.
        /// Example: `true`.
        overdue: Query<Deferred<bool>>,
        /// The IANA time zone that `YYYY-MM-DD` values and tasks' `due_date`s are read in
        /// (default UTC). Example: `Europe/Berlin`.
        tz: Query<Deferred<String>>,
        /// Only tasks whose title or description contains this text, ignoring case
        /// (Unicode-aware: `Ä` finds `ä`); 1 to 100 characters. Example: `milk`.
        #[oai(validator(min_length = 1, max_length = 100))]
        q: Query<Deferred<String>>,
        /// The order (default `id`). Example: `-due`.
        sort: Query<Deferred<TaskSort>>,
        /// Most tasks in this page, 1 to 500 (default 100).
        #[oai(
            default = "shown::limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<Deferred<u32>>,
        /// Where to continue: the `next_cursor` of the previous page, unchanged.
        /// Example: `eyJ2IjoxLCJ1IjoiOWJkNTk4MzYiLCJzIjoiaWQiLCJrIjo0MiwiaSI6NDJ9`.
        cursor: Query<Deferred<String>>,
        /// The `ETag` of an earlier response for this same URL: 304 with no body if the page
        /// would be the same.
        #[oai(name = "If-None-Match")]
        if_none: Header<Option<String>>,
    ) -> Result<Cached<ListTasksResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let params = ListParams {
            complete: complete.first(),
            priority: priority.all(),
            tag: tag.all(),
            due_before: due_before.first(),
            due_after: due_after.first(),
            overdue: overdue.first(),
            tz: tz.first(),
            q: q.first(),
            sort: sort.first(),
            limit: limit.first(),
            cursor: cursor.first(),
        };
        let request = ListRequest::parse(&owner, &params, now_ms())?;
        let page = self.tasks.list(&owner, request).await?;
        let link = page.next_cursor.as_deref().map(|next| {
            format!(
                "</api/{}/tasks?{}>; rel=\"next\"",
                percent_encode(owner.as_str()),
                query_with_cursor(req.uri().query().unwrap_or(""), next)
            )
        });
        let etag = list_etag(page.tasks.iter(), page.total, page.next_cursor.as_deref());
        if if_none_match(if_none.as_deref(), &etag)? {
            return Ok(Synced::NotModified(etag));
        }
        let tasks: Vec<TaskView> = page.tasks.into_iter().map(TaskView::from).collect();
        Ok(Synced::fresh(
            ListTasksResponse::Ok(
                DirectJsonResponse(TaskList {
                    count: i64::try_from(tasks.len()).unwrap_or(i64::MAX),
                    tasks,
                    total: page.total,
                    next_cursor: Nullable(page.next_cursor),
                    sync_cursor: page.sync_cursor,
                }),
                link,
            ),
            Some(etag),
        ))
    }

    /// Clear completed tasks
    ///
    /// Deletes every complete task of the user and says how many. `complete=true` is required,
    /// so a bare `DELETE` can never empty a list (it is a 400).
    #[oai(
        path = "/api/:user_id/tasks",
        method = "delete",
        operation_id = "deleteCompletedTasks"
    )]
    async fn delete_completed_tasks(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// Must be `true`: which tasks to delete.
        #[oai(example = "shown::clear_complete")]
        complete: Query<Deferred<bool, true>>,
        /// Makes a retry safe: see `createTask`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Synced<DeleteCompletedResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        if complete.first().as_deref() != Some("true") {
            return Err(ApiError::bad_request(
                "send complete=true to delete every completed task; nothing was deleted",
            ));
        }
        let key = idempotency_key_of(&idempotency_key)?;
        let keyed = idempotency(key, req, b"", render_cleared());
        Ok(match self.tasks.clear_completed(&owner, keyed).await? {
            Written::Fresh(deleted) => Synced::fresh(
                DeleteCompletedResponse::Ok(JsonResponse(DeletedTasks {
                    deleted: i64::try_from(deleted).unwrap_or(i64::MAX),
                })),
                None,
            ),
            Written::Replayed(stored) => Synced::Replayed(stored),
        })
    }

    /// Create a task
    ///
    /// The server assigns the id and timestamps; `complete` starts false. The owner is always
    /// the authenticated user.
    ///
    /// With an `Idempotency-Key`, a retry of the same request (same method, path and body) gets
    /// the first response again, marked `Idempotency-Replayed: true`, and creates nothing; the
    /// same key with another request is a 422 `IDEMPOTENCY_KEY_REUSED`, and a retry while the
    /// first is still running a 409 `IDEMPOTENCY_IN_PROGRESS`. Keys are the caller's own and
    /// are kept 24 hours (`sync.idempotency_ttl_secs`); a request that failed is not kept.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "post",
        operation_id = "createTask"
    )]
    async fn create_task(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// 1 to 255 visible ASCII characters, quoted (`"k1"`) or bare (`k1`); a new one (a
        /// UUID) for each new request, the same one for its retries.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<TaskCreate>,
    ) -> Result<Synced<CreateTaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let key = idempotency_key_of(&idempotency_key)?;
        let (new_task, bytes) = body.parse_with_bytes(self.max_body_bytes).await?;
        let location = format!("/api/{}/tasks/{{id}}", percent_encode(owner.as_str()));
        let render = render_task(StatusCode::CREATED, Some(location.clone()));
        let keyed = idempotency(key, req, &bytes, render);
        Ok(match self.tasks.create(&owner, new_task, keyed).await? {
            Written::Fresh(task) => {
                let etag = task_etag(&task);
                let location = location.replace("{id}", &task.id.to_string());
                Synced::fresh(
                    CreateTaskResponse::Created(DirectJsonResponse(task.into()), location),
                    Some(etag),
                )
            }
            Written::Replayed(stored) => Synced::Replayed(stored),
        })
    }

    /// Get a task
    ///
    /// One of the user's tasks. Another user's task is a 404, as if it did not exist.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "get",
        operation_id = "getTask"
    )]
    async fn get_task(
        &self,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        /// The `ETag` of an earlier response (or `*`): 304 with no body if the task is still
        /// at that version.
        #[oai(name = "If-None-Match")]
        if_none: Header<Option<String>>,
    ) -> Result<Cached<TaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let task = self.tasks.get(&owner, task_id.0).await?;
        let etag = task_etag(&task);
        if if_none_match(if_none.as_deref(), &etag)? {
            return Ok(Synced::NotModified(etag));
        }
        Ok(Synced::fresh(
            TaskResponse::Ok(DirectJsonResponse(task.into())),
            Some(etag),
        ))
    }

    /// Replace a task
    ///
    /// Sets every field: `title`, `description` (null for none) and `complete` are all required.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "put",
        operation_id = "replaceTask"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn replace_task(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        /// Only replace the task if it is at one of these versions (`"3"`, a list, or `*` for
        /// any): otherwise a 412 `PRECONDITION_FAILED` with the current task.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Makes a retry safe: see `createTask`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<TaskReplace>,
    ) -> Result<Synced<TaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let (expected, key) = (
            if_match_of(&if_match)?,
            idempotency_key_of(&idempotency_key)?,
        );
        let (replacement, bytes) = body.parse_with_bytes(self.max_body_bytes).await?;
        let keyed = idempotency(key, req, &bytes, render_task(StatusCode::OK, None));
        let written = self
            .tasks
            .replace(
                &owner,
                task_id.0,
                replacement,
                WriteTerms::new(expected, keyed),
            )
            .await?;
        Ok(task_reply(written))
    }

    /// Update a task
    ///
    /// Changes only the fields sent (at least one). `"description": null` clears the description.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "patch",
        operation_id = "updateTask"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn update_task(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        /// Only change the task if it is at one of these versions: see `replaceTask`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Makes a retry safe: see `createTask`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<TaskUpdate>,
    ) -> Result<Synced<TaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let (expected, key) = (
            if_match_of(&if_match)?,
            idempotency_key_of(&idempotency_key)?,
        );
        let (changes, bytes) = body.parse_with_bytes(self.max_body_bytes).await?;
        let keyed = idempotency(key, req, &bytes, render_task(StatusCode::OK, None));
        let written = self
            .tasks
            .update(&owner, task_id.0, changes, WriteTerms::new(expected, keyed))
            .await?;
        Ok(task_reply(written))
    }

    /// Toggle completion
    ///
    /// Flips `complete` and returns the task.
    #[oai(
        path = "/api/:user_id/tasks/:task_id/complete",
        method = "patch",
        operation_id = "toggleTaskComplete"
    )]
    async fn toggle_task_complete(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        /// Only flip it if the task is at one of these versions: see `replaceTask`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Makes a retry safe (a retried toggle does not flip twice): see `createTask`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Synced<TaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let (expected, key) = (
            if_match_of(&if_match)?,
            idempotency_key_of(&idempotency_key)?,
        );
        let keyed = idempotency(key, req, b"", render_task(StatusCode::OK, None));
        let written = self
            .tasks
            .toggle_complete(&owner, task_id.0, WriteTerms::new(expected, keyed))
            .await?;
        Ok(task_reply(written))
    }

    /// Delete a task
    ///
    /// Deletes the task for good; its id is never reused. Deleting it again is a 404.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "delete",
        operation_id = "deleteTask"
    )]
    async fn delete_task(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        /// Only delete the task if it is at one of these versions: see `replaceTask`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Makes a retry safe (a retried delete answers 204 again, not 404): see `createTask`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Synced<DeleteTaskResponse>> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let (expected, key) = (
            if_match_of(&if_match)?,
            idempotency_key_of(&idempotency_key)?,
        );
        let keyed = idempotency(key, req, b"", render_deleted());
        Ok(
            match self
                .tasks
                .delete(&owner, task_id.0, WriteTerms::new(expected, keyed))
                .await?
            {
                Written::Fresh(()) => Synced::fresh(DeleteTaskResponse::Deleted, None),
                Written::Replayed(stored) => Synced::Replayed(stored),
            },
        )
    }

    /// List tags
    ///
    /// Every tag the user's tasks carry, with how many tasks carry it, ordered by name
    /// case-insensitively. Tags that differ only in case are one tag.
    #[oai(path = "/api/:user_id/tags", method = "get", operation_id = "listTags")]
    async fn list_tags(
        &self,
        auth: BearerAuth,
        /// The user whose tags these are; must be the token's subject.
        user_id: Path<String>,
    ) -> Result<ListTagsResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let tags = self
            .tasks
            .tags(&owner)
            .await?
            .into_iter()
            .map(|t| TagCount {
                name: t.name,
                count: t.count,
            })
            .collect();
        Ok(ListTagsResponse::Ok(JsonResponse(TagList { tags })))
    }
}

/// A written task as the response: the task with its ETag, or the stored first response.
fn task_reply(written: Written<Task>) -> Synced<TaskResponse> {
    match written {
        Written::Fresh(task) => {
            let etag = task_etag(&task);
            Synced::fresh(
                TaskResponse::Ok(DirectJsonResponse(task.into())),
                Some(etag),
            )
        }
        Written::Replayed(stored) => Synced::Replayed(stored),
    }
}

fn if_match_of(header: &Header<Option<String>>) -> Result<Option<crate::domain::sync::Expected>> {
    if_match(header.as_deref())
}

fn idempotency_key_of(
    header: &Header<Option<String>>,
) -> Result<Option<crate::domain::sync::IdempotencyKey>> {
    idempotency_key(header.as_deref())
}

/// Escape a user id for use as one path segment of the `Location` header.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The request's query string with its `cursor` replaced by `next`, for the `Link` header:
/// every other parameter (unknown ones included) is kept as sent.
fn query_with_cursor(query: &str, next: &str) -> String {
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("cursor"))
        .collect();
    let cursor = format!("cursor={next}");
    kept.push(&cursor);
    kept.join("&")
}
