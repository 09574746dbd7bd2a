//! The keys of a JWKS: each JWK parsed into verification material, checked, and kept by `kid`.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk},
};
use p521::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{TokenAlgorithm, jsonwebtoken_algorithm};

/// Smallest RSA modulus we accept, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The material of one published verification key.
enum KeyMaterial {
    Ed25519(DecodingKey),
    P256(DecodingKey),
    /// jsonwebtoken 11 has no ES512, so P-521 keys are checked with the `p521` crate.
    P521(Box<p521::ecdsa::VerifyingKey>),
    Rsa(DecodingKey),
}

/// One usable key from a JWKS.
pub struct PublishedKey {
    kid: String,
    material: KeyMaterial,
    /// The JWK's `alg`, when it has one: the key then verifies that algorithm only.
    declared: Option<TokenAlgorithm>,
}

impl PublishedKey {
    /// Whether this key may verify a token signed with `alg`: the key type must fit, and so must
    /// the JWK's own `alg` when present.
    pub fn supports(&self, alg: TokenAlgorithm) -> bool {
        let fits = match self.material {
            KeyMaterial::Ed25519(_) => alg == TokenAlgorithm::EdDsa,
            KeyMaterial::P256(_) => alg == TokenAlgorithm::Es256,
            KeyMaterial::P521(_) => alg == TokenAlgorithm::Es512,
            KeyMaterial::Rsa(_) => matches!(alg, TokenAlgorithm::Rs256 | TokenAlgorithm::Ps256),
        };
        fits && self.declared.is_none_or(|declared| declared == alg)
    }

    /// The key type, for logs.
    pub fn describe(&self) -> &'static str {
        match self.material {
            KeyMaterial::Ed25519(_) => "OKP Ed25519",
            KeyMaterial::P256(_) => "EC P-256",
            KeyMaterial::P521(_) => "EC P-521",
            KeyMaterial::Rsa(_) => "RSA",
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Check `signature` (raw bytes, and as sent in base64url) over `message`. Call only when
    /// `supports(alg)`.
    pub fn verify(
        &self,
        alg: TokenAlgorithm,
        message: &[u8],
        signature_b64: &str,
        signature: &[u8],
    ) -> bool {
        match (&self.material, jsonwebtoken_algorithm(alg)) {
            (KeyMaterial::P521(key), _) => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            (
                KeyMaterial::Ed25519(key) | KeyMaterial::P256(key) | KeyMaterial::Rsa(key),
                Some(alg),
            ) => jsonwebtoken::crypto::verify(signature_b64, message, key, alg).unwrap_or(false),
            (_, None) => false,
        }
    }

    /// Parse one JWK. `Err` says why the key cannot be used; the rest of the set still can.
    fn parse(value: &Value) -> Result<Self, String> {
        let kid = match value.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
            _ => return Err("no kid".into()),
        };
        if let Some(usage) = value.get("use")
            && usage != "sig"
        {
            return Err(format!("use is {usage}, not sig"));
        }
        if let Some(ops) = value.get("key_ops")
            && !ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|op| op == "verify"))
        {
            return Err(format!("key_ops {ops} do not include verify"));
        }
        let declared = match value.get("alg") {
            None => None,
            Some(Value::String(name)) => Some(
                name.parse::<TokenAlgorithm>()
                    .ok()
                    .filter(|alg| *alg != TokenAlgorithm::Hs256)
                    .ok_or_else(|| format!("unsupported alg {name:?}"))?,
            ),
            Some(other) => return Err(format!("alg {other} is not a string")),
        };
        let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let bad_key = |e: jsonwebtoken::errors::Error| format!("invalid key: {e}");
        let (material, probe) = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                // jsonwebtoken slices the first 32 bytes without checking the length first.
                decode_exact(&okp.x, 32, "x")?;
                let key = DecodingKey::from_ed_components(&okp.x).map_err(bad_key)?;
                (KeyMaterial::Ed25519(key), Some(TokenAlgorithm::EdDsa))
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                decode_exact(&ec.x, 32, "x")?;
                decode_exact(&ec.y, 32, "y")?;
                let key = DecodingKey::from_ec_components(&ec.x, &ec.y).map_err(bad_key)?;
                (KeyMaterial::P256(key), Some(TokenAlgorithm::Es256))
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P521 => {
                let mut sec1 = vec![0x04];
                sec1.extend(decode_exact(&ec.x, 66, "x")?);
                sec1.extend(decode_exact(&ec.y, 66, "y")?);
                let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map_err(|_| "invalid key: not a P-521 point".to_owned())?;
                (KeyMaterial::P521(Box::new(key)), None)
            }
            AlgorithmParameters::RSA(rsa) => {
                let n = URL_SAFE_NO_PAD
                    .decode(&rsa.n)
                    .map_err(|e| format!("n is not base64url: {e}"))?;
                let bits = modulus_bits(&n);
                if bits < MIN_RSA_BITS {
                    return Err(format!("RSA modulus of {bits} bits, under {MIN_RSA_BITS}"));
                }
                let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(bad_key)?;
                (KeyMaterial::Rsa(key), Some(TokenAlgorithm::Rs256))
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err("symmetric (oct) keys are never trusted from a JWKS".into());
            }
            _ => return Err("unsupported key type or curve".into()),
        };
        // Building the verifier validates the key (point on the curve, RSA parameters); a probe
        // with a bogus signature does that without ever succeeding.
        if let (
            KeyMaterial::Ed25519(key) | KeyMaterial::P256(key) | KeyMaterial::Rsa(key),
            Some(alg),
        ) = (&material, probe.and_then(jsonwebtoken_algorithm))
        {
            jsonwebtoken::crypto::verify("AA", b"probe", key, alg).map_err(bad_key)?;
        }
        let key = Self {
            kid,
            material,
            declared,
        };
        if let Some(alg) = declared
            && !key.supports(alg)
        {
            return Err(format!("alg {alg} does not fit a {} key", key.describe()));
        }
        Ok(key)
    }
}

fn decode_exact(b64: &str, len: usize, name: &str) -> Result<Vec<u8>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| format!("{name} is not base64url: {e}"))?;
    if bytes.len() != len {
        return Err(format!("{name} is {} bytes, not {len}", bytes.len()));
    }
    Ok(bytes)
}

fn modulus_bits(n: &[u8]) -> usize {
    match n.iter().position(|b| *b != 0) {
        Some(first) => (n.len() - first) * 8 - n[first].leading_zeros() as usize,
        None => 0,
    }
}

/// The usable keys of one JWKS, by `kid`.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<PublishedKey>>,
}

impl KeySet {
    /// Parse a JWKS document. Keys we cannot use are skipped (and logged), so one odd key does
    /// not take the others down; a document that is not `{"keys": [...]}` is an error.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for value in &document.keys {
            let kid = value.get("kid").and_then(Value::as_str).unwrap_or("");
            match PublishedKey::parse(value) {
                Ok(key) if keys.contains_key(&key.kid) => {
                    tracing::warn!(kid, "ignoring a JWKS key: duplicate kid");
                }
                Ok(key) => {
                    keys.insert(key.kid.clone(), Arc::new(key));
                }
                Err(reason) => tracing::warn!(kid, %reason, "ignoring a JWKS key"),
            }
        }
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<PublishedKey>> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(super) fn kids(&self) -> BTreeSet<&str> {
        self.keys.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ed25519_jwk(kid: &str) -> Value {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes()), "kid": kid, "alg": "EdDSA"})
    }

    fn p521_jwk(kid: &str) -> Value {
        let mut scalar = [9; 66];
        scalar[0] = 0; // under the group order
        let key = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
        let point = p521::ecdsa::VerifyingKey::from(&key).to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-521", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()), "kid": kid, "alg": "ES512"})
    }

    #[test]
    fn usable_keys_are_kept_and_unusable_ones_skipped() {
        let mut short_x = ed25519_jwk("short");
        short_x["x"] = json!(b64(&[1; 31]));
        let mut off_curve = p521_jwk("off-curve");
        off_curve["y"] = json!(b64(&[1; 66]));
        let mut wrong_alg = ed25519_jwk("wrong-alg");
        wrong_alg["alg"] = json!("ES256");
        let mut enc = ed25519_jwk("enc");
        enc["use"] = json!("enc");
        let mut no_kid = ed25519_jwk("");
        no_kid.as_object_mut().unwrap().remove("kid");
        let document = json!({"keys": [
            ed25519_jwk("ed"),
            p521_jwk("p521"),
            short_x,
            off_curve,
            wrong_alg,
            enc,
            no_kid,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct", "alg": "HS256"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"},
            {"kty": "RSA", "n": b64(&[0xff; 128]), "e": "AQAB", "kid": "rsa1024", "alg": "RS256"},
            {"kty": "OKP", "crv": "X25519", "x": b64(&[1; 32]), "kid": "x25519"},
            ed25519_jwk("ed"),
        ]});

        let set = KeySet::parse(document.to_string().as_bytes()).unwrap();

        assert_eq!(set.kids(), BTreeSet::from(["ed", "p521"]));
        assert!(set.get("ed").unwrap().supports(TokenAlgorithm::EdDsa));
        assert!(!set.get("ed").unwrap().supports(TokenAlgorithm::Es256));
        assert!(set.get("p521").unwrap().supports(TokenAlgorithm::Es512));
        assert!(!set.get("p521").unwrap().supports(TokenAlgorithm::Es256));
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_an_error() {
        for body in ["", "[]", "{}", r#"{"keys": {}}"#, "<html>"] {
            assert!(KeySet::parse(body.as_bytes()).is_err(), "{body}");
        }
        assert!(KeySet::parse(br#"{"keys": []}"#).unwrap().is_empty());
    }

    #[test]
    fn an_rsa_key_without_alg_verifies_rs256_and_ps256_only() {
        let modulus = {
            let mut n = vec![0xc5; 256];
            n[255] |= 1;
            n
        };
        let key = PublishedKey {
            kid: "r".into(),
            material: KeyMaterial::Rsa(DecodingKey::from_rsa_raw_components(&modulus, &[1, 0, 1])),
            declared: None,
        };
        assert!(key.supports(TokenAlgorithm::Rs256));
        assert!(key.supports(TokenAlgorithm::Ps256));
        assert!(!key.supports(TokenAlgorithm::Es256));
        assert!(!key.supports(TokenAlgorithm::Hs256));
        assert_eq!(modulus_bits(&modulus), 2048);
        assert_eq!(modulus_bits(&[0, 0, 1]), 1);
    }
}
