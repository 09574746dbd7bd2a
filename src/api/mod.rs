//! The HTTP contract: the OpenAPI service (operations, schemas, security, errors) and the docs UIs.

pub mod body;
pub mod error;
pub mod health;
pub mod response;
pub mod schemas;
pub mod security;
pub mod tasks;

use poem_openapi::{ContactObject, LicenseObject, OpenApiService, ServerObject, Tags};

use crate::{
    domain::{NewTask, Task, TaskChanges, TaskId, UserId},
    store::{StoreError, TaskStore},
};

pub use health::HealthApi;
pub use tasks::TasksApi;

/// Title of the OpenAPI document.
pub const TITLE: &str = "todo-api";

/// Version of the contract, published in the document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const DESCRIPTION: &str = "\
Multi-user todo API. Every `/api/{user_id}/tasks` operation needs `Authorization: Bearer <JWT>` \
issued by Better Auth; `user_id` in the path must be the token's subject (`sub`).

Every error response has the same JSON body: `detail` (for people), `error_code` (stable, for \
programs) and `timestamp`; validation errors add `errors`, one entry per field at fault.

Ids are 64-bit integers (`int64`); timestamps are RFC 3339 UTC strings with millisecond precision.";

#[derive(Tags)]
pub enum ApiTags {
    /// A user's tasks.
    Tasks,
    /// Service health.
    Health,
}

/// The whole contract as one OpenAPI service. `S` is the store backend.
pub type Service<S> = OpenApiService<(TasksApi<S>, HealthApi<S>), ()>;

/// Build the OpenAPI service over `store`. `server_url` is advertised in the document.
pub fn service<S: TaskStore>(store: S, server_url: Option<&str>) -> Service<S> {
    let service = OpenApiService::new(
        (TasksApi::new(store.clone()), HealthApi::new(store)),
        TITLE,
        VERSION,
    )
    .description(DESCRIPTION)
    .contact(ContactObject::new().name("todo-api maintainers"))
    .license(LicenseObject::new("MIT").url("https://opensource.org/licenses/MIT"));
    match server_url {
        Some(url) => service.server(
            ServerObject::new(url)
                .description("The server that serves this document (paths are relative to it)."),
        ),
        None => service,
    }
}

/// The contract alone, for export (`todo-api openapi`): the same document the server serves.
pub fn document() -> Service<NoStore> {
    service(NoStore, Some("/"))
}

/// A store that is never called: it only lets the document be built without a database.
#[derive(Clone)]
pub struct NoStore;

impl TaskStore for NoStore {
    async fn list(&self, _: &UserId) -> Result<Vec<Task>, StoreError> {
        Err(no_store())
    }
    async fn create(&self, _: &UserId, _: NewTask) -> Result<Task, StoreError> {
        Err(no_store())
    }
    async fn get(&self, _: &UserId, _: TaskId) -> Result<Task, StoreError> {
        Err(no_store())
    }
    async fn update(&self, _: &UserId, _: TaskId, _: TaskChanges) -> Result<Task, StoreError> {
        Err(no_store())
    }
    async fn toggle_complete(&self, _: &UserId, _: TaskId) -> Result<Task, StoreError> {
        Err(no_store())
    }
    async fn delete(&self, _: &UserId, _: TaskId) -> Result<(), StoreError> {
        Err(no_store())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(no_store())
    }
}

fn no_store() -> StoreError {
    StoreError::Unavailable("no database: document-only service".into())
}

/// The route template an operation serves, for request logs.
pub fn route_template(operation_id: &str) -> &'static str {
    match operation_id {
        "listTasks" | "createTask" => "/api/{user_id}/tasks",
        "getTask" | "replaceTask" | "updateTask" | "deleteTask" => "/api/{user_id}/tasks/{task_id}",
        "toggleTaskComplete" => "/api/{user_id}/tasks/{task_id}/complete",
        "health" => "/health",
        _ => "other",
    }
}
