//! From a `postgres://` URL to a connection config and a TLS connector, with libpq's meaning of
//! `sslmode`, so a URL pasted from a provider's console (Neon, Supabase, RDS) works unchanged.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only and never checks
//! certificates itself, so `sslmode` and `sslrootcert` are taken out of the URL here and turned
//! into a rustls configuration:
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers it | no |
//! | `require` | always | no (chain only if `sslrootcert` is given, as libpq does) |
//! | `verify-ca` | always | chain |
//! | `verify-full` | always | chain and host name |
//!
//! Chains are checked against `sslrootcert` (a PEM file) when given, else against the Mozilla
//! roots compiled into the binary (`webpki-roots`; `sslrootcert=system` means the same). The
//! crypto provider is named explicitly, so it does not matter which ones other crates enable.

use std::{path::PathBuf, sync::Arc};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::url::is_postgres_url;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where trusted roots come from when a certificate chain is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The Mozilla roots compiled into the binary.
    Bundled,
    /// A PEM file of CA certificates (`sslrootcert=PATH`).
    File(PathBuf),
}

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone)]
pub struct ConnectTarget {
    pub config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    pub root_certs: RootCerts,
}

/// Parse a `postgres://` URL. Errors name the parameter at fault and never echo the password.
pub fn parse(url: &str) -> Result<ConnectTarget, String> {
    if !is_postgres_url(url) {
        return Err("not a postgres:// or postgresql:// URL".into());
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ssl_mode = SslMode::Prefer;
    let mut root_file = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                ssl_mode = match percent_decode(value)?.as_str() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "invalid sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root_file = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config =
        rebuilt.parse().map_err(|e: tokio_postgres::Error| {
            match std::error::Error::source(&e) {
                Some(cause) => format!("invalid PostgreSQL URL: {cause}"),
                None => format!("invalid PostgreSQL URL: {e}"),
            }
        })?;
    let root_certs = match root_file.as_deref() {
        None | Some("system") => RootCerts::Bundled,
        Some(path) => RootCerts::File(PathBuf::from(path)),
    };
    // libpq: with a root certificate file, `require` also checks the chain.
    if ssl_mode == SslMode::Require && matches!(root_certs, RootCerts::File(_)) {
        ssl_mode = SslMode::VerifyCa;
    }
    config.ssl_mode(match ssl_mode {
        SslMode::Disable => WireSslMode::Disable,
        SslMode::Prefer => WireSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
    });
    Ok(ConnectTarget {
        config,
        ssl_mode,
        root_certs,
    })
}

/// The rustls connector for `target`'s `sslmode` (also used, but never consulted, with `disable`).
pub fn tls_connector(target: &ConnectTarget) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match target.ssl_mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = root_store(&target.root_certs)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if target.ssl_mode == SslMode::VerifyFull {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    match roots {
        RootCerts::Bundled => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        RootCerts::File(path) => {
            let mut store = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
            if store.is_empty() {
                return Err(format!(
                    "sslrootcert {}: no certificate in the file",
                    path.display()
                ));
            }
            Ok(store)
        }
    }
}

/// `prefer` / `require`: encrypt, but accept any certificate (libpq's meaning). The handshake
/// signature is still checked, so the session is bound to the key the server presented.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "invalid percent-encoding in the URL".to_owned())?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 in the URL".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_neon_url_parses_as_pasted() {
        let target = parse(
            "postgresql://neondb_owner:s3cret@ep-cool-fog-a5b6.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
        )
        .unwrap();
        assert_eq!(target.ssl_mode, SslMode::Require);
        assert_eq!(target.config.get_dbname(), Some("neondb"));
        assert_eq!(target.config.get_user(), Some("neondb_owner"));
        assert_eq!(target.config.get_ssl_mode(), WireSslMode::Require);
        assert!(tls_connector(&target).is_ok());
    }

    #[test]
    fn every_libpq_sslmode_is_accepted_and_unknown_ones_are_not() {
        for (value, mode) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Prefer),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let target = parse(&format!("postgres://u@h/db?sslmode={value}")).unwrap();
            assert_eq!(target.ssl_mode, mode, "{value}");
            assert!(tls_connector(&target).is_ok(), "{value}");
        }
        assert_eq!(
            parse("postgres://u@h/db").unwrap().ssl_mode,
            SslMode::Prefer
        );
        let err = parse("postgres://u@h/db?sslmode=bogus").unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn a_root_certificate_file_makes_require_check_the_chain() {
        let target =
            parse("postgres://u@h/db?sslrootcert=%2Fetc%2Fca.pem&sslmode=require").unwrap();
        assert_eq!(target.ssl_mode, SslMode::VerifyCa);
        assert_eq!(target.root_certs, RootCerts::File("/etc/ca.pem".into()));
        let system = parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(system.root_certs, RootCerts::Bundled);
    }

    #[test]
    fn other_parameters_reach_the_driver() {
        let target = parse(
            "postgres://u@h:6543/db?options=-c%20search_path%3Dt1&sslmode=disable&application_name=x",
        )
        .unwrap();
        assert_eq!(target.config.get_options(), Some("-c search_path=t1"));
        assert_eq!(target.config.get_application_name(), Some("x"));
        assert_eq!(target.config.get_ports(), &[6543]);
        assert!(
            parse("postgres://u@h/db?bogus=1")
                .unwrap_err()
                .contains("bogus")
        );
    }
}
