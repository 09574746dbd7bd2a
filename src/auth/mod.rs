//! Authentication: turning a bearer JWT into an authenticated user, and nothing else.
//!
//! `TokenVerifier` is the one type that knows which keys and algorithms are trusted. It accepts
//! only the algorithms configured for each key (an HS256 token is never checked against anything
//! but the shared secret), requires `exp` and `sub`, honours `nbf`, and checks `iss`/`aud` when
//! configured. Rejection reasons are logged at debug level and never sent to clients in detail.

pub mod dev_token;

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{config::AuthSettings, domain::UserId};

/// Tokens longer than this are rejected before any parsing (Better Auth's are well under 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The authenticated caller, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub user_id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is malformed, badly signed, expired, not yet valid, for another issuer or
    /// audience, or uses an algorithm we do not accept. The reason is for logs only.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token may be fine, but the keys needed to check it cannot be fetched right now.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

/// The claims we read. Better Auth adds the user record (`email`, `name`, …) beside the
/// registered claims; everything else is ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    iat: Option<i64>,
    email: Option<String>,
    name: Option<String>,
}

/// Verifies bearer tokens against the configured keys.
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Vec<String>,
    leeway: Duration,
}

impl TokenVerifier {
    pub fn from_settings(settings: &AuthSettings) -> Self {
        Self {
            hs256: settings
                .secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes())),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: Duration::from_secs(settings.leeway_secs),
        }
    }

    /// Verify `token` and return who it authenticates.
    pub async fn verify(&self, token: &str) -> Result<AuthenticatedUser, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid(format!(
                "token is {} bytes, over the {MAX_TOKEN_BYTES} byte limit",
                token.len()
            )));
        }
        let header = decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let key = match header.alg {
            Algorithm::HS256 => self
                .hs256
                .as_ref()
                .ok_or_else(|| AuthError::Invalid("HS256 is not accepted".into()))?,
            other => {
                return Err(AuthError::Invalid(format!(
                    "algorithm {other:?} is not accepted"
                )));
            }
        };
        self.check_claims(token, key, header.alg)
    }

    /// Signature and claim checks shared by every key type.
    fn check_claims(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<AuthenticatedUser, AuthError> {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        if self.audience.is_empty() {
            // Better Auth always sets `aud`; without a configured audience we do not judge it.
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
        }
        let data = decode::<Claims>(token, key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if let Some(iat) = claims.iat {
            let now = chrono::Utc::now().timestamp();
            if iat > now + self.leeway.as_secs() as i64 {
                return Err(AuthError::Invalid(
                    "token issued in the future (iat)".into(),
                ));
            }
        }
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty sub claim".into()));
        }
        Ok(AuthenticatedUser {
            user_id: UserId::new(claims.sub),
            email: claims.email,
            name: claims.name,
        })
    }
}
