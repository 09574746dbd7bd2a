//! Where the budgets are checked: a poem middleware in front of every route, which lets all but
//! the task routes (`/api/...`) and `/mcp` through untouched (health, docs and the OpenAPI
//! document are never limited).
//!
//! On a limited route it verifies the bearer token itself, once: a valid token spends its
//! subject's budget; a missing or invalid one spends the client address's. The verification's
//! outcome is then kept for the rest of the request (`auth::verified`), so the operation or
//! `/mcp` reuses it instead of checking the signature again. Over budget, the request is answered
//! 429 `RATE_LIMITED` before it reaches the route; either way the response carries the budget's
//! `RateLimit-Policy` and `RateLimit` headers.

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderName, HeaderValue, header},
};

use super::{Decision, RateLimits, client_ip};
use crate::{
    auth::{TokenVerifier, verified},
    metrics::Metrics,
    wire::{error::ApiError, fields::bearer_token},
};

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub const STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

/// The rate-limiting middleware over the whole app; with no budgets (rate limiting off) it
/// passes every request through.
pub struct RateLimit {
    limits: Option<Arc<RateLimits>>,
    verifier: Arc<TokenVerifier>,
    metrics: Option<Arc<Metrics>>,
}

impl RateLimit {
    pub fn new(limits: Option<Arc<RateLimits>>, verifier: Arc<TokenVerifier>) -> Self {
        Self {
            limits,
            verifier,
            metrics: None,
        }
    }

    /// Count refusals in `todo_rate_limited_requests_total`.
    pub fn with_metrics(self, metrics: Option<Arc<Metrics>>) -> Self {
        Self { metrics, ..self }
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimited<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimited {
            inner,
            limits: self.limits.clone(),
            verifier: self.verifier.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// An endpoint behind [`RateLimit`].
pub struct RateLimited<E> {
    inner: E,
    limits: Option<Arc<RateLimits>>,
    verifier: Arc<TokenVerifier>,
    metrics: Option<Arc<Metrics>>,
}

/// Whether requests to `path` spend a budget.
fn is_limited(path: &str) -> bool {
    path.starts_with("/api/") || path == "/mcp" || path.starts_with("/mcp/")
}

impl<E: Endpoint> RateLimited<E> {
    /// The budget key of a request without a valid token: the client's address.
    fn address_key(limits: &RateLimits, req: &Request) -> std::net::IpAddr {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        client_ip::budget_key(client_ip::client_ip(
            peer,
            forwarded,
            &limits.trusted_proxies,
        ))
    }
}

impl<E: Endpoint> Endpoint for RateLimited<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some(limits) = self
            .limits
            .as_deref()
            .filter(|_| is_limited(req.uri().path()))
        else {
            // Boxed: the routes' future is ~10 KB, and every layer above that holds it by
            // value copies all of it when it is made and moved (see specs/performance.md).
            return Box::pin(self.inner.call(req))
                .await
                .map(IntoResponse::into_response);
        };
        let verification = match bearer_token(&req) {
            Some(token) => {
                let token = token.to_owned();
                let outcome = self.verifier.verify(&token).await;
                Some((token, outcome))
            }
            None => None,
        };
        let mut decision = match &verification {
            Some((_, Ok(user))) => limits
                .user
                .as_ref()
                .map(|budget| budget.check(&user.user_id.as_str().to_owned())),
            _ => limits
                .ip
                .as_ref()
                .map(|budget| budget.check(&Self::address_key(limits, &req))),
        };
        if let Some(decision) = decision.take_if(|d| !d.allowed) {
            // The route, which would record who was refused, is never reached.
            if let Some((_, Ok(user))) = &verification {
                tracing::Span::current().record("user_id", user.user_id.as_str());
            }
            tracing::debug!(
                policy = decision.policy.to_str().unwrap_or_default(),
                retry_after_secs = decision.retry_after_secs,
                "rate limited"
            );
            if let Some(metrics) = &self.metrics {
                metrics.rate_limited();
            }
            let mut refusal = ApiError::rate_limited(decision.retry_after_secs).into_response();
            set_headers(&mut refusal, decision);
            if has_body(&req) {
                // The body is left unread, so the connection cannot carry another request; say
                // so, rather than let the client find out from a broken pipe.
                refusal
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return Ok(refusal);
        }
        let call = Box::pin(self.inner.call(req)); // boxed, as above
        let mut resp = match verification {
            Some((token, outcome)) => verified::scope(token, outcome, call).await,
            None => call.await,
        }?
        .into_response();
        if let Some(decision) = decision {
            set_headers(&mut resp, decision);
        }
        Ok(resp)
    }
}

/// Whether `req` says a body follows its head.
fn has_body(req: &Request) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .header(header::CONTENT_LENGTH)
            .is_some_and(|len| len.trim() != "0")
}

/// The budget's `RateLimit-Policy` and `RateLimit` headers.
fn set_headers(resp: &mut Response, decision: Decision) {
    let headers = resp.headers_mut();
    headers.insert(POLICY_HEADER, decision.policy);
    headers.insert(STATE_HEADER, decision.state);
}
