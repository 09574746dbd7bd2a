//! `GET /metrics`: the OpenMetrics exposition as an endpoint, with its bearer-token check and
//! its answers in the contract's error shape.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, http::header};
use secrecy::{ExposeSecret, SecretString};

use super::{CONTENT_TYPE, Metrics};
use crate::{
    request_log::LoggedRoute,
    wire::{error::ApiError, fields::bearer_token},
};

/// `GET /metrics`: the exposition, behind a bearer token when `token` is set (the main port)
/// or open (the separate `metrics.addr` listener, which should be private).
pub struct MetricsEndpoint {
    pub metrics: Arc<Metrics>,
    pub token: Option<SecretString>,
}

impl Endpoint for MetricsEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = match &self.token {
            Some(token) => match bearer_token(&req) {
                None => ApiError::auth_missing().into_response(),
                Some(sent) if !same_secret(sent, token.expose_secret()) => {
                    ApiError::auth_invalid().into_response()
                }
                Some(_) => self.exposition(),
            },
            None => self.exposition(),
        };
        resp.set_data(LoggedRoute(PATH));
        Ok(resp)
    }
}

/// Where the exposition is served.
pub const PATH: &str = "/metrics";

impl MetricsEndpoint {
    fn exposition(&self) -> Response {
        Response::builder()
            .content_type(CONTENT_TYPE)
            .header(header::CACHE_CONTROL, "no-store")
            .body(self.metrics.render())
    }
}

/// Compare without stopping at the first difference, so timing does not reveal the token.
fn same_secret(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
