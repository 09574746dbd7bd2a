//! Where the key set comes from: the issuer's JWKS endpoint or a file, read with a size cap.

use std::path::PathBuf;

use super::{JwksError, keys::KeySet};
use crate::auth::{JwksPolicy, JwksSource};

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

    pub(super) async fn load(&self) -> Result<KeySet, JwksError> {
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
