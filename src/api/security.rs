//! The bearer-JWT security scheme every `/api/{user_id}/tasks` operation requires, and the one
//! step that turns it into the owner a use case acts for.
//!
//! Declaring it as a poem-openapi `SecurityScheme` puts it in the OpenAPI document (so Swagger UI's
//! Authorize button works) and makes "this operation is protected" part of each handler's
//! signature. Extraction only takes the token (a missing header is a 401 `AUTH_MISSING` there);
//! the handler then verifies it with the verifier the API holds as a typed field (reusing the
//! rate limiter's verification of the same token, when it made one).

use poem_openapi::{SecurityScheme, auth::Bearer};

use crate::wire::error::ApiError;
use crate::{auth::TokenVerifier, domain::UserId};

/// A Better Auth JWT: `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerAuth(pub Bearer);

impl BearerAuth {
    /// The owner this request acts for: the token must verify (else 401), and the path's
    /// `user_id` must be its subject (else 403), since a caller may only act on its own tasks.
    pub async fn owner(
        &self,
        verifier: &TokenVerifier,
        path_user_id: &str,
    ) -> Result<UserId, ApiError> {
        let user = verifier.verify_once(&self.0.token).await?;
        tracing::Span::current().record("user_id", user.user_id.as_str());
        if user.user_id.as_str() == path_user_id {
            Ok(user.user_id)
        } else {
            tracing::debug!(subject = %user.user_id, path_user_id, "forbidden: subject mismatch");
            Err(ApiError::forbidden())
        }
    }
}
