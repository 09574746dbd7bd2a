//! The bearer-JWT security scheme every `/api/{user_id}/tasks` operation requires.
//!
//! Declaring it as a poem-openapi `SecurityScheme` puts it in the OpenAPI document (so Swagger UI's
//! Authorize button works) and makes "this operation is protected" part of each handler's signature.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::error::ApiError;
use crate::{
    auth::{AuthenticatedUser, TokenVerifier},
    domain::UserId,
};

/// A Better Auth JWT: `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "verify_bearer")]
pub struct BearerAuth(pub AuthenticatedUser);

impl BearerAuth {
    /// The caller may only act on its own tasks: the path's `user_id` must be the token's subject.
    pub fn authorize(&self, path_user_id: &str) -> Result<&UserId, ApiError> {
        if self.0.user_id.as_str() == path_user_id {
            Ok(&self.0.user_id)
        } else {
            tracing::debug!(subject = %self.0.user_id, path_user_id, "forbidden: subject mismatch");
            Err(ApiError::forbidden())
        }
    }
}

async fn verify_bearer(req: &Request, bearer: Bearer) -> poem::Result<AuthenticatedUser> {
    let verifier = req.data::<Arc<TokenVerifier>>().ok_or_else(|| {
        tracing::error!("TokenVerifier missing from request data");
        ApiError::internal()
    })?;
    let user = verifier
        .verify(&bearer.token)
        .await
        .map_err(ApiError::from)?;
    tracing::Span::current().record("user_id", user.user_id.as_str());
    Ok(user)
}
