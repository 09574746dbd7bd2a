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
    EndpointExt, IntoResponse, Response, Route,
    endpoint::BoxEndpoint,
    middleware::{CatchPanic, Cors},
};
use tokio::net::TcpListener;

use crate::{
    api,
    auth::{AuthPolicy, TokenVerifier, jwks},
    config::{self, ConfigError, Settings},
    mcp,
    metrics::{self, Metrics, MetricsEndpoint},
    rate_limit::{self, RateLimit, RateLimits},
    request_log,
    server::{self, ConnectionLimits},
    store::{
        self, AnyStore, OpenError, SqliteStore, TaskStore,
        sqlite::integrity::{self, CheckDepth, Integrity},
    },
    tasks::{Retention, TaskService},
    wire::error::{ApiError, render},
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
    listener: TcpListener,
    app: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    /// The separate `metrics.addr` listener and what it serves, when configured.
    metrics_listener: Option<(SocketAddr, TcpListener, BoxEndpoint<'static, Response>)>,
    shutdown_timeout: Duration,
}

impl Application {
    /// Open the store (creating and migrating it), build the app and bind the listener.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let policy = AuthPolicy::from_settings(&settings.auth)?;
        policy.require_token_source()?;
        let verifier = token_verifier(policy);
        let limits = RateLimits::from_settings(&settings.rate_limit)?.map(Arc::new);
        if let Some(limits) = &limits {
            rate_limit::spawn_eviction(limits, rate_limit::EVICT_IDLE_EVERY);
        }
        let metrics = settings.metrics.enabled.then(Metrics::new);
        let store_metrics = metrics.as_ref().map(|m| m.store()).unwrap_or_default();
        let store =
            store::open_observed(&settings.database.url, &settings.database, store_metrics).await?;
        if let AnyStore::Sqlite(sqlite) = &store {
            report_integrity(sqlite).await;
        }
        let app = match store {
            AnyStore::Sqlite(store) => {
                build_app(store, verifier, limits, settings, metrics.clone())
            }
            AnyStore::Postgres(store) => {
                build_app(store, verifier, limits, settings, metrics.clone())
            }
        };
        let (addr, listener) =
            bind(format!("{}:{}", settings.server.host, settings.server.port)).await?;
        let metrics_listener = match (&metrics, config::non_empty(&settings.metrics.addr)) {
            (Some(metrics), Some(metrics_addr)) => {
                let (addr, listener) = bind(metrics_addr.to_owned()).await?;
                tracing::info!(%addr, "metrics listening (GET /metrics, no token)");
                let endpoint = Route::new()
                    .at(
                        metrics::PATH,
                        poem::get(MetricsEndpoint {
                            metrics: metrics.clone(),
                            token: None,
                        }),
                    )
                    .catch_all_error(|err| async move { render(err) })
                    .map_to_response()
                    .boxed();
                Some((addr, listener, endpoint))
            }
            _ => None,
        };
        if metrics.is_some() && settings.metrics.token.is_none() {
            tracing::info!(
                "GET /metrics is not served on the main port: set metrics.token to serve it there"
            );
        }
        Ok(Self {
            addr,
            listener,
            app,
            limits: ConnectionLimits::from_settings(&settings.server, &settings.database),
            metrics_listener,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        })
    }

    /// The address of the separate metrics listener (`metrics.addr`), when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(addr, _, _)| *addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The connection limits this server runs with (`max_connections` already fitted to the
    /// open-file limit).
    pub fn connection_limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Serve until `signal` completes, then close idle connections at once and let in-flight
    /// requests finish (for at most `server.shutdown_timeout_secs`).
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let Some((_, metrics_listener, metrics_app)) = self.metrics_listener else {
            return server::serve(
                self.listener,
                self.app,
                self.limits,
                self.shutdown_timeout,
                signal,
            )
            .await;
        };
        // One signal stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let main = server::serve(
            self.listener,
            self.app,
            self.limits.clone(),
            self.shutdown_timeout,
            wait(stopped.clone()),
        );
        let side = server::serve(
            metrics_listener,
            metrics_app,
            self.limits,
            self.shutdown_timeout,
            wait(stopped),
        );
        let relay = async move {
            signal.await;
            let _ = stop.send(true);
        };
        let ((), main, side) = tokio::join!(relay, main, side);
        main.and(side)
    }
}

/// The whole HTTP application over `store`: the use cases, the REST front door, the spec and
/// docs UIs, and middleware. `limits`: the request budgets, `None` when rate limiting is off.
pub fn build_app<S: TaskStore>(
    store: S,
    verifier: Arc<TokenVerifier>,
    limits: Option<Arc<RateLimits>>,
    settings: &Settings,
    metrics: Option<Arc<Metrics>>,
) -> BoxEndpoint<'static, Response> {
    let tasks = TaskService::new(store)
        .with_task_quota(Some(settings.quota.max_tasks_per_user))
        .with_retention(Retention {
            idempotency_keys: Duration::from_secs(settings.sync.idempotency_ttl_secs),
            tombstones: Duration::from_secs(settings.sync.tombstone_retention_secs),
        });
    // Runs while the app exists: the guard is part of the endpoint.
    let purge = Arc::new(tasks.spawn_purge(settings.sync.purge_interval()));
    let policy = mcp::request_policy(settings);
    let mcp = mcp::endpoint(tasks.clone(), verifier.clone(), policy.clone());

    let metadata = || {
        poem::get(mcp::MetadataEndpoint {
            policy: policy.clone(),
        })
    };
    let rate_limit = RateLimit::new(limits, verifier.clone()).with_metrics(metrics.clone());
    let api = api::service(tasks, verifier, settings.server.max_body_bytes, Some("/"));
    let mut routes = Route::new();
    if let (Some(metrics), Some(token)) = (&metrics, &settings.metrics.token) {
        routes = routes.at(
            metrics::PATH,
            poem::get(MetricsEndpoint {
                metrics: metrics.clone(),
                token: Some(token.clone()),
            }),
        );
    }
    let routes = routes
        .at("/mcp", mcp)
        .at(mcp::METADATA_PATH, metadata())
        .at(format!("{}/mcp", mcp::METADATA_PATH), metadata())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .nest("/docs", api.swagger_ui())
        .nest("/rapidoc", api.rapidoc())
        .nest("/redoc", api.redoc())
        .nest("/", api);

    let cors = Cors::new()
        .allow_origins(settings.server.cors_origins.iter().map(String::as_str))
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allow_headers([
            "authorization",
            "content-type",
            "mcp-protocol-version",
            "mcp-session-id",
            "last-event-id",
            "x-request-id",
            "if-match",
            "if-none-match",
            "idempotency-key",
        ])
        .expose_headers([
            "location",
            "retry-after",
            "ratelimit-policy",
            "ratelimit",
            "www-authenticate",
            "mcp-session-id",
            "x-request-id",
            "etag",
            "idempotency-replayed",
        ])
        .max_age(600);
    let templates = Arc::new(api::route_templates::<S>());
    let request_ids = settings.server.request_ids;

    routes
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            IntoResponse::into_response(ApiError::internal())
        }))
        .catch_all_error(|err| async move { render(err) })
        // Inside CORS (a refusal still carries CORS headers; preflights are never counted) and
        // inside the request log (a refusal is logged, with its request id in the body).
        .with(rate_limit)
        // No origins configured means no CORS headers at all (poem's Cors would allow every
        // origin when given none).
        .with_if(!settings.server.cors_origins.is_empty(), cors)
        .around(move |next, req| {
            // The purge loop lives as long as this closure, that is, as long as the app.
            let _purging = &purge;
            request_log::log_request(next, req, templates.clone(), metrics.clone(), request_ids)
        })
        .map_to_response()
        .boxed()
}

/// The token verifier. With a JWKS source, a background task loads the keys at once (the server
/// starts even if the issuer is down; tokens it cannot check yet get 503) and then refreshes them
/// every `auth.jwks_refresh_secs`, for as long as the app lives.
fn token_verifier(policy: AuthPolicy) -> Arc<TokenVerifier> {
    let verifier = Arc::new(TokenVerifier::new(policy));
    let policy = verifier.policy();
    let accepted: Vec<&str> = policy.accepted().iter().map(|a| a.name()).collect();
    let source = verifier.jwks().map(|j| j.source().describe());
    tracing::info!(?accepted, jwks = ?source, issuer = ?policy.rules().issuer, "token verification");
    if policy.ignores_dev_secret() {
        tracing::warn!(
            "HS256 is off: the only secret is the development one, which is ignored next to a JWKS; set BETTER_AUTH_SECRET to accept HS256 tokens"
        );
    }
    if let (Some(cache), Some(every)) = (verifier.jwks(), policy.jwks().map(|j| j.refresh)) {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => drop(jwks::spawn_refresh(cache, every)),
            Err(_) => tracing::error!("no async runtime: the JWKS will never be loaded"),
        }
    }
    verifier
}

/// Longest the start-up integrity check (`PRAGMA quick_check`) may take; past it the check is
/// abandoned with a warning (`todo-api check` runs it to the end).
pub const STARTUP_CHECK_LIMIT: Duration = Duration::from_secs(5);

/// Check the SQLite file with `quick_check` before serving, for at most `STARTUP_CHECK_LIMIT`.
/// A damaged file is logged as an error and makes `/health/ready` answer 503; the server still
/// starts, since the undamaged part of the data may be all a user needs (and a backup can be
/// taken from it).
async fn report_integrity(store: &SqliteStore) {
    let path = store.path().to_owned();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        integrity::check(&path, CheckDepth::Quick, Some(STARTUP_CHECK_LIMIT))
    })
    .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(Integrity::Ok)) => tracing::info!(elapsed_ms, "database integrity: quick_check ok"),
        Ok(Ok(Integrity::Damaged(problems))) => {
            tracing::error!(
                ?problems,
                "database integrity: the file is damaged; /health/ready answers 503; run `todo-api check` and restore from a backup"
            );
            store.mark_damaged(problems.join("; "));
        }
        Ok(Ok(Integrity::Unfinished)) => tracing::warn!(
            limit_ms = STARTUP_CHECK_LIMIT.as_millis() as u64,
            "database integrity: quick_check did not finish in time; run `todo-api check`"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "database integrity: could not run quick_check"),
        Err(e) => tracing::warn!(error = %e, "database integrity: the check panicked"),
    }
}

/// Bind `addr` (port 0 allowed) and report the address actually bound.
async fn bind(addr: String) -> Result<(SocketAddr, TcpListener), StartupError> {
    let bind_error = |source| StartupError::Bind {
        addr: addr.clone(),
        source,
    };
    let listener = TcpListener::bind(&addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((bound, listener))
}

/// Keep a file-size limit (`ulimit -f`, `RLIMIT_FSIZE`) from killing the process: SIGXFSZ's
/// default action terminates it mid-write; with a handler installed the write fails with `EFBIG`
/// instead, which SQLite reports as an I/O error, the request gets 503 and readiness says why.
/// Installed once, the handler stays for the life of the process. Needs the async runtime.
pub fn survive_file_size_limit() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        drop(signal(SignalKind::from_raw(libc::SIGXFSZ))?);
    }
    Ok(())
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
