//! The MCP front door: the task use cases as Model Context Protocol tools, so an AI agent (OpenAI
//! Agents SDK, Claude, MCP Inspector, ...) manages a user's tasks with the same ownership,
//! validation and limits as REST. `specs/mcp.md` has the design.
//!
//! - `POST /mcp`: the Streamable HTTP transport, served by the official Rust SDK (`rmcp`)
//!   mounted into poem through `tower-compat`. Stateless, JSON responses: any instance behind a
//!   load balancer answers any request, and no session lives in memory. `GET` and `DELETE` (the
//!   session stream and session end) are 405, as the transport allows a stateless server.
//! - `GET /.well-known/oauth-protected-resource` (and `.../mcp`): RFC 9728 metadata naming the
//!   Better Auth server, which a 401's `WWW-Authenticate` points to.
//!
//! [`http`] checks `Host`, `Origin`, the bearer token (the REST verifier) and the body size
//! before rmcp sees a request, and hands the caller to the tools in the request's extensions;
//! [`tools`] parses arguments with the shared field reader (`wire::fields`) and calls
//! `TaskService`.

pub mod http;
pub mod schemas;
pub mod tools;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Response, endpoint::TowerCompatExt};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};

use crate::{
    auth::TokenVerifier, config::Settings, domain::UserId, store::TaskStore, tasks::TaskService,
};

pub use http::{METADATA_PATH, MetadataEndpoint, RequestPolicy};
pub use tools::TodoTools;

/// The authenticated caller of an MCP request, put in the HTTP request's extensions by
/// [`http::McpHttp`] and read by every tool.
#[derive(Debug, Clone)]
pub struct Caller(pub UserId);

/// The id of the HTTP request a tool call came in, for the error bodies the tool returns.
#[derive(Debug, Clone)]
pub struct CallRequestId(pub String);

/// The checks every `/mcp` and metadata request passes, from the settings.
pub fn request_policy(settings: &Settings) -> Arc<RequestPolicy> {
    Arc::new(RequestPolicy::new(
        &settings.mcp,
        &settings.server.cors_origins,
        settings.server.max_body_bytes,
        settings.auth.better_auth_url.as_deref(),
    ))
}

/// `/mcp`: rmcp's Streamable HTTP service over the tools, behind [`http::McpHttp`].
pub fn endpoint<S: TaskStore>(
    tasks: TaskService<S>,
    verifier: Arc<TokenVerifier>,
    policy: Arc<RequestPolicy>,
) -> impl Endpoint<Output = Response> {
    let tools = TodoTools::new(tasks);
    let config = StreamableHttpServerConfig::default()
        // Stateless: every POST is answered on its own, by whichever instance gets it.
        .with_legacy_session_mode(false)
        // A plain JSON body for a request/response tool call; SSE only when needed.
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_sse_retry(None)
        // Host and Origin are checked (and refused in the API's error shape) before rmcp.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(policy.max_body_bytes);
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    http::McpHttp {
        inner: service.compat(),
        verifier,
        policy,
    }
    .map_to_response()
}
