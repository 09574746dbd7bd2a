//! The request log: one line per request, with the same facts counted in the metrics, for every
//! route whichever door serves it. A door names the route a response is logged under: OpenAPI
//! operations by their operation id (mapped to templates by [`RouteTemplates`]), other
//! endpoints by putting a [`LoggedRoute`] in the response.

use std::{collections::HashMap, sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::{
    metrics::{self, Metrics, RequestLabels},
    wire::{error::render, request_id},
};

/// The route a response is logged under, for endpoints outside the OpenAPI operations.
#[derive(Debug, Clone, Copy)]
pub struct LoggedRoute(pub &'static str);

/// The route template of each OpenAPI operation, keyed by operation id.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates(HashMap<&'static str, &'static str>);

impl RouteTemplates {
    /// Log `operation_id` under `template`.
    pub fn insert(&mut self, operation_id: &'static str, template: &str) {
        self.0.insert(operation_id, intern(template));
    }

    /// The template of `operation_id`, if the contract has that operation.
    pub fn get(&self, operation_id: &str) -> Option<&'static str> {
        self.0.get(operation_id).copied()
    }
}

/// `template` as a string that lives as long as the process, stored once however many apps are
/// built: request metrics use templates as label values without copying them per request.
fn intern(template: &str) -> &'static str {
    static INTERNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = interned.iter().find(|known| **known == template) {
        return known;
    }
    let leaked: &'static str = Box::leak(template.to_owned().into_boxed_str());
    interned.push(leaked);
    leaked
}

/// One log line per request: method, route template, status, latency and, once authenticated,
/// the user id (recorded by the bearer checker into this span); for `/mcp`, the JSON-RPC method
/// and tool name. Never headers, never the token. With metrics on, the same facts are counted.
pub async fn log_request<E: Endpoint>(
    next: E,
    req: Request,
    templates: Arc<RouteTemplates>,
    metrics: Option<Arc<Metrics>>,
    request_ids: bool,
) -> poem::Result<Response> {
    let id = if request_ids {
        request_id::accept_or_generate(
            req.header(request_id::HEADER)
                .filter(|_| req.headers().get_all(request_id::HEADER).iter().count() == 1),
        )
    } else {
        String::from("-")
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        user_id = tracing::field::Empty,
        mcp_method = tracing::field::Empty,
        mcp_tool = tracing::field::Empty,
    );
    let started = Instant::now();
    let method = req.method().clone();
    let in_flight = metrics.as_ref().map(|m| m.request_started());
    let shared: Arc<str> = Arc::from(id.as_str());
    let (mut resp, auth_failure) = request_id::scope(
        shared,
        metrics::watch_auth(async {
            // Boxed, so that the layers above move a pointer instead of the whole stack's
            // future (~10 KB) each time one is made or wrapped.
            match Box::pin(next.call(req)).instrument(span.clone()).await {
                Ok(resp) => resp.into_response(),
                Err(err) => render(err),
            }
        }),
    )
    .await;
    drop(in_flight);
    if request_ids && let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(request_id::HEADER, value);
    }
    let route = match (resp.data::<OperationId>(), resp.data::<LoggedRoute>()) {
        (Some(op), _) => templates.get(op.0).unwrap_or("other"),
        (None, Some(route)) => route.0,
        (None, None) => "unmatched",
    };
    let elapsed = started.elapsed();
    if let Some(metrics) = &metrics {
        let labels = RequestLabels::new(&method, route, resp.status().as_u16());
        metrics.request_finished(labels, elapsed);
        if let Some(reason) = auth_failure {
            metrics.auth_failed(reason);
        }
    }
    let _entered = span.enter();
    tracing::info!(
        route,
        status = resp.status().as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    Ok(resp)
}
