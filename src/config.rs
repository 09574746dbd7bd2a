//! Typed settings and how they are layered: built-in defaults < `config.toml` (or `--config FILE`)
//! < environment < command-line flags.
//!
//! Environment variables: the well-known names `HOST`, `PORT`, `DATABASE_URL`, `BETTER_AUTH_SECRET`,
//! `BETTER_AUTH_URL`, `CORS_ORIGINS` (comma-separated) and `RUST_LOG`, plus `TODO_<SECTION>__<KEY>` for every key
//! (for example `TODO_DATABASE__POOL_SIZE=16`). Unknown keys in the file or under the `TODO_`
//! prefix are a start-up error that names the key.

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

use crate::auth::TokenAlgorithm;

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
    pub log: LogSettings,
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
    /// SQLite `PRAGMA synchronous`: NORMAL, FULL or OFF.
    pub synchronous: String,
    /// PostgreSQL: how long opening a connection (TCP, TLS, authentication) may take.
    pub connect_timeout_ms: u64,
    /// PostgreSQL: server-side `statement_timeout`; the client gives up one second later.
    /// 0 disables both.
    pub statement_timeout_ms: u64,
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
    /// source is set, plus HS256 when a secret is (but not the development secret next to a JWKS).
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

/// Where the JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    Url(reqwest::Url),
    File(PathBuf),
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
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "data/todo.db".into(),
            pool_size: 8,
            busy_timeout_ms: 5000,
            synchronous: "NORMAL".into(),
            connect_timeout_ms: 5000,
            statement_timeout_ms: 5000,
        }
    }
}

impl Default for AuthSettings {
    /// The development secret, so the server runs with zero setup. It stops counting once a
    /// JWKS source is set (see `accepted_algorithms`); an empty secret removes it.
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
    /// Checks that serde cannot express (they do not require a token source: see
    /// `require_token_source`, which only the server needs).
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
        let jwks = self.jwks_source()?;
        if self.algorithms.contains(&TokenAlgorithm::Hs256) && self.secret.is_none() {
            return Err(ConfigError::Invalid(
                "auth.algorithms lists HS256 but no secret is set: set BETTER_AUTH_SECRET".into(),
            ));
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| **a != TokenAlgorithm::Hs256)
            && jwks.is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "auth.algorithms lists {alg} but no JWKS source is set: set BETTER_AUTH_URL, \
                 auth.jwks_url or auth.jwks_path"
            )));
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

    /// The server needs at least one way to verify tokens.
    pub fn require_token_source(&self) -> Result<(), ConfigError> {
        if self.accepted_algorithms().is_empty() {
            return Err(ConfigError::Invalid(
                "no way to verify tokens: set BETTER_AUTH_URL (Better Auth's JWKS; or \
                 auth.jwks_url, or auth.jwks_path for a JWKS file) for Better Auth's default \
                 EdDSA tokens, and/or BETTER_AUTH_SECRET (auth.secret) for HS256 tokens"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The JWKS to trust: `jwks_path`, else `jwks_url`, else `{better_auth_url}/api/auth/jwks`.
    pub fn jwks_source(&self) -> Result<Option<JwksSource>, ConfigError> {
        let path = self
            .jwks_path
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        match (
            path,
            non_empty(&self.jwks_url),
            non_empty(&self.better_auth_url),
        ) {
            (Some(_), Some(_), _) => Err(ConfigError::Invalid(
                "set auth.jwks_url or auth.jwks_path, not both".into(),
            )),
            (Some(path), None, _) => Ok(Some(JwksSource::File(path.clone()))),
            (None, Some(url), _) => Ok(Some(JwksSource::Url(http_url("auth.jwks_url", url)?))),
            (None, None, Some(base)) => {
                let mut url = http_url("auth.better_auth_url (BETTER_AUTH_URL)", base)?;
                // Better Auth accepts its URL with or without its `/api/auth` base path.
                let path = url.path().trim_end_matches('/');
                let jwks = match path.ends_with("/api/auth") {
                    true => format!("{path}/jwks"),
                    false => format!("{path}/api/auth/jwks"),
                };
                url.set_path(&jwks);
                url.set_query(None);
                url.set_fragment(None);
                Ok(Some(JwksSource::Url(url)))
            }
            (None, None, None) => Ok(None),
        }
    }

    /// The origin of `better_auth_url`: what Better Auth puts in `iss` and `aud` by default.
    fn better_auth_origin(&self) -> Option<String> {
        let url = reqwest::Url::parse(non_empty(&self.better_auth_url)?).ok()?;
        Some(url.origin().ascii_serialization())
    }

    /// The `iss` every token must carry, if any.
    pub fn expected_issuer(&self) -> Option<String> {
        non_empty(&self.issuer)
            .map(str::to_owned)
            .or_else(|| self.better_auth_origin())
    }

    /// The `aud` values a token must carry one of, if any.
    pub fn expected_audience(&self) -> Vec<String> {
        if self.audience.is_empty() {
            self.better_auth_origin().into_iter().collect()
        } else {
            self.audience.clone()
        }
    }

    /// The algorithms the server accepts: `algorithms` when set, else every asymmetric one when a
    /// JWKS source is set, plus HS256 when a secret is. The development secret from
    /// `config.toml` does not count next to a JWKS: a deployment that points at Better Auth must
    /// not also trust a secret published in this repository (list HS256 explicitly to opt in).
    pub fn accepted_algorithms(&self) -> Vec<TokenAlgorithm> {
        let has_jwks = matches!(self.jwks_source(), Ok(Some(_)));
        let has_secret = self.secret.is_some();
        if !self.algorithms.is_empty() {
            return self
                .algorithms
                .iter()
                .copied()
                .filter(|alg| match alg {
                    TokenAlgorithm::Hs256 => has_secret,
                    _ => has_jwks,
                })
                .collect();
        }
        let mut accepted = Vec::new();
        if has_secret && !(has_jwks && self.uses_dev_secret()) {
            accepted.push(TokenAlgorithm::Hs256);
        }
        if has_jwks {
            accepted.extend(TokenAlgorithm::ASYMMETRIC);
        }
        accepted
    }

    /// True when the secret is the one committed for development.
    pub fn uses_dev_secret(&self) -> bool {
        self.secret
            .as_ref()
            .is_some_and(|s| s.expose_secret() == DEV_SECRET)
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

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn http_url(key: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
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

    /// Checks that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.auth.validate()?;
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

    /// True when the server would trust HS256 tokens signed with the secret committed for
    /// development (anyone can mint those).
    pub fn trusts_dev_secret(&self) -> bool {
        self.auth.uses_dev_secret()
            && self
                .auth
                .accepted_algorithms()
                .contains(&crate::auth::TokenAlgorithm::Hs256)
    }

    /// The development secret is public: serving with it is allowed on loopback only.
    pub fn check_dev_secret_exposure(&self) -> Result<(), ConfigError> {
        let loopback = match self.server.host.as_str() {
            "localhost" => true,
            host => host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
        };
        if self.trusts_dev_secret() && !loopback {
            return Err(ConfigError::Invalid(format!(
                "refusing to listen on {} with the development secret from config.toml: \
                 set BETTER_AUTH_SECRET (or BETTER_AUTH_URL) first",
                self.server.host
            )));
        }
        Ok(())
    }

    /// True when the server would run with the secret committed for development.
    pub fn uses_dev_secret(&self) -> bool {
        self.auth.uses_dev_secret()
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
