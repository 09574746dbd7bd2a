//! Better Auth's published signing keys: parsing a JWKS into verification keys, loading it from
//! the issuer (with a timeout and a size cap) or from a file, and caching it.
//!
//! The cache keeps the last good key set while the source is unreachable. It is refreshed on a
//! schedule (`spawn_refresh`) and at once when a token names a `kid` it does not know, but such
//! on-demand refetches are single-flight and at most one per cooldown, so a flood of random
//! `kid`s cannot make us hammer the issuer.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk},
};
use p521::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::Value;

use super::{AuthError, JwksPolicy, JwksSource, TokenAlgorithm, invalid, jsonwebtoken_algorithm};

/// Smallest RSA modulus we accept, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// After a failed load, the scheduled refresh retries at least this often.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// Why a key set could not be loaded. The last good set, if any, stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("cannot fetch {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{origin} is larger than {max_bytes} bytes")]
    TooLarge { origin: String, max_bytes: usize },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{origin} is not a JWKS: {reason}")]
    NotJwks { origin: String, reason: String },
}

/// Where the key set comes from.
pub enum KeySource {
    /// The issuer's JWKS endpoint, over HTTP(S).
    Url {
        url: reqwest::Url,
        /// `Err` holds why the client could not be built; every load then fails with it.
        client: Result<reqwest::Client, String>,
        max_bytes: usize,
    },
    /// A JWKS file (offline and air-gapped set-ups), re-read on every refresh.
    File { path: PathBuf, max_bytes: usize },
}

impl KeySource {
    /// The source `jwks` names, with its HTTP client (timeout, no connection pool, few redirects).
    pub fn new(jwks: &JwksPolicy) -> Self {
        let max_bytes = jwks.max_bytes;
        match &jwks.source {
            JwksSource::Url(url) => {
                let timeout = jwks.timeout;
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    // Fetches are minutes apart: a pooled connection would only go stale.
                    .pool_max_idle_per_host(0)
                    .redirect(reqwest::redirect::Policy::limited(3))
                    .user_agent(concat!("todo-api/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"));
                Self::Url {
                    url: url.clone(),
                    client,
                    max_bytes,
                }
            }
            JwksSource::File(path) => Self::File {
                path: path.clone(),
                max_bytes,
            },
        }
    }

    /// The URL or path, for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Url { url, .. } => url.to_string(),
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    async fn load(&self) -> Result<KeySet, JwksError> {
        let body = match self {
            Self::Url {
                url,
                client,
                max_bytes,
            } => fetch(url, client, *max_bytes).await?,
            Self::File { path, max_bytes } => read_file(path, *max_bytes).await?,
        };
        KeySet::parse(&body).map_err(|reason| JwksError::NotJwks {
            origin: self.describe(),
            reason,
        })
    }
}

async fn fetch(
    url: &reqwest::Url,
    client: &Result<reqwest::Client, String>,
    max_bytes: usize,
) -> Result<Vec<u8>, JwksError> {
    let unreachable = |reason: String| JwksError::Unreachable {
        url: url.to_string(),
        reason,
    };
    let client = client.as_ref().map_err(|e| unreachable(e.clone()))?;
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(JwksError::Status {
            url: url.to_string(),
            status: response.status().as_u16(),
        });
    }
    let too_large = || JwksError::TooLarge {
        origin: url.to_string(),
        max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_file(path: &PathBuf, max_bytes: usize) -> Result<Vec<u8>, JwksError> {
    let unreadable = |e: std::io::Error| JwksError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let len = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
    if len > max_bytes as u64 {
        return Err(JwksError::TooLarge {
            origin: path.display().to_string(),
            max_bytes,
        });
    }
    tokio::fs::read(path).await.map_err(unreadable)
}

/// reqwest's top-level message is often just "error sending request"; the cause says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

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

    fn kids(&self) -> BTreeSet<&str> {
        self.keys.keys().map(String::as_str).collect()
    }
}

#[derive(Default)]
struct CacheState {
    /// The last good key set; `None` until a load succeeds.
    keys: Option<Arc<KeySet>>,
    /// Why the latest load failed, when it did.
    last_error: Option<JwksError>,
    /// Loads attempted so far, to tell whether one happened while a caller waited.
    attempts: u64,
}

/// The in-memory key set and the rules for reloading it.
pub struct JwksCache {
    source: KeySource,
    state: RwLock<CacheState>,
    /// Serialises loads, so an older response can never overwrite a newer one.
    loading: tokio::sync::Mutex<()>,
    /// When the last on-demand refetch started; held while one runs (single flight).
    on_demand: tokio::sync::Mutex<Option<Instant>>,
    refetch_cooldown: Duration,
}

impl JwksCache {
    pub fn new(source: KeySource, refetch_cooldown: Duration) -> Self {
        Self {
            source,
            state: RwLock::new(CacheState::default()),
            loading: tokio::sync::Mutex::new(()),
            on_demand: tokio::sync::Mutex::new(None),
            refetch_cooldown,
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Load the key set now and, on success, replace the cached one (keys no longer published
    /// stop verifying). On failure the last good set stays. Returns the number of usable keys.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _loading = self.loading.lock().await;
        self.load_and_store().await
    }

    async fn load_and_store(&self) -> Result<usize, JwksError> {
        let result = self.source.load().await;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.attempts += 1;
        match result {
            Ok(keys) => {
                let count = keys.len();
                let previous = state.keys.as_ref().map(|k| k.kids());
                if previous.as_ref() != Some(&keys.kids()) {
                    tracing::info!(source = %self.source.describe(), kids = ?keys.kids(), "JWKS loaded");
                }
                if keys.is_empty() {
                    tracing::warn!(source = %self.source.describe(), "the JWKS has no usable key");
                }
                state.keys = Some(Arc::new(keys));
                state.last_error = None;
                Ok(count)
            }
            Err(e) => {
                tracing::warn!(error = %e, cached = state.keys.is_some(), "JWKS load failed");
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn snapshot(&self) -> (Option<Arc<KeySet>>, Option<JwksError>, u64) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        (state.keys.clone(), state.last_error.clone(), state.attempts)
    }

    /// Whether a key set has been loaded (the last good one stays after a failed reload).
    pub fn is_loaded(&self) -> bool {
        self.snapshot().0.is_some()
    }

    /// Whether the latest load failed (the cache may still hold older keys).
    pub fn last_error(&self) -> Option<JwksError> {
        self.snapshot().1
    }

    /// The key named `kid`. An unknown `kid` (or no keys yet) triggers one refetch, unless a
    /// load finished while we waited or the last on-demand refetch is within the cooldown.
    /// Unknown after that: `Invalid`, unless the source is failing, in which case the key may
    /// well exist and the answer is `KeysUnavailable`.
    pub async fn key(&self, kid: &str) -> Result<Arc<PublishedKey>, AuthError> {
        let (keys, _, seen) = self.snapshot();
        if let Some(key) = keys.as_ref().and_then(|k| k.get(kid)) {
            return Ok(key.clone());
        }
        self.refetch_on_demand(seen).await;
        let (keys, last_error, _) = self.snapshot();
        if let Some(key) = keys.as_ref().and_then(|k| k.get(kid)) {
            return Ok(key.clone());
        }
        match (keys, last_error) {
            (Some(_), None) => Err(invalid(format!("unknown kid {kid:?}"))),
            (_, Some(e)) => Err(AuthError::KeysUnavailable(e.to_string())),
            (None, None) => Err(AuthError::KeysUnavailable("JWKS not loaded yet".into())),
        }
    }

    async fn refetch_on_demand(&self, seen_attempts: u64) {
        let mut last = self.on_demand.lock().await;
        if self.snapshot().2 != seen_attempts {
            return;
        }
        if last.is_some_and(|at| at.elapsed() < self.refetch_cooldown) {
            tracing::debug!("unknown kid: refetch skipped (cooldown)");
            return;
        }
        let _loading = self.loading.lock().await;
        if self.snapshot().2 != seen_attempts {
            return;
        }
        *last = Some(Instant::now());
        tracing::debug!(source = %self.source.describe(), "unknown kid: refetching the JWKS");
        let _ = self.load_and_store().await;
    }
}

/// Load the key set now, then every `every` (every `RETRY_AFTER_FAILURE` at most while loads
/// fail), for as long as `cache` is in use. Needs a Tokio runtime.
pub fn spawn_refresh(cache: &Arc<JwksCache>, every: Duration) -> tokio::task::JoinHandle<()> {
    let cache = Arc::downgrade(cache);
    tokio::spawn(async move {
        loop {
            let Some(live) = cache.upgrade() else { break };
            let failed = live.refresh().await.is_err();
            drop(live);
            let pause = if failed {
                every.min(RETRY_AFTER_FAILURE)
            } else {
                every
            };
            tokio::time::sleep(pause).await;
        }
    })
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
