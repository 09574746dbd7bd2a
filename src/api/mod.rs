//! The REST front door: the OpenAPI service (operations, schemas, security, errors) over the
//! task use cases, and the route templates request logs use.

pub mod body;
pub mod changes;
pub mod health;
pub mod list_query;
pub mod security;
pub mod sync;
pub mod tasks;

use std::sync::Arc;

use poem_openapi::{ContactObject, LicenseObject, OpenApi, OpenApiService, ServerObject, Tags};

use crate::{
    auth::TokenVerifier,
    domain::{
        Task, TaskEdit, TaskId, TaskWrite, UserId,
        list::{PageQuery, TaskPage},
        sync::{ChangeRead, Claim, Expected, Position, Written},
    },
    request_log::RouteTemplates,
    store::{NotReady, Purged, StoreError, TagCount, TaskStore},
    tasks::TaskService,
};
use body::MaxBodyBytes;

pub use changes::ChangesApi;
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
programs), `timestamp` and `request_id`; validation errors add `errors`, one entry per field at \
fault. Every response carries `X-Request-Id` (the client's own when it sends a sane one: 1 to 128 \
visible ASCII characters); quote it when reporting a problem.

Ids are 64-bit integers (`int64`); timestamps are RFC 3339 UTC strings with millisecond precision.";

#[derive(Tags)]
pub enum ApiTags {
    /// A user's tasks.
    Tasks,
    /// Service health.
    Health,
}

/// The operations the service serves, in the order the document lists them.
pub type Operations<S> = (TasksApi<S>, ChangesApi<S>, HealthApi<S>);

/// The whole contract as one OpenAPI service. `S` is the store backend.
pub type Service<S> = OpenApiService<Operations<S>, ()>;

/// Build the OpenAPI service over the use cases. Tokens are checked by `verifier`; bodies larger
/// than `max_body_bytes` are refused. `server_url` is advertised in the document.
pub fn service<S: TaskStore>(
    tasks: TaskService<S>,
    verifier: Arc<TokenVerifier>,
    max_body_bytes: usize,
    server_url: Option<&str>,
) -> Service<S> {
    let service = OpenApiService::new(
        (
            TasksApi::new(tasks.clone(), verifier.clone(), max_body_bytes),
            ChangesApi::new(tasks.clone(), verifier.clone()),
            HealthApi::new(tasks, verifier),
        ),
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
    service(
        TaskService::new(NoStore),
        Arc::new(TokenVerifier::reject_all()),
        MaxBodyBytes::DEFAULT,
        Some("/"),
    )
}

/// A store that is never called: it only lets the document be built without a database.
#[derive(Clone)]
pub struct NoStore;

impl TaskStore for NoStore {
    async fn list(&self, _: &UserId, _: PageQuery) -> Result<TaskPage, StoreError> {
        Err(no_store())
    }
    async fn create(
        &self,
        _: &UserId,
        _: TaskEdit,
        _: Option<u64>,
        _: Option<Claim>,
    ) -> Result<Written<Task>, StoreError> {
        Err(no_store())
    }
    async fn get(&self, _: &UserId, _: TaskId) -> Result<Task, StoreError> {
        Err(no_store())
    }
    async fn modify<E, F>(
        &self,
        _: &UserId,
        _: TaskId,
        _: F,
        _: Option<Claim>,
    ) -> Result<Written<Result<Task, E>>, StoreError>
    where
        E: Send + 'static,
        F: FnOnce(&Task) -> Result<TaskWrite, E> + Send + 'static,
    {
        Err(no_store())
    }
    async fn tags(&self, _: &UserId) -> Result<Vec<TagCount>, StoreError> {
        Err(no_store())
    }
    async fn delete(
        &self,
        _: &UserId,
        _: TaskId,
        _: Option<Expected>,
        _: Option<Claim>,
    ) -> Result<Written<Result<(), Box<Task>>>, StoreError> {
        Err(no_store())
    }
    async fn delete_completed(
        &self,
        _: &UserId,
        _: Option<Claim>,
    ) -> Result<Written<u64>, StoreError> {
        Err(no_store())
    }
    async fn changes(&self, _: &UserId, _: Position, _: u32) -> Result<ChangeRead, StoreError> {
        Err(no_store())
    }
    async fn purge(&self, _: i64, _: i64, _: u32) -> Result<Purged, StoreError> {
        Err(no_store())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(no_store())
    }
    async fn ready(&self) -> Result<(), NotReady> {
        Err(NotReady::Read(no_store()))
    }
}

fn no_store() -> StoreError {
    StoreError::Unavailable("no database: document-only service".into())
}

/// The route template (`/api/{user_id}/tasks/{task_id}`) of every operation, keyed by operation
/// id, read from the same metadata the document is built from, so request logs can never name a
/// path the contract does not have.
pub fn route_templates<S: TaskStore>() -> RouteTemplates {
    let mut templates = RouteTemplates::default();
    for api in <Operations<S> as OpenApi>::meta() {
        for path in api.paths {
            for operation in path.operations {
                if let Some(id) = operation.operation_id {
                    templates.insert(id, &path.path);
                }
            }
        }
    }
    templates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_limits_are_the_domain_limits() {
        use poem_openapi::{registry::MetaSchemaRef, types::Type};

        use crate::{
            domain::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS},
            wire::schemas::{Description, Title, TitleInput},
        };

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
        let spec = document().spec();
        assert!(spec.contains(&format!("1 to {TITLE_MAX_CHARS} characters")));
        assert!(spec.contains(&format!("at most {DESCRIPTION_MAX_CHARS} characters")));
    }

    #[test]
    fn every_operation_has_the_route_template_the_document_publishes() {
        let templates = route_templates::<NoStore>();
        let spec: serde_json::Value = serde_json::from_str(&document().spec()).unwrap();
        let mut published = 0;
        for (path, operations) in spec["paths"].as_object().unwrap() {
            for operation in operations.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert_eq!(templates.get(id), Some(path.as_str()), "{id}");
                published += 1;
            }
        }
        assert_eq!(published, 12, "every operation of the contract is covered");
        assert_eq!(templates.get("noSuchOperation"), None);
    }
}
