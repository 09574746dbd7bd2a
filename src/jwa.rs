//! The JWS signing algorithm names this service knows (RFC 7518 "JWA" names), as plain data: the
//! settings parse `auth.algorithms` into them, and `auth` decides what each one means (which key
//! verifies it, with which library). Nothing here verifies anything.

use std::{fmt, str::FromStr};

/// The signing algorithms we can verify: HS256 with the shared secret, and every asymmetric
/// one Better Auth's `jwt` plugin can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenAlgorithm {
    Hs256,
    EdDsa,
    Es256,
    Es512,
    Rs256,
    Ps256,
}

impl TokenAlgorithm {
    /// The asymmetric algorithms, in Better Auth's order (EdDSA is its default).
    pub const ASYMMETRIC: [Self; 5] = [
        Self::EdDsa,
        Self::Es256,
        Self::Es512,
        Self::Rs256,
        Self::Ps256,
    ];

    /// The JWA name, as in a token header or a JWK's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Es512 => "ES512",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }
}

impl FromStr for TokenAlgorithm {
    type Err = String;

    /// Exact JWA names only: `none`, `hs256` or `ES384` are not algorithms we accept.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Hs256]
            .into_iter()
            .chain(Self::ASYMMETRIC)
            .find(|alg| alg.name() == name)
            .ok_or_else(|| {
                format!("unsupported algorithm {name:?}: expected HS256, EdDSA, ES256, ES512, RS256 or PS256")
            })
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact_jwa_names() {
        for alg in TokenAlgorithm::ASYMMETRIC
            .into_iter()
            .chain([TokenAlgorithm::Hs256])
        {
            assert_eq!(alg.name().parse::<TokenAlgorithm>(), Ok(alg));
        }
        for name in ["none", "None", "hs256", "ES384", "RS512", "HS384", ""] {
            assert!(name.parse::<TokenAlgorithm>().is_err(), "{name}");
        }
    }
}
