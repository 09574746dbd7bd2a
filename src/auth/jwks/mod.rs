//! Better Auth's published signing keys: parsing a JWKS into verification keys, loading it from
//! the issuer (with a timeout and a size cap) or from a file, and caching it.
//!
//! The cache keeps the last good key set while the source is unreachable. It is refreshed on a
//! schedule (`spawn_refresh`) and at once when a token names a `kid` it does not know, but such
//! on-demand refetches are single-flight and at most one per cooldown, so a flood of random
//! `kid`s cannot make us hammer the issuer.
//!
//! `keys` parses a JWKS into verification keys; `source` loads the document from a URL or a
//! file; `cache` keeps the last good key set and reloads it.

mod cache;
mod keys;
mod source;

pub use cache::{JwksCache, RETRY_AFTER_FAILURE, spawn_refresh};
pub use keys::{KeySet, MIN_RSA_BITS, PublishedKey};
pub use source::KeySource;

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
