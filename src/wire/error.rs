//! The one error type at the HTTP boundary, and the renderer that gives every failure — ours,
//! the router's, the extractors' — the same JSON shape.
//!
//! Internal causes are logged here and replaced by a generic message; clients only ever see
//! `detail`, a stable `error_code` and, for validation failures, the fields at fault.

use poem::{
    Response,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::ApiResponse;

use super::{
    request_id,
    response::JsonResponse,
    schemas::{BODY, ErrorBody, ErrorCode, QUERY, TaskView, Timestamp, ValidationIssue},
};
use crate::{
    auth::AuthError,
    domain::Task,
    metrics::{self, AuthFailure},
    store::StoreError,
    tasks::{ListRefusal, TaskError},
};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

/// `WWW-Authenticate` when no token was sent (RFC 6750 §3).
pub const CHALLENGE_MISSING: &str = "Bearer";
/// `WWW-Authenticate` when a token was sent and rejected.
pub const CHALLENGE_INVALID: &str = r#"Bearer error="invalid_token""#;

/// Every error an operation can answer with. Each variant documents one status in the contract.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed JSON, a body that is not JSON, or a PATCH with no field.
    #[oai(status = 400)]
    BadRequest(JsonResponse<ErrorBody>),
    /// No bearer token (`AUTH_MISSING`), or one that is invalid, expired, not yet valid, signed
    /// with an unaccepted algorithm or for another issuer or audience (`AUTH_INVALID`).
    #[oai(status = 401)]
    Unauthorized(
        JsonResponse<ErrorBody>,
        /// `Bearer`, or `Bearer error="invalid_token"` when a token was sent.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// The path's `user_id` is not the token's subject.
    #[oai(status = 403)]
    Forbidden(JsonResponse<ErrorBody>),
    /// No such task for this user (another user's task is reported the same way), or no such route.
    #[oai(status = 404)]
    NotFound(JsonResponse<ErrorBody>),
    /// Creating a task: the user already has the most tasks allowed (`QUOTA_EXCEEDED`); delete
    /// some to add more. Or a request with this `Idempotency-Key` is still running
    /// (`IDEMPOTENCY_IN_PROGRESS`): retry after `Retry-After` to get its response.
    #[oai(status = 409)]
    Conflict(
        JsonResponse<ErrorBody>,
        /// Seconds to wait before retrying (`IDEMPOTENCY_IN_PROGRESS` only).
        #[oai(header = "Retry-After")]
        Option<u32>,
    ),
    /// The change feed's `since` is older than the deletions kept (`CURSOR_EXPIRED`): list the
    /// tasks again and follow the feed from the list's `sync_cursor`.
    #[oai(status = 410)]
    Gone(JsonResponse<ErrorBody>),
    /// `If-Match` (or `expected_version`) names another version of the task
    /// (`PRECONDITION_FAILED`): nothing was written, and `task` is the task as it is now.
    #[oai(status = 412)]
    PreconditionFailed(JsonResponse<ErrorBody>),
    /// The body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(JsonResponse<ErrorBody>),
    /// Well-formed JSON that breaks the schema, or a path parameter that is not a valid id
    /// (`VALIDATION_ERROR`); or an `Idempotency-Key` already used for another request
    /// (`IDEMPOTENCY_KEY_REUSED`).
    #[oai(status = 422)]
    Unprocessable(JsonResponse<ErrorBody>),
    /// Too many requests (`RATE_LIMITED`): the token's subject, or without a valid token the
    /// client's address, is over its request budget. Like every response of these operations
    /// it carries `RateLimit-Policy` (the budget, e.g. `"user";q=200;w=2`: `q` requests per `w`
    /// seconds) and `RateLimit` (what is left, e.g. `"user";r=0;t=2`: `r` requests remain,
    /// full again in `t` seconds), draft-ietf-httpapi-ratelimit-headers.
    #[oai(status = 429)]
    TooManyRequests(
        JsonResponse<ErrorBody>,
        /// Whole seconds to wait before retrying (at least 1).
        #[oai(header = "Retry-After")]
        u32,
    ),
    /// An unexpected failure. Details are in the server log, never in the response.
    #[oai(status = 500)]
    Internal(JsonResponse<ErrorBody>),
    /// The database (`DATABASE_UNAVAILABLE`) or the token issuer's keys (`AUTH_UNAVAILABLE`)
    /// cannot be reached right now; retry later.
    #[oai(status = 503)]
    Unavailable(
        JsonResponse<ErrorBody>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u32,
    ),
}

fn body(code: ErrorCode, detail: impl Into<String>) -> JsonResponse<ErrorBody> {
    JsonResponse(ErrorBody {
        detail: detail.into(),
        error_code: code,
        timestamp: Timestamp::now(),
        errors: None,
        task: None,
        request_id: request_id::current(),
    })
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(body(ErrorCode::BadRequest, detail))
    }

    pub fn auth_missing() -> Self {
        metrics::note_auth_failure(AuthFailure::Missing);
        Self::Unauthorized(
            body(ErrorCode::AuthMissing, "missing bearer token"),
            CHALLENGE_MISSING.into(),
        )
    }

    pub fn auth_invalid() -> Self {
        metrics::note_auth_failure(AuthFailure::Invalid);
        Self::Unauthorized(
            body(ErrorCode::AuthInvalid, "invalid or expired token"),
            CHALLENGE_INVALID.into(),
        )
    }

    pub fn forbidden() -> Self {
        metrics::note_auth_failure(AuthFailure::Forbidden);
        Self::Forbidden(body(
            ErrorCode::AuthForbidden,
            "the token's subject may not access this user's tasks",
        ))
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(body(ErrorCode::NotFound, detail))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge(body(
            ErrorCode::PayloadTooLarge,
            format!("request body is larger than {limit} bytes"),
        ))
    }

    pub fn validation(errors: Vec<ValidationIssue>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.loc.join("."), one.msg),
            many => format!("{} validation errors", many.len()),
        };
        let mut json = body(ErrorCode::ValidationError, detail);
        json.0.errors = Some(errors);
        Self::Unprocessable(json)
    }

    pub fn quota_exceeded(detail: impl Into<String>) -> Self {
        Self::Conflict(body(ErrorCode::QuotaExceeded, detail), None)
    }

    /// 412 `PRECONDITION_FAILED` with the task as it is now.
    pub fn precondition_failed(detail: impl Into<String>, current: Task) -> Self {
        let mut json = body(ErrorCode::PreconditionFailed, detail);
        json.0.task = Some(Box::new(TaskView::from(current)));
        Self::PreconditionFailed(json)
    }

    /// 429 `RATE_LIMITED` with its `Retry-After` (the caller adds the RateLimit headers).
    pub fn rate_limited(retry_after_secs: u32) -> Self {
        Self::TooManyRequests(
            body(
                ErrorCode::RateLimited,
                format!("too many requests, retry in {retry_after_secs} s"),
            ),
            retry_after_secs,
        )
    }

    pub fn internal() -> Self {
        Self::Internal(body(ErrorCode::InternalError, "internal server error"))
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable(
            body(ErrorCode::DatabaseUnavailable, detail),
            RETRY_AFTER_SECS,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("task not found"),
            StoreError::TaskLimitReached => {
                Self::quota_exceeded("the user already has the most tasks allowed")
            }
            StoreError::KeyReused => Self::Unprocessable(body(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for another request: use a new key for a new request",
            )),
            StoreError::KeyInProgress => Self::Conflict(
                body(
                    ErrorCode::IdempotencyInProgress,
                    "a request with this Idempotency-Key is still running: retry later for its response",
                ),
                Some(RETRY_AFTER_SECS),
            ),
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Self::unavailable("database unavailable, retry later")
            }
            StoreError::Internal(source) => {
                tracing::error!(error = %source, "database error");
                Self::internal()
            }
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        Self::from_task(e, BODY)
    }
}

impl ApiError {
    /// A use case's refusal; a field at fault is reported under `root` (`body` or `arguments`).
    pub fn from_task(e: TaskError, root: &str) -> Self {
        match e {
            TaskError::NothingToChange => Self::bad_request(e.to_string()),
            TaskError::QuotaExceeded { .. } => Self::quota_exceeded(e.to_string()),
            TaskError::PreconditionFailed(ref current) => {
                let current = (**current).clone();
                Self::precondition_failed(e.to_string(), current)
            }
            TaskError::CursorExpired => Self::Gone(body(ErrorCode::CursorExpired, e.to_string())),
            TaskError::Schedule(e) => Self::validation(vec![ValidationIssue::new(
                &[root, e.field],
                e.error.message,
                e.error.kind,
            )]),
            TaskError::Store(e) => e.into(),
        }
    }

    /// A request refused before it reached an operation: a browser `Origin` or a `Host` this
    /// server does not serve (the MCP transport's DNS-rebinding rule).
    pub fn request_refused(detail: impl Into<String>) -> Self {
        Self::Forbidden(body(ErrorCode::AuthForbidden, detail))
    }

    /// The JSON body this error answers with.
    pub fn body(&self) -> &ErrorBody {
        match self {
            Self::BadRequest(b)
            | Self::Unauthorized(b, _)
            | Self::Forbidden(b)
            | Self::NotFound(b)
            | Self::Conflict(b, _)
            | Self::Gone(b)
            | Self::PreconditionFailed(b)
            | Self::PayloadTooLarge(b)
            | Self::Unprocessable(b)
            | Self::TooManyRequests(b, ..)
            | Self::Internal(b)
            | Self::Unavailable(b, _) => &b.0,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid(reason) => {
                tracing::debug!(%reason, "token rejected");
                Self::auth_invalid()
            }
            AuthError::KeysUnavailable(reason) => {
                tracing::warn!(%reason, "cannot verify token: signing keys unavailable");
                metrics::note_auth_failure(AuthFailure::KeysUnavailable);
                Self::Unavailable(
                    body(
                        ErrorCode::AuthUnavailable,
                        "the token issuer's signing keys are unavailable, retry later",
                    ),
                    RETRY_AFTER_SECS,
                )
            }
        }
    }
}

impl From<ListRefusal> for ApiError {
    fn from(refusal: ListRefusal) -> Self {
        Self::from_list(refusal, QUERY)
    }
}

impl ApiError {
    /// Bad list parameters are a 422 naming each (`loc: [root, name]`); a cursor that does not
    /// fit is a 400.
    pub fn from_list(refusal: ListRefusal, root: &str) -> Self {
        match refusal {
            ListRefusal::Invalid(issues) => Self::validation(
                issues
                    .into_iter()
                    .map(|i| ValidationIssue::new(&[root, i.name], i.message, i.kind))
                    .collect(),
            ),
            ListRefusal::Cursor(detail) => Self::bad_request(detail),
        }
    }
}

/// Render any error that escaped an endpoint (router 404/405, extractor and size-limit errors,
/// panics) in the contract's shape. Errors that already are our responses pass through.
pub fn render(err: poem::Error) -> Response {
    let operation = err.data::<poem_openapi::OperationId>().copied();
    let mut resp = render_error(err);
    if let Some(op) = operation {
        resp.set_data(op);
    }
    resp
}

fn render_error(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let api_error = if err.is::<AuthorizationError>() {
        ApiError::auth_missing()
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        param_error(e.name, &e.reason)
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        param_error(e.name, &e.reason)
    } else if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        ApiError::bad_request(match e {
            ContentTypeError::NotSupported { .. } => {
                "unsupported Content-Type: send application/json"
            }
            ContentTypeError::ExpectContentType => "missing Content-Type: send application/json",
        })
    } else if err.is::<ParseRequestPayloadError>() {
        ApiError::bad_request("request body could not be read")
    } else {
        match status {
            StatusCode::NOT_FOUND => ApiError::not_found("no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                return with_status(
                    ErrorCode::MethodNotAllowed,
                    "method not allowed on this route",
                    status,
                );
            }
            StatusCode::FORBIDDEN => ApiError::Forbidden(body(
                ErrorCode::AuthForbidden,
                "request refused (origin not allowed)",
            )),
            s if s.is_client_error() => {
                // Keep the status the framework chose; describe it with the generic code.
                return with_status(
                    ErrorCode::BadRequest,
                    s.canonical_reason().unwrap_or("bad request"),
                    s,
                );
            }
            _ => {
                tracing::error!(error = %err, %status, "unhandled error");
                ApiError::internal()
            }
        }
    };
    poem::IntoResponse::into_response(api_error)
}

fn param_error(name: &str, reason: &str) -> ApiError {
    tracing::debug!(%name, %reason, "bad path or query parameter");
    let field = match name {
        "task_id" | "param1" => "task_id",
        "user_id" | "param0" => "user_id",
        other => other,
    };
    let issue = if field == "task_id" {
        ValidationIssue::new(
            &["path", field],
            "task_id must be a 64-bit integer",
            "int_parsing",
        )
    } else {
        ValidationIssue::new(
            &["path", field],
            format!("{field} is not a valid path segment"),
            "string_type",
        )
    };
    ApiError::validation(vec![issue])
}

/// A response with `status` and the contract's error body (`code`, `detail`).
pub fn with_status(code: ErrorCode, detail: &str, status: StatusCode) -> Response {
    let mut resp = poem::IntoResponse::into_response(body(code, detail));
    resp.set_status(status);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
