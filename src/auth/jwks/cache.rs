//! The in-memory key set: the last good one kept, refreshed on a schedule and, single-flight and
//! at most once per cooldown, when a token names an unknown `kid`.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use super::{
    JwksError,
    keys::{KeySet, PublishedKey},
    source::KeySource,
};
use crate::auth::{AuthError, invalid};

/// After a failed load, the scheduled refresh retries at least this often.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

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
