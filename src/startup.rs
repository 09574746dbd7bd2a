//! Building and running the application: open the store, assemble routes and middleware, bind.
//!
//! `Application::build` binds its own listener (port 0 allowed) so tests can start real servers
//! on free ports and ask which one they got.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server,
    endpoint::BoxEndpoint,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    middleware::{CatchPanic, Cors},
};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::{
    api::{self, body::MaxBodyBytes, error::render},
    auth::{TokenVerifier, jwks},
    config::{AuthSettings, ConfigError, Settings},
    store::{self, AnyStore, OpenError, TaskStore},
};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// An unsupported `DATABASE_URL`, or a database that cannot be opened or migrated.
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A bound, ready-to-run server.
pub struct Application {
    addr: SocketAddr,
    acceptor: TcpAcceptor,
    app: BoxEndpoint<'static, Response>,
    shutdown_timeout: Duration,
}

impl Application {
    /// Open the store (creating and migrating it), build the app and bind the listener.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings.auth.require_token_source()?;
        let app = match store::open(&settings.database.url, &settings.database).await? {
            AnyStore::Sqlite(store) => build_app(store, settings),
            AnyStore::Postgres(store) => build_app(store, settings),
        };
        let bind_addr = format!("{}:{}", settings.server.host, settings.server.port);
        let acceptor = TcpListener::bind(bind_addr.clone())
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind {
                addr: bind_addr.clone(),
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| StartupError::Bind {
                addr: bind_addr,
                source: std::io::Error::other("no local address"),
            })?;
        Ok(Self {
            addr,
            acceptor,
            app,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serve until `signal` completes, then let in-flight requests finish.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.app, signal, Some(self.shutdown_timeout))
            .await
    }
}

/// The whole HTTP application over `store`: API, spec, docs UIs and middleware.
pub fn build_app<S: TaskStore>(store: S, settings: &Settings) -> BoxEndpoint<'static, Response> {
    let api = api::service(store, Some("/"));
    let routes = Route::new()
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .nest("/docs", api.swagger_ui())
        .nest("/rapidoc", api.rapidoc())
        .nest("/redoc", api.redoc())
        .nest("/", api);

    let cors = Cors::new()
        .allow_origins(settings.server.cors_origins.iter().map(String::as_str))
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allow_headers(["authorization", "content-type"])
        .expose_headers(["location", "retry-after", "www-authenticate"])
        .max_age(600);
    let verifier = token_verifier(&settings.auth);

    routes
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            IntoResponse::into_response(api::error::ApiError::internal())
        }))
        .data(verifier)
        .data(MaxBodyBytes(settings.server.max_body_bytes))
        .catch_all_error(|err| async move { render(err) })
        // No origins configured means no CORS headers at all (poem's Cors would allow every
        // origin when given none).
        .with_if(!settings.server.cors_origins.is_empty(), cors)
        .around(log_request)
        .map_to_response()
        .boxed()
}

/// The token verifier. With a JWKS source, a background task loads the keys at once (the server
/// starts even if the issuer is down; tokens it cannot check yet get 503) and then refreshes them
/// every `auth.jwks_refresh_secs`, for as long as the app lives.
fn token_verifier(settings: &AuthSettings) -> Arc<TokenVerifier> {
    let verifier = Arc::new(TokenVerifier::from_settings(settings));
    let accepted: Vec<&str> = verifier.accepted().iter().map(|a| a.name()).collect();
    let source = verifier.jwks().map(|j| j.source().describe());
    tracing::info!(?accepted, jwks = ?source, issuer = ?verifier.rules().issuer, "token verification");
    if settings.uses_dev_secret() && source.is_some() && !accepted.contains(&"HS256") {
        tracing::warn!(
            "HS256 is off: the only secret is the development one, which is ignored next to a JWKS; set BETTER_AUTH_SECRET to accept HS256 tokens"
        );
    }
    if let Some(cache) = verifier.jwks() {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => drop(jwks::spawn_refresh(cache, settings.jwks_refresh())),
            Err(_) => tracing::error!("no async runtime: the JWKS will never be loaded"),
        }
    }
    verifier
}

/// One log line per request: method, route template, status, latency and, once authenticated,
/// the user id (recorded by the bearer checker into this span). Never headers, never the token.
async fn log_request<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let resp = match next.call(req).instrument(span.clone()).await {
        Ok(resp) => resp.into_response(),
        Err(err) => render(err),
    };
    let route = resp
        .data::<OperationId>()
        .map(|op| api::route_template(op.0))
        .unwrap_or("unmatched");
    let _entered = span.enter();
    tracing::info!(
        route,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(resp)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent right after start-up is never missed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutdown signal received: finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
