//! `/health` (liveness plus a database round trip) and `/health/ready` (readiness: the
//! database can be read and written, its schema is this binary's, its file passed the integrity
//! check, and the JWKS is loaded when one is configured), with no authentication, for load
//! balancers and orchestrators.

use std::sync::Arc;

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
};

use super::ApiTags;
use crate::wire::{
    error::RETRY_AFTER_SECS,
    response::JsonResponse,
    schemas::{DatabaseStatus, ErrorBody, ErrorCode, Health, HealthStatus, Timestamp},
};
use crate::{auth::TokenVerifier, store::TaskStore, tasks::TaskService};

/// The health operations, over the same use cases as the Tasks operations and the verifier the
/// Tasks operations check tokens with.
pub struct HealthApi<S> {
    tasks: TaskService<S>,
    verifier: Arc<TokenVerifier>,
}

impl<S: TaskStore> HealthApi<S> {
    pub fn new(tasks: TaskService<S>, verifier: Arc<TokenVerifier>) -> Self {
        Self { tasks, verifier }
    }
}

/// Readiness: every check passed.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Readiness", example)]
pub struct Readiness {
    /// Always `ready`.
    pub status: String,
    /// Always `ok`: the database was read, and a write to it was committed.
    pub database: String,
    /// `ok` when the signing keys of the configured JWKS are loaded, `not_configured` without
    /// a JWKS source.
    pub jwks: String,
}

impl poem_openapi::types::Example for Readiness {
    fn example() -> Self {
        Self {
            status: "ready".into(),
            database: "ok".into(),
            jwks: "ok".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Every request can be served.
    #[oai(status = 200)]
    Ready(JsonResponse<Readiness>),
    /// Not ready; `detail` says why: the database cannot be read or written (a full disk, a
    /// read-only or damaged file: `DATABASE_UNAVAILABLE`), its schema is not this server's
    /// (`DATABASE_UNAVAILABLE`), or the JWKS is not loaded yet (`AUTH_UNAVAILABLE`).
    #[oai(status = 503)]
    NotReady(
        JsonResponse<ErrorBody>,
        /// Seconds to wait before asking again.
        #[oai(header = "Retry-After")]
        u32,
    ),
}

impl ReadinessResponse {
    fn not_ready(code: ErrorCode, detail: String) -> Self {
        Self::NotReady(
            JsonResponse(ErrorBody {
                detail,
                error_code: code,
                timestamp: Timestamp::now(),
                request_id: crate::wire::request_id::current(),
                errors: None,
                task: None,
            }),
            RETRY_AFTER_SECS,
        )
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
                        request_id: crate::wire::request_id::current(),
                    }),
                    RETRY_AFTER_SECS,
                )
            }
        }
    }

    /// Readiness check
    ///
    /// No authentication. 200 when every request can be served: the database answers a read,
    /// commits a write (one row updated in place, nothing accumulates), has this server's
    /// schema and passed the start-up integrity check, and the JWKS, when one is configured,
    /// is loaded. 503 with the reason otherwise. Each call writes to the database: poll it
    /// every few seconds, not in a tight loop.
    #[oai(path = "/health/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, _public: NoAuth) -> ReadinessResponse {
        if let Err(e) = self.tasks.check_ready().await {
            match std::error::Error::source(&e) {
                Some(cause) => tracing::warn!(reason = %e, error = %cause, "not ready"),
                None => tracing::warn!(reason = %e, "not ready"),
            }
            return ReadinessResponse::not_ready(ErrorCode::DatabaseUnavailable, e.to_string());
        }
        let jwks = match self.verifier.jwks() {
            None => "not_configured",
            Some(cache) if cache.is_loaded() => "ok",
            Some(_) => {
                tracing::warn!(reason = "JWKS not loaded", "not ready");
                return ReadinessResponse::not_ready(
                    ErrorCode::AuthUnavailable,
                    "the token issuer's signing keys are not loaded yet".into(),
                );
            }
        };
        ReadinessResponse::Ready(JsonResponse(Readiness {
            status: "ready".into(),
            database: "ok".into(),
            jwks: jwks.into(),
        }))
    }
}
