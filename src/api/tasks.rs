//! The Tasks resource: `/api/{user_id}/tasks[/{task_id}[/complete]]` and the user's tags,
//! `/api/{user_id}/tags`.
//!
//! Translation only: each operation turns the bearer token and path into the owner, parses the
//! body into a domain value, calls one use case of `TaskService` and shapes its result as the
//! contract's response. Paths are written in full on each operation because poem-openapi binds
//! path parameters by position.

use std::sync::Arc;

use poem_openapi::{ApiResponse, OpenApi, param::Path};

use super::{
    ApiTags,
    body::JsonBody,
    error::ApiError,
    response::JsonResponse,
    schemas::{TagCount, TagList, Task, TaskCreate, TaskList, TaskReplace, TaskUpdate},
    security::BearerAuth,
};
use crate::{auth::TokenVerifier, store::TaskStore, tasks::TaskService};

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
    /// The caller's tasks, ordered by id ascending.
    #[oai(status = 200)]
    Ok(JsonResponse<TaskList>),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// The task was created.
    #[oai(status = 201)]
    Created(
        JsonResponse<Task>,
        /// The new task's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(JsonResponse<Task>),
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
    /// All of the user's tasks, ordered by id ascending.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "get",
        operation_id = "listTasks"
    )]
    async fn list_tasks(
        &self,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
    ) -> Result<ListTasksResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let tasks: Vec<Task> = self
            .tasks
            .list(&owner)
            .await?
            .into_iter()
            .map(Task::from)
            .collect();
        Ok(ListTasksResponse::Ok(JsonResponse(TaskList {
            count: i64::try_from(tasks.len()).unwrap_or(i64::MAX),
            tasks,
        })))
    }

    /// Create a task
    ///
    /// The server assigns the id and timestamps; `complete` starts false. The owner is always
    /// the authenticated user.
    #[oai(
        path = "/api/:user_id/tasks",
        method = "post",
        operation_id = "createTask"
    )]
    async fn create_task(
        &self,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        body: JsonBody<TaskCreate>,
    ) -> Result<CreateTaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let new_task = body.parse(self.max_body_bytes).await?;
        let task = self.tasks.create(&owner, new_task).await?;
        let location = format!("/api/{}/tasks/{}", percent_encode(owner.as_str()), task.id);
        Ok(CreateTaskResponse::Created(
            JsonResponse(task.into()),
            location,
        ))
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
    ) -> Result<TaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let task = self.tasks.get(&owner, task_id.0).await?;
        Ok(TaskResponse::Ok(JsonResponse(task.into())))
    }

    /// Replace a task
    ///
    /// Sets every field: `title`, `description` (null for none) and `complete` are all required.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "put",
        operation_id = "replaceTask"
    )]
    async fn replace_task(
        &self,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        body: JsonBody<TaskReplace>,
    ) -> Result<TaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let replacement = body.parse(self.max_body_bytes).await?;
        let task = self.tasks.replace(&owner, task_id.0, replacement).await?;
        Ok(TaskResponse::Ok(JsonResponse(task.into())))
    }

    /// Update a task
    ///
    /// Changes only the fields sent (at least one). `"description": null` clears the description.
    #[oai(
        path = "/api/:user_id/tasks/:task_id",
        method = "patch",
        operation_id = "updateTask"
    )]
    async fn update_task(
        &self,
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
        body: JsonBody<TaskUpdate>,
    ) -> Result<TaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let changes = body.parse(self.max_body_bytes).await?;
        let task = self.tasks.update(&owner, task_id.0, changes).await?;
        Ok(TaskResponse::Ok(JsonResponse(task.into())))
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
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
    ) -> Result<TaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let task = self.tasks.toggle_complete(&owner, task_id.0).await?;
        Ok(TaskResponse::Ok(JsonResponse(task.into())))
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
        auth: BearerAuth,
        /// The user whose tasks these are; must be the token's subject.
        user_id: Path<String>,
        /// The task's id.
        task_id: Path<i64>,
    ) -> Result<DeleteTaskResponse> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        self.tasks.delete(&owner, task_id.0).await?;
        Ok(DeleteTaskResponse::Deleted)
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
