//! Signing keys of every algorithm Better Auth's `jwt` plugin can issue, the tokens and claims it
//! would issue with them, and the JWKS documents that publish their public halves: what the JWKS
//! tests and the JWKS server sign and serve.

use std::sync::OnceLock;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

/// The algorithms Better Auth's `jwt` plugin can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDsa,
    Es256,
    Es512,
    Rs256,
    Ps256,
}

impl Alg {
    pub const ALL: [Alg; 5] = [Alg::EdDsa, Alg::Es256, Alg::Es512, Alg::Rs256, Alg::Ps256];

    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDsa => "EdDSA",
            Alg::Es256 => "ES256",
            Alg::Es512 => "ES512",
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
        }
    }
}

enum PrivateKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Rsa(&'static rsa::RsaPrivateKey),
}

/// A signing key of one algorithm, with its `kid`, as Better Auth would hold it.
pub struct TestKey {
    pub alg: Alg,
    pub kid: String,
    key: PrivateKey,
}

/// RSA keys take a while to generate: a few are made once and shared by every test.
fn rsa_keys() -> &'static [rsa::RsaPrivateKey] {
    static KEYS: OnceLock<Vec<rsa::RsaPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Unpadded base64url, as in JWTs and JWKs.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random 32-character id, the shape of Better Auth's key ids.
pub fn random_kid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestKey {
    /// A new key. RSA keys come from a small shared pool (`nth` picks one), under a fresh `kid`.
    pub fn generate(alg: Alg, nth: usize) -> Self {
        let key = match alg {
            Alg::EdDsa => PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng)),
            Alg::Es256 => PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            Alg::Es512 => PrivateKey::P521(p521::ecdsa::SigningKey::random(&mut OsRng)),
            Alg::Rs256 | Alg::Ps256 => PrivateKey::Rsa(&rsa_keys()[nth % rsa_keys().len()]),
        };
        Self {
            alg,
            kid: random_kid(),
            key,
        }
    }

    /// The public JWK, exactly as Better Auth publishes it (`alg` and `kid`, no `use`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.key {
            PrivateKey::Ed25519(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.verifying_key().as_bytes())})
            }
            PrivateKey::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
            }
            PrivateKey::P521(k) => {
                let point = p521::ecdsa::VerifyingKey::from(k).to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-521", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
            }
            PrivateKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                json!({"kty": "RSA", "n": b64(k.n().to_bytes_be()), "e": b64(k.e().to_bytes_be())})
            }
        };
        jwk["alg"] = json!(self.alg.name());
        jwk["kid"] = json!(self.kid);
        jwk
    }

    /// The raw public key bytes (Ed25519 `x`, the EC point, the RSA modulus).
    pub fn public_bytes(&self) -> Vec<u8> {
        match &self.key {
            PrivateKey::Ed25519(k) => k.verifying_key().as_bytes().to_vec(),
            PrivateKey::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            PrivateKey::P521(k) => p521::ecdsa::VerifyingKey::from(k)
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            PrivateKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                k.n().to_bytes_be()
            }
        }
    }

    /// Sign `input` with this key under `alg` (the key's own unless the test says otherwise).
    fn sign(&self, alg: Alg, input: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer as _;
        match &self.key {
            PrivateKey::Ed25519(k) => ed25519_dalek::Signer::sign(k, input).to_bytes().to_vec(),
            PrivateKey::P256(k) => {
                let signature: p256::ecdsa::Signature = k.sign(input);
                signature.to_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let signature: p521::ecdsa::Signature = k.sign(input);
                signature.to_bytes().to_vec()
            }
            PrivateKey::Rsa(k) => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                let der = k.to_pkcs1_der().unwrap();
                let jwt_alg = match alg {
                    Alg::Ps256 => jsonwebtoken::Algorithm::PS256,
                    _ => jsonwebtoken::Algorithm::RS256,
                };
                let encoded = jsonwebtoken::crypto::sign(
                    input,
                    &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
                    jwt_alg,
                )
                .unwrap();
                URL_SAFE_NO_PAD.decode(encoded).unwrap()
            }
        }
    }

    /// A compact JWS of `header` and `claims`, signed by this key under `alg`.
    pub fn sign_token(&self, alg: Alg, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self.sign(alg, input.as_bytes());
        format!("{input}.{}", b64(signature))
    }

    /// A token as Better Auth issues it: header `{"alg", "kid"}`, no `typ`.
    pub fn token(&self, claims: &Value) -> String {
        self.sign_token(
            self.alg,
            &json!({"alg": self.alg.name(), "kid": self.kid}),
            claims,
        )
    }
}

/// Now, in seconds since the epoch (`iat`, `exp`).
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims Better Auth's `jwt` plugin sets for `sub`: the user record, `iat`, `exp` (15
/// minutes), and `iss` = `aud` = the base URL's origin.
pub fn better_auth_claims(issuer: &str, sub: &str) -> Value {
    let now = now();
    json!({
        "name": "Ada Lovelace",
        "email": format!("{sub}@example.com"),
        "emailVerified": true,
        "image": null,
        "createdAt": "2025-06-01T10:00:00.000Z",
        "updatedAt": "2025-06-01T10:00:00.000Z",
        "id": sub,
        "iat": now,
        "sub": sub,
        "exp": now + 900,
        "iss": issuer,
        "aud": issuer,
    })
}

/// A JWKS document publishing `keys`.
pub fn jwks_of(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}
