//! What the `[auth]` settings mean, resolved once: the accepted algorithms, where the keys come
//! from (the HS256 secret, a JWKS URL or file) and the claim rules (issuer, audience, leeway),
//! plus the checks on the development secret. `config` only holds and parses the settings;
//! `TokenVerifier` is built from the `AuthPolicy` resolved here.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use secrecy::{ExposeSecret, SecretString};

use super::{ClaimRules, TokenAlgorithm};
use crate::config::{AuthSettings, ConfigError, DEV_SECRET, http_url, non_empty};

/// Where the JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    Url(reqwest::Url),
    File(PathBuf),
}

/// The JWKS to trust and how to load it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksPolicy {
    pub source: JwksSource,
    /// How often the key set is reloaded.
    pub refresh: Duration,
    /// Least time between two refetches caused by unknown `kid`s.
    pub refetch_cooldown: Duration,
    /// Time limit of one request, connecting included.
    pub timeout: Duration,
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
}

/// Which tokens the server accepts, resolved from `AuthSettings`.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    accepted: Vec<TokenAlgorithm>,
    /// The HS256 key, only when HS256 is accepted.
    hs256_secret: Option<SecretString>,
    /// Only when a JWKS source is set (so only when some asymmetric algorithm is accepted).
    jwks: Option<JwksPolicy>,
    rules: ClaimRules,
    /// The configured secret is the one committed for development (accepted or not).
    dev_secret: bool,
}

impl AuthPolicy {
    /// Resolve the policy. Fails, with the message `Settings::load` has always given, when the
    /// JWKS settings cannot be resolved or `algorithms` names an algorithm without its key source.
    /// Having no token source at all is not an error here (`token` and `migrate` need none); the
    /// server checks that with `require_token_source`.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, ConfigError> {
        let jwks = jwks_source(settings)?;
        if settings.algorithms.contains(&TokenAlgorithm::Hs256) && settings.secret.is_none() {
            return Err(ConfigError::Invalid(
                "auth.algorithms lists HS256 but no secret is set: set BETTER_AUTH_SECRET".into(),
            ));
        }
        if let Some(alg) = settings
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
        let dev_secret = settings
            .secret
            .as_ref()
            .is_some_and(|s| s.expose_secret() == DEV_SECRET);
        let accepted = accepted_algorithms(settings, jwks.is_some(), dev_secret);
        Ok(Self {
            hs256_secret: settings
                .secret
                .clone()
                .filter(|_| accepted.contains(&TokenAlgorithm::Hs256)),
            accepted,
            jwks: jwks.map(|source| JwksPolicy {
                source,
                refresh: settings.jwks_refresh(),
                refetch_cooldown: settings.jwks_refetch_cooldown(),
                timeout: settings.jwks_timeout(),
                max_bytes: settings.jwks_max_bytes,
            }),
            rules: ClaimRules {
                issuer: settings.expected_issuer(),
                audience: settings.expected_audience(),
                leeway_secs: settings.leeway_secs.min(i64::MAX as u64) as i64,
            },
            dev_secret,
        })
    }

    /// A policy that accepts no token: no algorithm, no key.
    pub fn reject_all() -> Self {
        Self {
            accepted: Vec::new(),
            hs256_secret: None,
            jwks: None,
            rules: ClaimRules {
                issuer: None,
                audience: Vec::new(),
                leeway_secs: 0,
            },
            dev_secret: false,
        }
    }

    /// The accepted algorithms.
    pub fn accepted(&self) -> &[TokenAlgorithm] {
        &self.accepted
    }

    pub fn accepts(&self, alg: TokenAlgorithm) -> bool {
        self.accepted.contains(&alg)
    }

    /// The HS256 secret, when HS256 is accepted.
    pub fn hs256_secret(&self) -> Option<&SecretString> {
        self.hs256_secret.as_ref()
    }

    /// The JWKS, when a source is set.
    pub fn jwks(&self) -> Option<&JwksPolicy> {
        self.jwks.as_ref()
    }

    /// The claim checks every token passes.
    pub fn rules(&self) -> &ClaimRules {
        &self.rules
    }

    /// The server needs at least one way to verify tokens.
    pub fn require_token_source(&self) -> Result<(), ConfigError> {
        if self.accepted.is_empty() {
            return Err(ConfigError::Invalid(
                "no way to verify tokens: set BETTER_AUTH_URL (Better Auth's JWKS; or \
                 auth.jwks_url, or auth.jwks_path for a JWKS file) for Better Auth's default \
                 EdDSA tokens, and/or BETTER_AUTH_SECRET (auth.secret) for HS256 tokens"
                    .into(),
            ));
        }
        Ok(())
    }

    /// True when the configured secret is the one committed for development.
    pub fn uses_dev_secret(&self) -> bool {
        self.dev_secret
    }

    /// True when HS256 tokens signed with the development secret would be accepted (anyone can
    /// mint those).
    pub fn trusts_dev_secret(&self) -> bool {
        self.dev_secret && self.accepts(TokenAlgorithm::Hs256)
    }

    /// True when the development secret is configured but ignored because a JWKS source is set.
    pub fn ignores_dev_secret(&self) -> bool {
        self.dev_secret && self.jwks.is_some() && !self.accepts(TokenAlgorithm::Hs256)
    }

    /// The development secret is public: serving with it is allowed on loopback only.
    pub fn check_dev_secret_exposure(&self, host: &str) -> Result<(), ConfigError> {
        let loopback = match host {
            "localhost" => true,
            host => host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        };
        if self.trusts_dev_secret() && !loopback {
            return Err(ConfigError::Invalid(format!(
                "refusing to listen on {host} with the development secret from config.toml: \
                 set BETTER_AUTH_SECRET (or BETTER_AUTH_URL) first"
            )));
        }
        Ok(())
    }
}

/// The claim derivations, as methods on the settings they read (callers and tests ask
/// `settings.auth.expected_issuer()`); they are auth policy, so they live here, not in `config`.
impl AuthSettings {
    /// The `iss` every token must carry, if any: `issuer`, else the origin of `better_auth_url`.
    pub fn expected_issuer(&self) -> Option<String> {
        non_empty(&self.issuer)
            .map(str::to_owned)
            .or_else(|| better_auth_origin(self))
    }

    /// The `aud` values a token must carry one of, if any: `audience`, else the origin of
    /// `better_auth_url`.
    pub fn expected_audience(&self) -> Vec<String> {
        if self.audience.is_empty() {
            better_auth_origin(self).into_iter().collect()
        } else {
            self.audience.clone()
        }
    }
}

/// The origin of `better_auth_url`: what Better Auth puts in `iss` and `aud` by default.
fn better_auth_origin(settings: &AuthSettings) -> Option<String> {
    let url = reqwest::Url::parse(non_empty(&settings.better_auth_url)?).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The JWKS to trust: `jwks_path`, else `jwks_url`, else `{better_auth_url}/api/auth/jwks`.
fn jwks_source(settings: &AuthSettings) -> Result<Option<JwksSource>, ConfigError> {
    let path = settings
        .jwks_path
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    match (
        path,
        non_empty(&settings.jwks_url),
        non_empty(&settings.better_auth_url),
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

/// `algorithms` when set (each has its key source: `from_settings` checked), else every
/// asymmetric one when a JWKS source is set, plus HS256 when a secret is. The development secret
/// from `config.toml` does not count next to a JWKS: a deployment that points at Better Auth must
/// not also trust a secret published in this repository (list HS256 explicitly to opt in).
fn accepted_algorithms(
    settings: &AuthSettings,
    has_jwks: bool,
    dev_secret: bool,
) -> Vec<TokenAlgorithm> {
    if !settings.algorithms.is_empty() {
        return settings.algorithms.clone();
    }
    let mut accepted = Vec::new();
    if settings.secret.is_some() && !(has_jwks && dev_secret) {
        accepted.push(TokenAlgorithm::Hs256);
    }
    if has_jwks {
        accepted.extend(TokenAlgorithm::ASYMMETRIC);
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(configure: impl FnOnce(&mut AuthSettings)) -> AuthSettings {
        let mut settings = AuthSettings {
            secret: None,
            ..AuthSettings::default()
        };
        configure(&mut settings);
        settings
    }

    fn policy(settings: &AuthSettings) -> AuthPolicy {
        AuthPolicy::from_settings(settings).unwrap()
    }

    fn jwks_url(settings: &AuthSettings) -> String {
        match policy(settings).jwks().map(|j| &j.source) {
            Some(JwksSource::Url(url)) => url.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn better_auth_url_gives_the_jwks_url_and_the_default_issuer_and_audience() {
        for (base, jwks) in [
            (
                "http://localhost:3000",
                "http://localhost:3000/api/auth/jwks",
            ),
            (
                "http://localhost:3000/",
                "http://localhost:3000/api/auth/jwks",
            ),
            (
                "https://app.example/api/auth",
                "https://app.example/api/auth/jwks",
            ),
            (
                "https://app.example/api/auth/",
                "https://app.example/api/auth/jwks",
            ),
            (
                "https://app.example:8443/auth-app",
                "https://app.example:8443/auth-app/api/auth/jwks",
            ),
        ] {
            let s = settings(|s| s.better_auth_url = Some(base.into()));
            assert_eq!(jwks_url(&s), jwks, "{base}");
            let origin = base.split('/').take(3).collect::<Vec<_>>().join("/");
            assert_eq!(policy(&s).rules().issuer, Some(origin.clone()), "{base}");
            assert_eq!(policy(&s).rules().audience, vec![origin], "{base}");
        }
        let explicit = settings(|s| {
            s.better_auth_url = Some("https://app.example".into());
            s.jwks_url = Some("https://keys.example/jwks.json".into());
            s.issuer = Some("https://issuer.example".into());
            s.audience = vec!["a".into(), "b".into()];
        });
        assert_eq!(jwks_url(&explicit), "https://keys.example/jwks.json");
        assert_eq!(
            policy(&explicit).rules().issuer.as_deref(),
            Some("https://issuer.example")
        );
        assert_eq!(policy(&explicit).rules().audience, ["a", "b"]);
        assert_eq!(
            explicit.expected_issuer(),
            policy(&explicit).rules().issuer,
            "the settings' derivation is the policy's"
        );
    }

    #[test]
    fn the_default_algorithms_follow_the_configured_sources() {
        use TokenAlgorithm::*;
        let real_secret = Some("a-real-secret-that-is-long-enough-0123456789".into());
        let jwks = Some("http://localhost:3000".to_owned());
        let cases = [
            (settings(|_| {}), vec![]),
            (settings(|s| s.secret = real_secret.clone()), vec![Hs256]),
            (
                settings(|s| s.better_auth_url = jwks.clone()),
                vec![EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            (
                settings(|s| {
                    s.better_auth_url = jwks.clone();
                    s.secret = real_secret.clone();
                }),
                vec![Hs256, EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            // The development secret alone works (zero-setup runs), but not next to a JWKS...
            (AuthSettings::default(), vec![Hs256]),
            (
                AuthSettings {
                    better_auth_url: jwks.clone(),
                    ..AuthSettings::default()
                },
                vec![EdDsa, Es256, Es512, Rs256, Ps256],
            ),
            // ...unless listed explicitly.
            (
                AuthSettings {
                    better_auth_url: jwks.clone(),
                    algorithms: vec![Hs256, EdDsa],
                    ..AuthSettings::default()
                },
                vec![Hs256, EdDsa],
            ),
        ];
        for (settings, expected) in cases {
            let policy = policy(&settings);
            assert_eq!(policy.accepted(), expected, "{settings:?}");
            assert_eq!(
                policy.hs256_secret().is_some(),
                expected.contains(&Hs256),
                "{settings:?}"
            );
            assert_eq!(policy.require_token_source().is_ok(), !expected.is_empty());
        }
        let error = policy(&settings(|_| {}))
            .require_token_source()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("configuration error: no way to verify tokens"));
    }

    #[test]
    fn settings_the_policy_cannot_resolve_are_configuration_errors() {
        let cases = [
            (
                "both a URL and a file",
                settings(|s| {
                    s.jwks_url = Some("https://a.example/jwks".into());
                    s.jwks_path = Some("jwks.json".into());
                }),
                "not both",
            ),
            (
                "JWKS URL not http",
                settings(|s| s.jwks_url = Some("file:///etc/jwks.json".into())),
                "auth.jwks_url",
            ),
            (
                "Better Auth URL not absolute",
                settings(|s| s.better_auth_url = Some("localhost:3000".into())),
                "auth.better_auth_url",
            ),
            (
                "HS256 without a secret",
                settings(|s| s.algorithms = vec![TokenAlgorithm::Hs256]),
                "auth.algorithms lists HS256 but no secret is set",
            ),
            (
                "EdDSA without a JWKS",
                settings(|s| s.algorithms = vec![TokenAlgorithm::EdDsa]),
                "auth.algorithms lists EdDSA but no JWKS source is set",
            ),
        ];
        for (what, settings, message) in cases {
            let error = AuthPolicy::from_settings(&settings)
                .unwrap_err()
                .to_string();
            assert!(error.contains(message), "{what}: {error}");
        }
        assert!(
            AuthPolicy::from_settings(&settings(|_| {})).is_ok(),
            "no source resolves (not for serving)"
        );
    }

    #[test]
    fn the_development_secret_is_trusted_alone_and_on_loopback_only() {
        let dev = policy(&AuthSettings::default());
        assert!(dev.uses_dev_secret() && dev.trusts_dev_secret() && !dev.ignores_dev_secret());
        for host in ["127.0.0.1", "::1", "localhost"] {
            assert!(dev.check_dev_secret_exposure(host).is_ok(), "{host}");
        }
        let error = dev.check_dev_secret_exposure("0.0.0.0").unwrap_err();
        assert!(error.to_string().contains("development secret"), "{error}");

        let next_to_jwks = policy(&AuthSettings {
            better_auth_url: Some("http://localhost:3000".into()),
            ..AuthSettings::default()
        });
        assert!(next_to_jwks.uses_dev_secret() && !next_to_jwks.trusts_dev_secret());
        assert!(next_to_jwks.ignores_dev_secret());
        assert!(next_to_jwks.check_dev_secret_exposure("0.0.0.0").is_ok());

        let real = policy(&settings(|s| {
            s.secret = Some("a-real-secret-that-is-long-enough-0123456789".into())
        }));
        assert!(!real.uses_dev_secret() && !real.trusts_dev_secret());
        assert!(real.check_dev_secret_exposure("0.0.0.0").is_ok());
    }

    #[test]
    fn reject_all_accepts_nothing_and_has_no_key() {
        let none = AuthPolicy::reject_all();
        assert!(none.accepted().is_empty());
        assert!(none.hs256_secret().is_none() && none.jwks().is_none());
        assert!(none.require_token_source().is_err());
    }
}
