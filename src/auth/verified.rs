//! The outcome of verifying a request's bearer token, kept for the rest of that request, so a
//! token is verified once however many layers need the caller: the rate limiter verifies it to
//! know whose budget a request spends, and the REST operations and `/mcp` then reuse the result.

use super::{AuthError, AuthenticatedUser, TokenVerifier};

/// A token and what verifying it gave.
struct Verified {
    token: String,
    outcome: Result<AuthenticatedUser, AuthError>,
}

tokio::task_local! {
    static VERIFIED: Verified;
}

/// Run `f` with `outcome` recorded as the verification of `token`.
pub async fn scope<F: Future>(
    token: String,
    outcome: Result<AuthenticatedUser, AuthError>,
    f: F,
) -> F::Output {
    VERIFIED.scope(Verified { token, outcome }, f).await
}

impl TokenVerifier {
    /// `verify(token)`, unless this very token was already verified for the request being
    /// served (see [`scope`]): then that outcome, without checking the signature again.
    pub async fn verify_once(&self, token: &str) -> Result<AuthenticatedUser, AuthError> {
        let recorded = VERIFIED
            .try_with(|v| (v.token == token).then(|| v.outcome.clone()))
            .ok()
            .flatten();
        match recorded {
            Some(outcome) => outcome,
            None => self.verify(token).await,
        }
    }
}
