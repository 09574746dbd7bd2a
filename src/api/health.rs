//! `/health`: liveness plus a database round trip, with no authentication, for load balancers.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
};

use super::{
    ApiTags,
    error::RETRY_AFTER_SECS,
    response::JsonResponse,
    schemas::{DatabaseStatus, ErrorCode, Health, HealthStatus, Timestamp},
};
use crate::{store::TaskStore, tasks::TaskService};

/// The health operation, over the same use cases as the Tasks operations.
pub struct HealthApi<S> {
    tasks: TaskService<S>,
}

impl<S: TaskStore> HealthApi<S> {
    pub fn new(tasks: TaskService<S>) -> Self {
        Self { tasks }
    }
}

/// "No authentication": publishes `security: [{}]` on an operation, so the document says
/// explicitly that it is public (an empty security requirement). Reads nothing from the request.
pub struct NoAuth;

impl<'a> ApiExtractor<'a> for NoAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        _: &'a Request,
        _: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(Self)
    }
}

/// Health when the database cannot be reached: the `Health` fields plus the error fields.
/// `status` is always `degraded`, `database` always `unavailable` and `error_code` always
/// `DATABASE_UNAVAILABLE`.
//  (No doc comments on `$ref` fields: poem-openapi would wrap the `$ref` in an `allOf`.)
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "HealthUnavailable", example)]
pub struct HealthUnavailable {
    pub status: HealthStatus,
    pub database: DatabaseStatus,
    /// What went wrong, for people.
    pub detail: String,
    pub error_code: ErrorCode,
    /// When the check failed.
    pub timestamp: Timestamp,
    /// The request's id (also the `X-Request-Id` response header).
    pub request_id: String,
}

impl poem_openapi::types::Example for HealthUnavailable {
    fn example() -> Self {
        Self {
            status: HealthStatus::Degraded,
            database: DatabaseStatus::Unavailable,
            detail: "database unavailable".into(),
            error_code: ErrorCode::DatabaseUnavailable,
            timestamp: Timestamp(1_766_570_400_123),
            request_id: "4f3c2a1b9d8e4f7a8b6c5d4e3f2a1b0c".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service and its database are up.
    #[oai(status = 200)]
    Ok(JsonResponse<Health>),
    /// The database cannot be reached.
    #[oai(status = 503)]
    Unavailable(
        JsonResponse<HealthUnavailable>,
        /// Seconds to wait before asking again.
        #[oai(header = "Retry-After")]
        u32,
    ),
}

#[OpenApi(tag = "ApiTags::Health")]
impl<S: TaskStore> HealthApi<S> {
    /// Health check
    ///
    /// No authentication. 200 when the database answers, 503 when it does not.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self, _public: NoAuth) -> HealthResponse {
        match self.tasks.check_database().await {
            Ok(()) => HealthResponse::Ok(JsonResponse(Health {
                status: HealthStatus::Ok,
                database: DatabaseStatus::Ok,
            })),
            Err(e) => {
                tracing::warn!(error = %e, "health check: database unavailable");
                HealthResponse::Unavailable(
                    JsonResponse(HealthUnavailable {
                        status: HealthStatus::Degraded,
                        database: DatabaseStatus::Unavailable,
                        detail: "database unavailable".into(),
                        error_code: ErrorCode::DatabaseUnavailable,
                        timestamp: Timestamp::now(),
                        request_id: super::request_id::current(),
                    }),
                    RETRY_AFTER_SECS,
                )
            }
        }
    }
}
