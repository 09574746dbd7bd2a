//! Typed settings and how they are layered: built-in defaults < `config.toml` (or `--config FILE`)
//! < environment < command-line flags.
//!
//! Environment variables: the well-known names `HOST`, `PORT`, `DATABASE_URL`, `BETTER_AUTH_SECRET`,
//! `BETTER_AUTH_URL`, `CORS_ORIGINS` (comma-separated) and `RUST_LOG`, plus `TODO_<SECTION>__<KEY>` for every key
//! (for example `TODO_DATABASE__POOL_SIZE=16`). Unknown keys in the file or under the `TODO_`
//! prefix are a start-up error that names the key.
//!
//! This module is data and parsing only: it checks each value on its own (lengths, bounds, URL
//! syntax) but not what the values mean together. For `[auth]` that is `auth::AuthPolicy`, which
//! resolves the accepted algorithms, key sources and claim rules from `AuthSettings`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::jwa::TokenAlgorithm;

/// The secret shipped in `config.toml` for local development. The server warns when it runs with it.
pub const DEV_SECRET: &str = "dev-only-insecure-secret-change-me-0123456789";

/// The settings file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Shortest accepted HS256 secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub mcp: McpSettings,
    pub rate_limit: RateLimitSettings,
    pub quota: QuotaSettings,
    pub sync: SyncSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
}

/// Prometheus metrics (`GET /metrics`): whether they are recorded, and where they are served.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Record metrics. Off: nothing is recorded and `/metrics` is served nowhere.
    pub enabled: bool,
    /// A separate listen address (`127.0.0.1:9000`) serving `/metrics` without a token, so it
    /// need not be reachable from where the API is.
    pub addr: Option<String>,
    /// A bearer token that unlocks `/metrics` on the main port. Unset: the main port does not
    /// serve `/metrics` at all.
    #[serde(deserialize_with = "optional_secret")]
    pub token: Option<SecretString>,
}

/// Shortest accepted `metrics.token`, in bytes.
pub const MIN_METRICS_TOKEN_BYTES: usize = 16;

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            addr: None,
            token: None,
        }
    }
}

impl MetricsSettings {
    /// A token, when set, must be long enough to be a secret.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(token) = &self.token
            && token.expose_secret().len() < MIN_METRICS_TOKEN_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "metrics.token must be at least {MIN_METRICS_TOKEN_BYTES} bytes long"
            )));
        }
        if let Some(addr) = non_empty(&self.addr)
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "metrics.addr: {addr:?} is not an address such as 127.0.0.1:9000"
            )));
        }
        Ok(())
    }
}

/// Request budgets on the task routes and `/mcp` (`specs/operations.md`, "Rate limits and
/// quotas"): one per token subject, one per client address for requests without a valid token.
/// A rate of 0 turns that limiter off; `enabled = false` turns both off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Whether any request is rate limited.
    pub enabled: bool,
    /// Requests per second one subject (the token's `sub`) may make, sustained; 0 = unlimited.
    pub user_per_second: u32,
    /// Requests one subject may make at once after being idle.
    pub user_burst: u32,
    /// Requests per second one client address may make without a valid token; 0 = unlimited.
    pub ip_per_second: u32,
    /// Requests one client address may make at once without a valid token.
    pub ip_burst: u32,
    /// Addresses or CIDR blocks of reverse proxies whose `X-Forwarded-For` names the client.
    /// Empty: the header is never believed and the client is the TCP peer.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            user_per_second: 100,
            user_burst: 200,
            ip_per_second: 20,
            ip_burst: 40,
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitSettings {
    /// Each burst must admit at least one request, and every proxy entry must be an address or
    /// a CIDR block.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, rate, burst) in [
            ("user", self.user_per_second, self.user_burst),
            ("ip", self.ip_per_second, self.ip_burst),
        ] {
            if rate > 0 && burst == 0 {
                return Err(ConfigError::Invalid(format!(
                    "rate_limit.{key}_burst must be at least 1 (or set rate_limit.{key}_per_second = 0 to turn the limit off)"
                )));
            }
        }
        self.trusted_proxy_networks().map(drop)
    }

    /// `trusted_proxies` parsed; a bare address is a network of one.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::Invalid(format!(
                            "rate_limit.trusted_proxies: {entry:?} is not an IP address or CIDR block"
                        ))
                    })
            })
            .collect()
    }
}

/// How long sync's records are kept: idempotency keys and the change feed's tombstones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// How long a stored `Idempotency-Key` answers retries with its first response.
    pub idempotency_ttl_secs: u64,
    /// How long a deleted task's tombstone stays in the change feed; a feed cursor older than
    /// that is 410 `CURSOR_EXPIRED`.
    pub tombstone_retention_secs: u64,
    /// How often expired keys and tombstones are purged (in small batches).
    pub purge_interval_secs: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            idempotency_ttl_secs: 86_400,
            tombstone_retention_secs: 30 * 86_400,
            purge_interval_secs: 3_600,
        }
    }
}

impl SyncSettings {
    pub fn purge_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.purge_interval_secs.max(1))
    }
}

/// How much one user may store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaSettings {
    /// Most tasks one user may have; a create beyond it is refused (409 `QUOTA_EXCEEDED`).
    /// 0 = unlimited.
    pub max_tasks_per_user: u64,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self {
            max_tasks_per_user: 100_000,
        }
    }
}

/// The MCP endpoint (`/mcp`): which `Host` values it answers, and the URL clients reach it at.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Host names (or `host:port`) `/mcp` answers besides the loopback names (`localhost`,
    /// `127.0.0.1`, `::1`) and the host of `public_url`; any other `Host` is refused (DNS
    /// rebinding). `["*"]` accepts every host (only behind a proxy that checks it).
    #[serde(deserialize_with = "string_or_list")]
    pub allowed_hosts: Vec<String>,
    /// The public base URL (`https://todo.example.com`) advertised in the OAuth protected resource
    /// metadata and the `WWW-Authenticate` challenge. Unset: `http://` + the request's `Host`.
    pub public_url: Option<String>,
}

impl McpSettings {
    /// `public_url`, when set, must be an absolute http(s) URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = non_empty(&self.public_url) {
            http_url("mcp.public_url", url)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Origins allowed by CORS. Empty disables CORS headers.
    #[serde(deserialize_with = "string_or_list")]
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Time a client has to send a whole request head (request line and headers), counted from
    /// the connection's opening or from the first byte after an idle keep-alive pause. Slower
    /// clients get 408 and are disconnected.
    pub header_read_timeout_secs: u64,
    /// Time a request body may take to arrive, counted from when the server starts reading it.
    /// A stalled body is answered 408 and the connection closed.
    pub body_read_timeout_secs: u64,
    /// How long a kept-alive connection may sit idle between requests before it is closed.
    pub keep_alive_timeout_secs: u64,
    /// How long writing a response may wait for the client to read it (its receive window is
    /// full) before the connection is dropped.
    pub send_timeout_secs: u64,
    /// Most connections open at once. The server lowers it to the open-file soft limit minus a
    /// reserve for the database and the process (see `server::ConnectionLimits`); connections
    /// above it wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes; above it the answer is 431.
    pub max_header_bytes: usize,
    /// Give every request an id (`X-Request-Id`, the log span, error bodies). Only turned off to
    /// measure what they cost; error bodies then say `"request_id": "-"`.
    pub request_ids: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// A SQLite path or `sqlite://` URL, or a `postgres://` / `postgresql://` URL.
    pub url: String,
    /// SQLite: reader connections (writes use one more). PostgreSQL: most connections per instance.
    pub pool_size: u32,
    /// How long to wait for a lock (SQLite) or a free pooled connection before answering 503.
    pub busy_timeout_ms: u64,
    /// SQLite `PRAGMA synchronous`: FULL (the default: an acknowledged write survives power
    /// loss), NORMAL (survives a process crash only) or OFF.
    pub synchronous: String,
    /// SQLite: where the WAL index lives. `file` (the `-shm` file next to the database, shared
    /// with other processes such as `todo-api backup`) or `heap` (this process's memory: no
    /// `-shm` file, so nothing outside can make it fault, but no other process can open the
    /// database while the server runs). See specs/operations.md, "The -shm file".
    pub wal_index: WalIndex,
    /// PostgreSQL: how long opening a connection (TCP, TLS, authentication) may take.
    pub connect_timeout_ms: u64,
    /// PostgreSQL: server-side `statement_timeout`; the client gives up one second later.
    /// 0 disables both.
    pub statement_timeout_ms: u64,
}

/// Where SQLite keeps the WAL index (`database.wal_index`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalIndex {
    /// The `-shm` file, memory-mapped and shared between processes.
    #[default]
    File,
    /// Heap memory of this process (SQLite's `unix-excl` VFS): the database is locked to it.
    Heap,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Shared HS256 secret (`BETTER_AUTH_SECRET`). At least 32 bytes; an empty value means none.
    #[serde(deserialize_with = "optional_secret")]
    pub secret: Option<SecretString>,
    /// Better Auth's base URL (`BETTER_AUTH_URL`): the JWKS is then `{url}/api/auth/jwks` and the
    /// default issuer and audience are the URL's origin.
    pub better_auth_url: Option<String>,
    /// The JWKS endpoint, when it is not the one `better_auth_url` implies.
    pub jwks_url: Option<String>,
    /// A JWKS file instead of an endpoint (offline and air-gapped set-ups); re-read on refresh.
    pub jwks_path: Option<PathBuf>,
    /// Expected `iss` claim (default: the origin of `better_auth_url`; unchecked without either).
    pub issuer: Option<String>,
    /// Accepted `aud` values; a token must carry at least one (default: the origin of
    /// `better_auth_url`; unchecked without either).
    #[serde(deserialize_with = "string_or_list")]
    pub audience: Vec<String>,
    /// Accepted signing algorithms. Empty means EdDSA, ES256, ES512, RS256 and PS256 when a JWKS
    /// source is set, plus HS256 when a secret is (but not the development secret next to a JWKS);
    /// `auth::AuthPolicy` resolves it.
    #[serde(deserialize_with = "algorithm_list")]
    pub algorithms: Vec<TokenAlgorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// How often the JWKS is reloaded, in seconds.
    pub jwks_refresh_secs: u64,
    /// Least time between two JWKS refetches caused by tokens with an unknown `kid`, in seconds.
    pub jwks_refetch_cooldown_secs: u64,
    /// Time limit of one JWKS request, connecting included, in seconds.
    pub jwks_timeout_secs: u64,
    /// Largest JWKS document accepted, in bytes.
    pub jwks_max_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// An `EnvFilter` directive such as `info` or `todo_api=debug,info` (`RUST_LOG` overrides it).
    pub filter: String,
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            cors_origins: vec!["http://localhost:3000".into()],
            max_body_bytes: 64 * 1024,
            shutdown_timeout_secs: 10,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            keep_alive_timeout_secs: 30,
            send_timeout_secs: 30,
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            request_ids: true,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "data/todo.db".into(),
            pool_size: 8,
            busy_timeout_ms: 5000,
            synchronous: "FULL".into(),
            wal_index: WalIndex::File,
            connect_timeout_ms: 5000,
            statement_timeout_ms: 5000,
        }
    }
}

impl Default for AuthSettings {
    /// The development secret, so the server runs with zero setup. It stops counting once a
    /// JWKS source is set (see `auth::AuthPolicy`); an empty secret removes it.
    fn default() -> Self {
        Self {
            secret: Some(SecretString::from(DEV_SECRET)),
            better_auth_url: None,
            jwks_url: None,
            jwks_path: None,
            issuer: None,
            audience: Vec::new(),
            algorithms: Vec::new(),
            leeway_secs: 60,
            jwks_refresh_secs: 300,
            jwks_refetch_cooldown_secs: 10,
            jwks_timeout_secs: 5,
            jwks_max_bytes: 64 * 1024,
        }
    }
}

impl AuthSettings {
    /// Checks on each value alone. What the values mean together (the JWKS source, the
    /// algorithms each needing its key source) is checked by `auth::AuthPolicy::from_settings`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.secret
            && secret.expose_secret().len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "auth.secret (BETTER_AUTH_SECRET) must be at least {MIN_SECRET_BYTES} bytes long"
            )));
        }
        if let Some(url) = non_empty(&self.better_auth_url) {
            http_url("auth.better_auth_url (BETTER_AUTH_URL)", url)?;
        }
        for (key, value) in [
            ("auth.jwks_refresh_secs", self.jwks_refresh_secs),
            ("auth.jwks_timeout_secs", self.jwks_timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        if self.jwks_max_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "auth.jwks_max_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    pub fn jwks_refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_secs)
    }

    pub fn jwks_refetch_cooldown(&self) -> Duration {
        Duration::from_secs(self.jwks_refetch_cooldown_secs)
    }

    pub fn jwks_timeout(&self) -> Duration {
        Duration::from_secs(self.jwks_timeout_secs)
    }
}

/// The trimmed value, or `None` when it is unset or blank (`BETTER_AUTH_URL=` means unset).
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `value` parsed as an absolute `http://` or `https://` URL; errors name `key`.
pub(crate) fn http_url(key: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| ConfigError::Invalid(format!("{key}: {value:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::Invalid(format!(
            "{key}: {value:?} is not an http:// or https:// URL"
        )));
    }
    Ok(url)
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Values given on the command line; each one set wins over every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database_url: Option<String>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: {0}")]
    Invalid(String),
    #[error("configuration error: {0}")]
    Figment(#[from] Box<figment::Error>),
}

impl Settings {
    /// Load the layers. `file` is `--config FILE` when given (it must exist), else `config.toml`
    /// in the working directory when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            // The default file is optional: without it the built-in defaults apply.
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        figment = figment
            .merge(Env::prefixed("TODO_").split("__"))
            .merge(
                Env::raw()
                    .only(&["HOST", "PORT", "CORS_ORIGINS"])
                    .map(|k| format!("server.{}", k.as_str().to_ascii_lowercase()).into()),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(
                Env::raw()
                    .only(&["BETTER_AUTH_SECRET"])
                    .map(|_| "auth.secret".into()),
            )
            .merge(
                Env::raw()
                    .only(&["BETTER_AUTH_URL"])
                    .map(|_| "auth.better_auth_url".into()),
            )
            .merge(Env::raw().only(&["RUST_LOG"]).map(|_| "log.filter".into()));
        if let Some(host) = &overrides.host {
            figment = figment.merge(Serialized::default("server.host", host));
        }
        if let Some(port) = overrides.port {
            figment = figment.merge(Serialized::default("server.port", port));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that serde cannot express, on each value alone. Callers then resolve
    /// `auth::AuthPolicy` from `auth`, which checks what the auth values mean together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.auth.validate()?;
        self.mcp.validate()?;
        self.rate_limit.validate()?;
        self.server.validate()?;
        self.metrics.validate()?;
        if self.database.pool_size == 0 {
            return Err(ConfigError::Invalid(
                "database.pool_size must be at least 1".into(),
            ));
        }
        if self.database.connect_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "database.connect_timeout_ms must be at least 1".into(),
            ));
        }
        if self.database.busy_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "database.busy_timeout_ms must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl ServerSettings {
    /// Smallest and largest accepted `max_header_bytes`: a browser's ordinary request head fits
    /// in the smallest; the largest stays under hyper's read buffer (about 400 KiB).
    pub const MAX_HEADER_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=256 * 1024;

    /// Every timeout at least 1 s, at least one connection, a sane header size.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "server.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            ("server.body_read_timeout_secs", self.body_read_timeout_secs),
            (
                "server.keep_alive_timeout_secs",
                self.keep_alive_timeout_secs,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "server.max_connections must be at least 1".into(),
            ));
        }
        if !Self::MAX_HEADER_BYTES_RANGE.contains(&self.max_header_bytes) {
            return Err(ConfigError::Invalid(format!(
                "server.max_header_bytes must be between {} and {}",
                Self::MAX_HEADER_BYTES_RANGE.start(),
                Self::MAX_HEADER_BYTES_RANGE.end()
            )));
        }
        Ok(())
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }

    pub fn keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.keep_alive_timeout_secs)
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.send_timeout_secs)
    }
}

impl DatabaseSettings {
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.statement_timeout_ms)
    }
}

/// A secret, where an empty one (`BETTER_AUTH_SECRET=`) means no secret at all.
fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let secret = Option::<SecretString>::deserialize(d)?;
    Ok(secret.filter(|s| !s.expose_secret().trim().is_empty()))
}

/// A list of JWA algorithm names, as `string_or_list` accepts them.
fn algorithm_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TokenAlgorithm>, D::Error> {
    let mut algorithms = Vec::new();
    for name in string_or_list(d)? {
        let alg = name
            .parse::<TokenAlgorithm>()
            .map_err(serde::de::Error::custom)?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    Ok(algorithms)
}

/// Accept `["a", "b"]` or `"a,b"` (the form environment variables take).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(configure: impl FnOnce(&mut AuthSettings)) -> AuthSettings {
        let mut settings = AuthSettings {
            secret: None,
            ..AuthSettings::default()
        };
        configure(&mut settings);
        settings
    }

    #[test]
    fn malformed_auth_values_are_configuration_errors() {
        let cases = [
            ("short secret", auth(|s| s.secret = Some("short".into()))),
            (
                "relative URL",
                auth(|s| s.better_auth_url = Some("localhost:3000".into())),
            ),
            (
                "not http",
                auth(|s| s.better_auth_url = Some("file:///etc/jwks.json".into())),
            ),
            ("no refresh", auth(|s| s.jwks_refresh_secs = 0)),
            ("no timeout", auth(|s| s.jwks_timeout_secs = 0)),
            ("tiny cap", auth(|s| s.jwks_max_bytes = 10)),
        ];
        for (what, settings) in cases {
            assert!(settings.validate().is_err(), "{what}");
        }
        assert!(auth(|_| {}).validate().is_ok(), "no source is valid config");
        assert!(AuthSettings::default().validate().is_ok());
        assert!(
            auth(|s| s.better_auth_url = Some(" ".into()))
                .validate()
                .is_ok(),
            "blank means unset"
        );
    }

    #[test]
    fn metrics_settings_need_a_long_token_and_a_socket_address() {
        let metrics = |token: Option<&str>, addr: Option<&str>| MetricsSettings {
            enabled: true,
            addr: addr.map(str::to_owned),
            token: token.map(SecretString::from),
        };
        assert!(metrics(None, None).validate().is_ok());
        assert!(
            metrics(Some("sixteen-bytes-ok"), Some("127.0.0.1:9000"))
                .validate()
                .is_ok()
        );
        assert!(metrics(Some("short"), None).validate().is_err());
        assert!(metrics(None, Some("localhost")).validate().is_err());
        assert!(
            metrics(None, Some(" ")).validate().is_ok(),
            "blank means unset"
        );
        let defaults = Settings::default();
        assert_eq!(defaults.database.synchronous, "FULL");
        assert!(defaults.metrics.enabled && defaults.metrics.token.is_none());
    }

    #[test]
    fn algorithms_parse_from_a_list_or_a_comma_separated_string_without_duplicates() {
        let parse = |value: &str| {
            Figment::new()
                .merge(Toml::string(&format!("[auth]\nalgorithms = {value}\n")))
                .extract::<Settings>()
                .map(|s| s.auth.algorithms)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            parse(r#""EdDSA, HS256,EdDSA""#).unwrap(),
            [TokenAlgorithm::EdDsa, TokenAlgorithm::Hs256]
        );
        assert_eq!(parse(r#"["ES512"]"#).unwrap(), [TokenAlgorithm::Es512]);
        let error = parse(r#""none""#).unwrap_err();
        assert!(error.contains(r#"unsupported algorithm "none""#), "{error}");
    }
}
