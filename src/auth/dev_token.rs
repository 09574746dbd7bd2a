//! Minting development tokens (`todo-api token`), shaped like the ones Better Auth issues: HS256
//! with the shared secret, or EdDSA with a local Ed25519 key whose JWKS the server can load from
//! a file (`auth.jwks_path`), so offline development exercises the JWKS path too.

use std::{path::Path, time::Duration};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header, encode,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, OctetKeyPairParameters,
        OctetKeyPairType, ThumbprintHash,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Sign an HS256 token for `user_id`, valid for `ttl`, with the claims Better Auth would set.
pub fn mint_hs256(
    secret: &SecretString,
    user_id: &str,
    ttl: Duration,
    issuer: Option<&str>,
    audience: &[String],
) -> Result<String, jsonwebtoken::errors::Error> {
    encode(
        &Header::default(),
        &claims(user_id, ttl, issuer, audience),
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
}

/// The claims Better Auth's `jwt` plugin sets: the user record, `sub`, `iat`, `exp`, `iss`, `aud`.
fn claims(user_id: &str, ttl: Duration, issuer: Option<&str>, audience: &[String]) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user_id,
        "id": user_id,
        "iat": now,
        "exp": now + ttl.as_secs() as i64,
    });
    if let Some(iss) = issuer {
        claims["iss"] = json!(iss);
    }
    match audience {
        [] => {}
        [one] => claims["aud"] = json!(one),
        many => claims["aud"] = json!(many),
    }
    claims
}

/// Why a development key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a PKCS#8 PEM Ed25519 private key: {reason}")]
    NotAKey { path: String, reason: String },
    #[error("cannot sign: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A local Ed25519 key for development. Its `kid` is its RFC 7638 thumbprint, so it is stable
/// for a given key file.
pub struct DevSigningKey {
    key: ed25519_dalek::SigningKey,
    kid: String,
}

impl DevSigningKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self::new(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    fn new(key: ed25519_dalek::SigningKey) -> Self {
        let kid = public_jwk(&key)
            .thumbprint(ThumbprintHash::SHA256)
            .expect("an Ed25519 JWK has a thumbprint");
        Self { key, kid }
    }

    /// Read the PKCS#8 PEM key at `path` (as `openssl genpkey -algorithm ed25519` writes), or
    /// create one there, readable by its owner only. The flag says whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), DevKeyError> {
        let io = |source| DevKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                    DevKeyError::NotAKey {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    }
                })?;
                Ok((Self::new(key), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(path, key.to_pem().as_bytes()).map_err(io)?;
                Ok((key, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key encodes as PKCS#8")
            .to_string()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as Better Auth publishes it: `{"kty","crv","x","kid","alg"}`.
    pub fn jwk(&self) -> Value {
        let mut jwk = serde_json::to_value(public_jwk(&self.key)).expect("a JWK serialises");
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!("EdDSA");
        jwk
    }

    /// The JWKS document to serve or to point `auth.jwks_path` at.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// Sign an EdDSA token for `user_id`, with Better Auth's header (`alg`, `kid`, no `typ`).
    pub fn mint(
        &self,
        user_id: &str,
        ttl: Duration,
        issuer: Option<&str>,
        audience: &[String],
    ) -> Result<String, DevKeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = None;
        header.kid = Some(self.kid.clone());
        let der = self
            .key
            .to_pkcs8_der()
            .expect("an Ed25519 key encodes as PKCS#8");
        Ok(encode(
            &header,
            &claims(user_id, ttl, issuer, audience),
            &EncodingKey::from_ed_der(der.as_bytes()),
        )?)
    }
}

fn public_jwk(key: &ed25519_dalek::SigningKey) -> Jwk {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    Jwk {
        common: CommonParameters::default(),
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        }),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_key_round_trips_through_its_pem_file_and_keeps_its_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.pem");

        let (created, was_new) = DevSigningKey::load_or_create(&path).unwrap();
        let (loaded, loaded_new) = DevSigningKey::load_or_create(&path).unwrap();

        assert!(was_new && !loaded_new);
        assert_eq!(created.kid(), loaded.kid());
        assert_eq!(created.jwks(), loaded.jwks());
        assert_eq!(created.kid().len(), 43, "base64url SHA-256 thumbprint");
        let jwk = &created.jwks()["keys"][0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert!(jwk.get("d").is_none(), "no private part in the JWKS");
    }

    #[test]
    fn a_file_that_is_not_a_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.pem");
        std::fs::write(&path, "not a key").unwrap();

        assert!(matches!(
            DevSigningKey::load_or_create(&path),
            Err(DevKeyError::NotAKey { .. })
        ));
    }
}
