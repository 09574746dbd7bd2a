//! Authentication: turning a bearer JWT into an authenticated user, and the policy that decides
//! which tokens count.
//!
//! `AuthPolicy` (`policy.rs`) resolves the `[auth]` settings once into the accepted algorithms,
//! key sources and claim rules, and owns the checks on the development secret. `TokenVerifier`,
//! built from an `AuthPolicy`, is the one type that holds the trusted keys. An HS256
//! token is only ever checked against the shared secret, and an asymmetric one (EdDSA, ES256,
//! ES512, RS256, PS256) only against the published key its `kid` names, when that key's type and
//! declared `alg` fit the token's `alg`: no algorithm confusion. Every token, whatever signed it,
//! then passes the same claim checks (`claims.rs`). Rejection reasons are logged at debug level
//! and never sent to clients in detail.

mod claims;
pub mod dev_token;
pub mod jwks;
pub mod policy;
pub mod verified;

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::domain::UserId;

pub use crate::jwa::TokenAlgorithm;
pub use claims::ClaimRules;
pub use jwks::{JwksCache, KeySource};
pub use policy::{AuthPolicy, JwksPolicy, JwksSource};

/// Tokens longer than this are rejected before any parsing (Better Auth's are well under 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The authenticated caller, as handlers see it: the token's subject, plus the user's email and
/// name when the token carries them (Better Auth copies the user record into its tokens).
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
    /// audience, or uses an algorithm or key we do not accept. The reason is for logs only.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token may be fine, but the keys needed to check it cannot be fetched right now.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::Invalid(reason.into())
}

/// jsonwebtoken's name for `alg`; `None` for ES512, which jsonwebtoken 11 cannot verify.
fn jsonwebtoken_algorithm(alg: TokenAlgorithm) -> Option<Algorithm> {
    match alg {
        TokenAlgorithm::Hs256 => Some(Algorithm::HS256),
        TokenAlgorithm::EdDsa => Some(Algorithm::EdDSA),
        TokenAlgorithm::Es256 => Some(Algorithm::ES256),
        TokenAlgorithm::Es512 => None,
        TokenAlgorithm::Rs256 => Some(Algorithm::RS256),
        TokenAlgorithm::Ps256 => Some(Algorithm::PS256),
    }
}

/// The JOSE header members we read. `jku`, `x5u` and `jwk` are deliberately ignored: keys come
/// from our configuration, never from the token.
#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// A compact JWS split into its parts, each base64url-decoded strictly (no padding, no stray bits).
struct CompactToken<'a> {
    header: Header,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    payload: Vec<u8>,
    signature_b64: &'a str,
    signature: Vec<u8>,
}

impl<'a> CompactToken<'a> {
    fn parse(token: &'a str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWS (three dot-separated parts)"));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| invalid(format!("{what} is not base64url: {e}")))
        };
        let header: Header = serde_json::from_slice(&decode(header_b64, "header")?)
            .map_err(|e| invalid(format!("header is not a JOSE header: {e}")))?;
        let signature = decode(signature_b64, "signature")?;
        if signature.is_empty() {
            return Err(invalid("unsigned token"));
        }
        Ok(Self {
            header,
            signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
            payload: decode(payload_b64, "payload")?,
            signature_b64,
            signature,
        })
    }
}

/// Verifies bearer tokens against the keys an `AuthPolicy` trusts.
pub struct TokenVerifier {
    policy: AuthPolicy,
    hs256: Option<DecodingKey>,
    jwks: Option<Arc<JwksCache>>,
}

impl TokenVerifier {
    /// Build the verifier. The JWKS, when the policy has one, starts empty: `JwksCache::refresh`
    /// (run by the start-up task, see `startup::token_verifier`) loads it.
    pub fn new(policy: AuthPolicy) -> Self {
        let hs256 = policy
            .hs256_secret()
            .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()));
        let jwks = policy
            .jwks()
            .map(|jwks| Arc::new(JwksCache::new(KeySource::new(jwks), jwks.refetch_cooldown)));
        Self {
            policy,
            hs256,
            jwks,
        }
    }

    /// A verifier that accepts no token, for building the API (and its OpenAPI document) without
    /// settings.
    pub fn reject_all() -> Self {
        Self::new(AuthPolicy::reject_all())
    }

    /// The policy this verifier applies.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// The published-key cache, when a JWKS source is configured.
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref()
    }

    /// The algorithms this verifier accepts.
    pub fn accepted(&self) -> &[TokenAlgorithm] {
        self.policy.accepted()
    }

    /// The claim checks every token passes.
    pub fn rules(&self) -> &ClaimRules {
        self.policy.rules()
    }

    /// Verify `token` and return who it authenticates.
    pub async fn verify(&self, token: &str) -> Result<AuthenticatedUser, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(format!(
                "token is {} bytes, over the {MAX_TOKEN_BYTES} byte limit",
                token.len()
            )));
        }
        let token = CompactToken::parse(token)?;
        if token.header.crit.is_some() {
            return Err(invalid("header has `crit` extensions we do not understand"));
        }
        let alg = token
            .header
            .alg
            .parse::<TokenAlgorithm>()
            .ok()
            .filter(|alg| self.policy.accepts(*alg))
            .ok_or_else(|| invalid(format!("algorithm {:?} is not accepted", token.header.alg)))?;
        let signed = match alg {
            TokenAlgorithm::Hs256 => self.check_hs256(&token)?,
            _ => self.check_published(alg, &token).await?,
        };
        if !signed {
            return Err(invalid(format!("{alg} signature does not verify")));
        }
        self.policy
            .rules()
            .check(&token.payload, chrono::Utc::now().timestamp())
    }

    fn check_hs256(&self, token: &CompactToken<'_>) -> Result<bool, AuthError> {
        let secret = self
            .hs256
            .as_ref()
            .ok_or_else(|| invalid("HS256 is not accepted"))?;
        Ok(jsonwebtoken::crypto::verify(
            token.signature_b64,
            token.signing_input.as_bytes(),
            secret,
            Algorithm::HS256,
        )
        .unwrap_or(false))
    }

    async fn check_published(
        &self,
        alg: TokenAlgorithm,
        token: &CompactToken<'_>,
    ) -> Result<bool, AuthError> {
        let jwks = self
            .jwks
            .as_ref()
            .ok_or_else(|| invalid(format!("{alg} needs a JWKS and none is configured")))?;
        let kid = token
            .header
            .kid
            .as_deref()
            .ok_or_else(|| invalid(format!("{alg} token without a kid")))?;
        let key = jwks.key(kid).await?;
        if !key.supports(alg) {
            return Err(invalid(format!(
                "key {kid:?} ({}) cannot verify {alg}",
                key.describe()
            )));
        }
        Ok(key.verify(
            alg,
            token.signing_input.as_bytes(),
            token.signature_b64,
            &token.signature,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_must_have_exactly_three_strict_base64url_parts() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#);
        let ok = format!("{header}.{payload}.c2ln");
        assert!(CompactToken::parse(&ok).is_ok());
        for bad in [
            format!("{header}.{payload}"),
            format!("{header}.{payload}.c2ln.x"),
            format!("{header}.{payload}."),
            format!("{header}=.{payload}.c2ln"),
            format!("{header}.{payload}.c2ln="),
            format!("{header}.@@@.c2ln"),
            format!("{payload}.{payload}.c2ln"),
        ] {
            assert!(CompactToken::parse(&bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_verifier_applies_its_policy_and_reject_all_accepts_nothing() {
        let secret = secrecy::SecretString::from("a-real-secret-that-is-long-enough-0123456789");
        let token = dev_token::mint_hs256(
            &secret,
            "alice",
            std::time::Duration::from_secs(60),
            None,
            &[],
        )
        .unwrap();
        let settings = crate::config::AuthSettings {
            secret: Some(secret),
            ..Default::default()
        };

        let verifier = TokenVerifier::new(AuthPolicy::from_settings(&settings).unwrap());
        assert_eq!(
            verifier.verify(&token).await.unwrap().user_id,
            UserId::new("alice")
        );
        assert!(verifier.jwks().is_none());

        let none = TokenVerifier::reject_all();
        assert!(none.accepted().is_empty() && none.jwks().is_none());
        assert!(matches!(
            none.verify(&token).await,
            Err(AuthError::Invalid(_))
        ));
    }
}
