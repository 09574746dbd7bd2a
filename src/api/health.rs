//! `/health`: liveness plus a database round trip, with no authentication, for load balancers.

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags,
    error::RETRY_AFTER_SECS,
    schemas::{ErrorCode, Health, Timestamp},
};
use crate::store::TaskStore;

pub struct HealthApi<S> {
    store: S,
}

impl<S: TaskStore> HealthApi<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }
}

/// Health when the database cannot be reached: the `Health` fields plus the error fields.
#[derive(Debug, Clone, Object)]
#[oai(rename = "HealthUnavailable")]
pub struct HealthUnavailable {
    /// Always `degraded`.
    pub status: String,
    /// Always `unavailable`.
    pub database: String,
    pub detail: String,
    pub error_code: ErrorCode,
    pub timestamp: Timestamp,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service and its database are up.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database cannot be reached.
    #[oai(status = 503)]
    Unavailable(
        Json<HealthUnavailable>,
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
    async fn health(&self) -> HealthResponse {
        match self.store.ping().await {
            Ok(()) => HealthResponse::Ok(Json(Health {
                status: "ok".into(),
                database: "ok".into(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "health check: database unavailable");
                HealthResponse::Unavailable(
                    Json(HealthUnavailable {
                        status: "degraded".into(),
                        database: "unavailable".into(),
                        detail: "database unavailable".into(),
                        error_code: ErrorCode::DatabaseUnavailable,
                        timestamp: Timestamp::now(),
                    }),
                    RETRY_AFTER_SECS,
                )
            }
        }
    }
}
