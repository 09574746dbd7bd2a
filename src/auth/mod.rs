//! Authentication: turning a bearer JWT into an authenticated user, and nothing else.
//!
//! `TokenVerifier` is the one type that knows which keys and algorithms are trusted. An HS256
//! token is only ever checked against the shared secret, and an asymmetric one (EdDSA, ES256,
//! ES512, RS256, PS256) only against the published key its `kid` names, when that key's type and
//! declared `alg` fit the token's `alg`: no algorithm confusion. Every token, whatever signed it,
//! then passes the same claim checks (`claims.rs`). Rejection reasons are logged at debug level
//! and never sent to clients in detail.

mod claims;
pub mod dev_token;
pub mod jwks;

use std::{fmt, str::FromStr, sync::Arc};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{config::AuthSettings, domain::UserId};

pub use claims::ClaimRules;
pub use jwks::{JwksCache, KeySource};

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

/// The signing algorithms we can verify: HS256 with the shared secret, and every asymmetric
/// one Better Auth's `jwt` plugin can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenAlgorithm {
    Hs256,
    EdDsa,
    Es256,
    Es512,
    Rs256,
    Ps256,
}

impl TokenAlgorithm {
    /// The asymmetric algorithms, in Better Auth's order (EdDSA is its default).
    pub const ASYMMETRIC: [Self; 5] = [
        Self::EdDsa,
        Self::Es256,
        Self::Es512,
        Self::Rs256,
        Self::Ps256,
    ];

    /// The JWA name, as in a token header or a JWK's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Es512 => "ES512",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }

    /// jsonwebtoken's name for it; `None` for ES512, which jsonwebtoken 11 cannot verify.
    fn jsonwebtoken(self) -> Option<Algorithm> {
        match self {
            Self::Hs256 => Some(Algorithm::HS256),
            Self::EdDsa => Some(Algorithm::EdDSA),
            Self::Es256 => Some(Algorithm::ES256),
            Self::Es512 => None,
            Self::Rs256 => Some(Algorithm::RS256),
            Self::Ps256 => Some(Algorithm::PS256),
        }
    }
}

impl FromStr for TokenAlgorithm {
    type Err = String;

    /// Exact JWA names only: `none`, `hs256` or `ES384` are not algorithms we accept.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Hs256]
            .into_iter()
            .chain(Self::ASYMMETRIC)
            .find(|alg| alg.name() == name)
            .ok_or_else(|| {
                format!("unsupported algorithm {name:?}: expected HS256, EdDSA, ES256, ES512, RS256 or PS256")
            })
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// Verifies bearer tokens against the configured secret and published keys.
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    accepted: Vec<TokenAlgorithm>,
    jwks: Option<Arc<JwksCache>>,
    rules: ClaimRules,
}

impl TokenVerifier {
    /// Build the verifier. The JWKS, when configured, starts empty: `JwksCache::refresh` (run by
    /// the start-up task, see `startup::token_verifier`) loads it.
    pub fn from_settings(settings: &AuthSettings) -> Self {
        let jwks = match settings.jwks_source() {
            Ok(Some(source)) => Some(Arc::new(JwksCache::new(
                KeySource::from_setting(source, settings),
                settings.jwks_refetch_cooldown(),
            ))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "no JWKS: its configuration is invalid");
                None
            }
        };
        let accepted = settings.accepted_algorithms();
        let hs256 = settings
            .secret
            .as_ref()
            .filter(|_| accepted.contains(&TokenAlgorithm::Hs256))
            .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()));
        Self {
            hs256,
            accepted,
            jwks,
            rules: ClaimRules {
                issuer: settings.expected_issuer(),
                audience: settings.expected_audience(),
                leeway_secs: settings.leeway_secs.min(i64::MAX as u64) as i64,
            },
        }
    }

    /// The published-key cache, when a JWKS source is configured.
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref()
    }

    /// The algorithms this verifier accepts.
    pub fn accepted(&self) -> &[TokenAlgorithm] {
        &self.accepted
    }

    /// The claim checks every token passes.
    pub fn rules(&self) -> &ClaimRules {
        &self.rules
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
            .filter(|alg| self.accepted.contains(alg))
            .ok_or_else(|| invalid(format!("algorithm {:?} is not accepted", token.header.alg)))?;
        let signed = match alg {
            TokenAlgorithm::Hs256 => self.check_hs256(&token)?,
            _ => self.check_published(alg, &token).await?,
        };
        if !signed {
            return Err(invalid(format!("{alg} signature does not verify")));
        }
        self.rules
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
    fn algorithm_names_are_exact_jwa_names() {
        for alg in TokenAlgorithm::ASYMMETRIC
            .into_iter()
            .chain([TokenAlgorithm::Hs256])
        {
            assert_eq!(alg.name().parse::<TokenAlgorithm>(), Ok(alg));
        }
        for name in ["none", "None", "hs256", "ES384", "RS512", "HS384", ""] {
            assert!(name.parse::<TokenAlgorithm>().is_err(), "{name}");
        }
    }

    fn settings(configure: impl FnOnce(&mut AuthSettings)) -> AuthSettings {
        let mut settings = AuthSettings {
            secret: None,
            ..AuthSettings::default()
        };
        configure(&mut settings);
        settings
    }

    fn jwks_url(settings: &AuthSettings) -> String {
        match settings.jwks_source().unwrap() {
            Some(crate::config::JwksSource::Url(url)) => url.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn better_auth_url_gives_the_jwks_url_and_the_default_issuer_and_audience() {
        for (base, jwks) in [
            (
                "http://localhost:3000",
                "http://localhost:3000/api/auth/jwks",
            ),
            (
                "http://localhost:3000/",
                "http://localhost:3000/api/auth/jwks",
            ),
            (
                "https://app.example/api/auth",
                "https://app.example/api/auth/jwks",
            ),
            (
                "https://app.example/api/auth/",
                "https://app.example/api/auth/jwks",
            ),
            (
                "https://app.example:8443/auth-app",
                "https://app.example:8443/auth-app/api/auth/jwks",
            ),
        ] {
            let s = settings(|s| s.better_auth_url = Some(base.into()));
            assert_eq!(jwks_url(&s), jwks, "{base}");
            let origin = base.split('/').take(3).collect::<Vec<_>>().join("/");
            assert_eq!(s.expected_issuer(), Some(origin.clone()), "{base}");
            assert_eq!(s.expected_audience(), vec![origin], "{base}");
        }
        let explicit = settings(|s| {
            s.better_auth_url = Some("https://app.example".into());
            s.jwks_url = Some("https://keys.example/jwks.json".into());
            s.issuer = Some("https://issuer.example".into());
            s.audience = vec!["a".into(), "b".into()];
        });
        assert_eq!(jwks_url(&explicit), "https://keys.example/jwks.json");
        assert_eq!(
            explicit.expected_issuer().as_deref(),
            Some("https://issuer.example")
        );
        assert_eq!(explicit.expected_audience(), ["a", "b"]);
    }

    #[test]
    fn the_default_algorithms_follow_the_configured_sources() {
        use TokenAlgorithm::*;
        let real_secret = Some("a-real-secret-that-is-long-enough-0123456789".into());
        let jwks = Some("http://localhost:3000".to_owned());
        let cases = [
            (settings(|_| {}), vec![]),
            (settings(|s| s.secret = real_secret.clone()), vec![Hs256]),
            (
                settings(|s| s.better_auth_url = jwks.clone()),
                vec![EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            (
                settings(|s| {
                    s.better_auth_url = jwks.clone();
                    s.secret = real_secret.clone();
                }),
                vec![Hs256, EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            // The development secret alone works (zero-setup runs), but not next to a JWKS...
            (AuthSettings::default(), vec![Hs256]),
            (
                AuthSettings {
                    better_auth_url: jwks.clone(),
                    ..AuthSettings::default()
                },
                vec![EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            // ...unless listed explicitly.
            (
                AuthSettings {
                    better_auth_url: jwks.clone(),
                    algorithms: vec![Hs256, EdDsa],
                    ..AuthSettings::default()
                },
                vec![Hs256, EdDsa],
            ),
        ];
        for (settings, expected) in cases {
            assert_eq!(settings.accepted_algorithms(), expected, "{settings:?}");
            assert_eq!(
                settings.require_token_source().is_ok(),
                !expected.is_empty()
            );
        }
    }

    #[test]
    fn inconsistent_auth_settings_are_configuration_errors() {
        let cases = [
            (
                "short secret",
                settings(|s| s.secret = Some("short".into())),
            ),
            (
                "relative URL",
                settings(|s| s.better_auth_url = Some("localhost:3000".into())),
            ),
            (
                "not http",
                settings(|s| s.jwks_url = Some("file:///etc/jwks.json".into())),
            ),
            (
                "both a URL and a file",
                settings(|s| {
                    s.jwks_url = Some("https://a.example/jwks".into());
                    s.jwks_path = Some("jwks.json".into());
                }),
            ),
            (
                "HS256 without a secret",
                settings(|s| s.algorithms = vec![TokenAlgorithm::Hs256]),
            ),
            (
                "EdDSA without a JWKS",
                settings(|s| s.algorithms = vec![TokenAlgorithm::EdDsa]),
            ),
            ("no refresh", settings(|s| s.jwks_refresh_secs = 0)),
            ("no timeout", settings(|s| s.jwks_timeout_secs = 0)),
            ("tiny cap", settings(|s| s.jwks_max_bytes = 10)),
        ];
        for (what, settings) in cases {
            assert!(settings.validate().is_err(), "{what}");
        }
        assert!(
            settings(|_| {}).validate().is_ok(),
            "no source is valid config (not for serving)"
        );
    }

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
}
