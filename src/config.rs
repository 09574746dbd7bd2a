//! Typed settings and how they are layered: built-in defaults < `config.toml` (or `--config FILE`)
//! < environment < command-line flags.
//!
//! Environment variables: the well-known names `HOST`, `PORT`, `DATABASE_URL`, `BETTER_AUTH_SECRET`,
//! `CORS_ORIGINS` (comma-separated) and `RUST_LOG`, plus `TODO_<SECTION>__<KEY>` for every key
//! (for example `TODO_DATABASE__POOL_SIZE=16`). Unknown keys in the file or under the `TODO_`
//! prefix are a start-up error that names the key.

use std::{path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// The secret shipped in `config.toml` for local development. The server warns when it runs with it.
pub const DEV_SECRET: &str = "dev-only-insecure-secret-change-me-0123456789";

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
    /// A SQLite path or `sqlite://` URL.
    pub url: String,
    /// Reader connections in the pool.
    pub pool_size: u32,
    /// How long to wait for a lock or a connection before answering 503.
    pub busy_timeout_ms: u64,
    /// SQLite `PRAGMA synchronous`: NORMAL, FULL or OFF.
    pub synchronous: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Shared HS256 secret (`BETTER_AUTH_SECRET`). At least 32 bytes.
    pub secret: Option<SecretString>,
    /// Expected `iss` claim, when set.
    pub issuer: Option<String>,
    /// Accepted `aud` values, when set (a token must carry at least one).
    #[serde(deserialize_with = "string_or_list")]
    pub audience: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
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
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secret: Some(SecretString::from(DEV_SECRET)),
            issuer: None,
            audience: Vec::new(),
            leeway_secs: 60,
        }
    }
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
            None => figment = figment.merge(Toml::file_exact("config.toml")),
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
        if let Some(secret) = &self.auth.secret
            && secret.expose_secret().len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "auth.secret (BETTER_AUTH_SECRET) must be at least {MIN_SECRET_BYTES} bytes long"
            )));
        }
        if self.auth.secret.is_none() {
            return Err(ConfigError::Invalid(
                "no way to verify tokens: set BETTER_AUTH_SECRET (auth.secret)".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::Invalid(
                "database.pool_size must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// True when the server would run with the secret committed for development.
    pub fn uses_dev_secret(&self) -> bool {
        self.auth
            .secret
            .as_ref()
            .is_some_and(|s| s.expose_secret() == DEV_SECRET)
    }
}

impl DatabaseSettings {
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }
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
