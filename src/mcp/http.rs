//! The HTTP side of `/mcp`, in front of rmcp's Streamable HTTP service: the DNS-rebinding checks
//! (`Host`, `Origin`), bearer authentication with the verifier REST uses, the body size limit,
//! and what the request log records. rmcp only ever sees requests from an authenticated caller, who
//! travels to the tools in the request's extensions ([`Caller`]).

use std::sync::Arc;

use poem::{
    Body, Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};
use serde_json::Value;

use super::{CallRequestId, Caller};
use crate::{
    auth::TokenVerifier,
    config::{McpSettings, non_empty},
    request_log::LoggedRoute,
    wire::{
        error::{ApiError, CHALLENGE_MISSING, with_status},
        fields::{bearer_token, declared_length, read_limited},
        request_id,
        schemas::ErrorCode,
    },
};

/// The path of the OAuth protected resource metadata (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Which requests `/mcp` accepts before looking at their credentials.
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    /// Lowercase host names or `host:port` authorities; `*` accepts any.
    allowed_hosts: Vec<String>,
    /// Browser origins allowed to call (`server.cors_origins`).
    allowed_origins: Vec<String>,
    /// `mcp.public_url` without a trailing slash.
    public_url: Option<String>,
    /// `server.max_body_bytes`.
    pub max_body_bytes: usize,
    /// The Better Auth URL, advertised as the authorization server.
    authorization_server: Option<String>,
}

impl RequestPolicy {
    pub fn new(
        mcp: &McpSettings,
        cors_origins: &[String],
        max_body_bytes: usize,
        better_auth_url: Option<&str>,
    ) -> Self {
        let public_url = non_empty(&mcp.public_url).map(|u| u.trim_end_matches('/').to_owned());
        let mut allowed_hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
            .into_iter()
            .map(str::to_owned)
            .chain(
                mcp.allowed_hosts
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase()),
            )
            .collect();
        let mut allowed_origins: Vec<String> = cors_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .collect();
        if let Some(url) = public_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
        {
            if let Some(host) = url.host_str() {
                allowed_hosts.push(host.to_ascii_lowercase());
            }
            allowed_origins.push(url.origin().ascii_serialization());
        }
        Self {
            allowed_hosts,
            allowed_origins,
            public_url,
            max_body_bytes,
            authorization_server: better_auth_url
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_end_matches('/').to_owned()),
        }
    }

    /// Whether `authority` (a `Host` header value) names this server: its host, or the whole
    /// `host:port`, is allowed.
    fn host_allowed(&self, authority: &str) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        let host = match authority.rsplit_once(':') {
            // `[::1]:8000`, `localhost:8000`; a bare IPv6 address has more than one colon.
            Some((host, port))
                if port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(':') =>
            {
                host
            }
            _ => authority.as_str(),
        };
        self.allowed_hosts
            .iter()
            .any(|allowed| allowed == "*" || *allowed == authority || allowed == host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/');
        self.allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    }

    /// The base URL clients reach this server at: `mcp.public_url`, else `http://` + `Host`.
    pub fn base_url(&self, req: &Request) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", authority(req).unwrap_or("localhost")),
        }
    }

    /// Refuse a request whose `Host` this server does not serve, or that comes from a browser
    /// page on an origin that is not allowed (DNS rebinding, cross-site requests).
    pub fn check_origin_and_host(&self, req: &Request) -> Result<(), ApiError> {
        match authority(req) {
            Some(host) if self.host_allowed(host) => {}
            host => {
                tracing::info!(?host, "mcp: refused a request for a host not allowed");
                return Err(ApiError::request_refused(
                    "request refused (host not allowed: see mcp.allowed_hosts)",
                ));
            }
        }
        if let Some(origin) = req.header(header::ORIGIN)
            && !self.origin_allowed(origin)
        {
            tracing::info!(origin, "mcp: refused a request from an origin not allowed");
            return Err(ApiError::request_refused(
                "request refused (origin not allowed)",
            ));
        }
        Ok(())
    }

    /// The RFC 9728 document for the resource `<base>/mcp`.
    pub fn metadata(&self, req: &Request) -> Value {
        let base = self.base_url(req);
        let mut doc = serde_json::json!({
            "resource": format!("{base}/mcp"),
            "bearer_methods_supported": ["header"],
            "resource_name": "todo-api MCP server",
        });
        if let Some(server) = &self.authorization_server {
            doc["authorization_servers"] = serde_json::json!([server]);
        }
        doc
    }
}

/// The request's authority: the `Host` header, or the URI's (HTTP/2).
fn authority(req: &Request) -> Option<&str> {
    req.header(header::HOST)
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// Why a request does not reach rmcp: an error in the API's shape (HTTP-level refusals), or a
/// JSON-RPC error (a body that is not a JSON-RPC message).
enum Refusal {
    Error(ApiError),
    /// A JSON-RPC error code and message, answered with HTTP 400.
    JsonRpc(i64, String),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Error(error)
    }
}

/// The rmcp service wrapped in the checks above.
pub struct McpHttp<E> {
    pub inner: E,
    pub verifier: Arc<TokenVerifier>,
    pub policy: Arc<RequestPolicy>,
}

impl<E: Endpoint> Endpoint for McpHttp<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let mut resp = match self.admit(&mut req).await {
            Ok(()) => in_error_shape(self.inner.call(req).await?.into_response()),
            Err(Refusal::Error(error)) => error.into_response(),
            Err(Refusal::JsonRpc(code, message)) => jsonrpc_error(code, &message),
        };
        resp.set_data(LoggedRoute("/mcp"));
        Ok(resp)
    }
}

impl<E> McpHttp<E> {
    /// Everything a request must pass before rmcp sees it; on success the caller is in the
    /// request's extensions and the body has been read (within the limit) and put back.
    async fn admit(&self, req: &mut Request) -> Result<(), Refusal> {
        self.policy.check_origin_and_host(req)?;
        let user = self.authenticate(req).await?;
        let span = tracing::Span::current();
        span.record("user_id", user.as_str());
        req.extensions_mut().insert(Caller(user));
        req.extensions_mut()
            .insert(CallRequestId(request_id::current()));

        let declared = declared_length(req);
        let bytes = read_limited(declared, req.take_body(), self.policy.max_body_bytes).await?;
        if req.method() == Method::POST {
            let summary = inspect(&bytes)?;
            if let Some(method) = &summary.method {
                span.record("mcp_method", method.as_str());
            }
            if let Some(tool) = &summary.tool {
                span.record("mcp_tool", tool.as_str());
            }
        }
        req.set_body(Body::from(bytes));
        Ok(())
    }

    /// The token's subject, verified exactly as REST verifies it. A 401 names the metadata
    /// document, so an MCP client can discover where to sign in.
    async fn authenticate(&self, req: &Request) -> Result<crate::domain::UserId, ApiError> {
        let challenge = |error: ApiError| -> ApiError {
            let ApiError::Unauthorized(body, scheme) = error else {
                return error;
            };
            let metadata = format!("{}{METADATA_PATH}", self.policy.base_url(req));
            let scheme = if scheme == CHALLENGE_MISSING {
                format!(r#"Bearer resource_metadata="{metadata}""#)
            } else {
                format!(r#"{scheme}, resource_metadata="{metadata}""#)
            };
            ApiError::Unauthorized(body, scheme)
        };
        let token = bearer_token(req).ok_or_else(|| challenge(ApiError::auth_missing()))?;
        match self.verifier.verify_once(token).await {
            Ok(user) => Ok(user.user_id),
            Err(e) => Err(challenge(ApiError::from(e))),
        }
    }
}

/// What the request log records of a JSON-RPC message: its method and, for `tools/call`, the
/// tool's name.
#[derive(Debug, Default)]
struct Summary {
    method: Option<String>,
    tool: Option<String>,
}

/// Check that `bytes` is one JSON-RPC 2.0 message and summarise it. rmcp would answer a body that
/// is not with a plain-text 400; this answers with the JSON-RPC error a client expects:
/// `-32700` (parse error) for malformed JSON, `-32600` (invalid request) for JSON that is not a
/// JSON-RPC message (batches included: the transport's current revision has none).
fn inspect(bytes: &[u8]) -> Result<Summary, Refusal> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::JsonRpc(-32700, format!("Parse error: {e}")))?;
    let Value::Object(message) = value else {
        return Err(Refusal::JsonRpc(
            -32600,
            "Invalid Request: send one JSON-RPC 2.0 object (batches are not supported)".into(),
        ));
    };
    let is_message = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && (message.get("method").is_some_and(Value::is_string)
            || message.contains_key("result")
            || message.contains_key("error"));
    if !is_message {
        return Err(Refusal::JsonRpc(
            -32600,
            "Invalid Request: not a JSON-RPC 2.0 message".into(),
        ));
    }
    let short = |v: &Value| v.as_str().map(|s| s.chars().take(64).collect::<String>());
    let method = message.get("method").and_then(short);
    let tool = match method.as_deref() {
        Some("tools/call") => message
            .get("params")
            .and_then(|p| p.get("name"))
            .and_then(short),
        _ => None,
    };
    Ok(Summary { method, tool })
}

/// rmcp answers some transport refusals (a wrong `Accept` or `Content-Type`, `GET`/`DELETE` on a
/// stateless server) in plain text; give them the contract's JSON error shape, status kept.
fn in_error_shape(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return resp;
    }
    let (code, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this MCP server is stateless: POST JSON-RPC messages to /mcp",
        ),
        StatusCode::NOT_ACCEPTABLE => (
            ErrorCode::BadRequest,
            "send Accept: application/json, text/event-stream",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorCode::BadRequest, "send Content-Type: application/json")
        }
        _ => (
            ErrorCode::BadRequest,
            status.canonical_reason().unwrap_or("bad request"),
        ),
    };
    let mut shaped = with_status(code, detail, status);
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

fn jsonrpc_error(code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    Response::builder()
        .status(poem::http::StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(body.to_string())
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub struct MetadataEndpoint {
    pub policy: Arc<RequestPolicy>,
}

impl Endpoint for MetadataEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = match self.policy.check_origin_and_host(&req) {
            Err(error) => error.into_response(),
            Ok(()) => {
                let body = serde_json::to_vec(&self.policy.metadata(&req)).unwrap_or_default();
                Response::builder()
                    .content_type("application/json")
                    .header(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("max-age=3600"),
                    )
                    .body(body)
            }
        };
        resp.set_data(LoggedRoute(METADATA_PATH));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed_hosts: &[&str], public_url: Option<&str>) -> RequestPolicy {
        let mcp = McpSettings {
            allowed_hosts: allowed_hosts.iter().map(|h| (*h).to_owned()).collect(),
            public_url: public_url.map(str::to_owned),
        };
        RequestPolicy::new(&mcp, &["http://localhost:3000".into()], 1024, None)
    }

    #[test]
    fn loopback_hosts_are_allowed_with_or_without_a_port() {
        let p = policy(&[], None);
        for host in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "::1",
            "LOCALHOST",
        ] {
            assert!(p.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.2:8000",
            "",
        ] {
            assert!(!p.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn configured_hosts_and_the_public_url_host_are_allowed() {
        let p = policy(
            &["todo.internal", "api.example.com:8443"],
            Some("https://todo.example.com/"),
        );
        assert!(p.host_allowed("todo.internal:8000"));
        assert!(p.host_allowed("api.example.com:8443"));
        assert!(!p.host_allowed("api.example.com:9000"));
        assert!(p.host_allowed("todo.example.com"));
        assert!(p.origin_allowed("https://todo.example.com"));
        assert!(p.origin_allowed("http://localhost:3000/"));
        assert!(!p.origin_allowed("http://localhost:3001"));
        assert!(policy(&["*"], None).host_allowed("anything.example"));
    }

    #[test]
    fn only_json_rpc_messages_pass_inspection() {
        let summary = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task"}}"#,
        )
        .ok()
        .unwrap();
        assert_eq!(summary.method.as_deref(), Some("tools/call"));
        assert_eq!(summary.tool.as_deref(), Some("add_task"));
        let summary =
            inspect(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"x"}}"#)
                .ok()
                .unwrap();
        assert_eq!(summary.tool, None);
        for (body, code) in [
            (&b"{nope"[..], -32700),
            (&b""[..], -32700),
            (&b"[]"[..], -32600),
            (&br#"{"id":1,"method":"x"}"#[..], -32600),
            (&br#"{"jsonrpc":"2.0","id":1}"#[..], -32600),
        ] {
            match inspect(body) {
                Err(Refusal::JsonRpc(c, _)) => assert_eq!(c, code, "{body:?}"),
                _ => panic!("{body:?} should be refused"),
            }
        }
    }
}
