//! The HTTP/1.1 server under the app: the accept loop, the cap on open connections, the limits
//! each connection lives under (request head and body read timeouts, idle keep-alive timeout,
//! response send timeout, request head size) and graceful shutdown.
//!
//! poem's own `Server` has none of these knobs, so connections are served with hyper directly
//! and every request is handed to the poem endpoint. `specs/operations.md` ("Connections and
//! protocol errors") describes the behaviour from the outside.

mod connection_io;
mod protocol_error;
mod request_body;
mod service;

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use poem::{Response, endpoint::BoxEndpoint};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
};

use crate::config::{DatabaseSettings, ServerSettings};

use self::{
    connection_io::{ConnectionIo, ConnectionState},
    service::RequestService,
};

/// Open files kept free for the process itself (runtime, listener, logs, JWKS fetches) besides
/// the database's share.
const RESERVED_FILES: u64 = 64;
/// Open files kept free per database connection: a SQLite connection holds the database, its
/// WAL and its shared-memory file; a PostgreSQL one holds a socket.
const RESERVED_FILES_PER_DATABASE_CONNECTION: u64 = 4;

/// Most header fields in one request: hyper's default, named here because the 431 says it (not
/// set explicitly: hyper then keeps headers on the heap).
const MAX_HEADER_FIELDS: usize = 100;

/// The limits every connection lives under, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time to receive a whole request head.
    pub header_read_timeout: Duration,
    /// Time to receive a whole request body, from the first read.
    pub body_read_timeout: Duration,
    /// Time a kept-alive connection may sit idle between requests.
    pub keep_alive_timeout: Duration,
    /// Time a response write may wait for the client to read before the connection is dropped.
    pub send_timeout: Duration,
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
    /// Most connections open at once: `server.max_connections`, lowered to fit the open-file limit.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits from the settings. `max_connections` becomes
    /// `min(server.max_connections, soft open-file limit - reserve)` (at least 1), where the
    /// reserve is 64 files plus 4 per database connection (`database.pool_size` + 1), so that
    /// connections can never starve the process of file descriptors.
    pub fn from_settings(server: &ServerSettings, database: &DatabaseSettings) -> Self {
        let open_files = open_file_soft_limit();
        let max_connections =
            fit_to_open_files(server.max_connections, open_files, database.pool_size);
        if max_connections < server.max_connections {
            tracing::warn!(
                configured = server.max_connections,
                open_file_limit = open_files,
                using = max_connections,
                "server.max_connections lowered to fit the open-file limit (raise `ulimit -n` to allow more)"
            );
        }
        Self {
            header_read_timeout: server.header_read_timeout(),
            body_read_timeout: server.body_read_timeout(),
            keep_alive_timeout: server.keep_alive_timeout(),
            send_timeout: server.send_timeout(),
            max_header_bytes: server.max_header_bytes,
            max_connections,
        }
    }
}

/// `configured`, lowered to leave the reserve free under the `open_files` soft limit (at least 1).
fn fit_to_open_files(configured: usize, open_files: Option<u64>, pool_size: u32) -> usize {
    let Some(open_files) = open_files else {
        return configured;
    };
    let reserve =
        RESERVED_FILES + RESERVED_FILES_PER_DATABASE_CONNECTION * (u64::from(pool_size) + 1);
    let fits = usize::try_from(open_files.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1);
    configured.min(fits)
}

/// The soft `RLIMIT_NOFILE`, when the platform has one.
fn open_file_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _hard)) => Some(soft),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open-file limit");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Serve `app` on `listener` until `signal` completes, then shut down gracefully: stop
/// accepting, close every connection that is not in the middle of a request at once, let
/// in-flight requests finish for at most `grace`, then drop whatever is left.
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    grace: Duration,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let local_addr = listener.local_addr()?;
    let limits = Arc::new(limits);
    let app = Arc::new(app);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(signal);
    tracing::info!(
        addr = %local_addr,
        max_connections = limits.max_connections,
        "server started"
    );

    loop {
        while connections.try_join_next().is_some() {}
        // A permit is taken before accepting, so connections over the cap wait in the kernel's
        // listen backlog instead of holding a file descriptor here.
        let permit = tokio::select! {
            _ = &mut signal => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, remote_addr) = tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or a connection reset before it was
                    // accepted: wait a little rather than spin, then try again.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(serve_connection(Connection {
            stream,
            local_addr,
            remote_addr,
            app: app.clone(),
            limits: limits.clone(),
            closing: closing.clone(),
            permit,
        }));
    }

    drop(listener);
    tracing::info!(
        open_connections = connections.len(),
        grace_secs = grace.as_secs_f32(),
        "shutting down: closing idle connections, finishing in-flight requests"
    );
    let _ = closing_tx.send(true);
    let finished = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            dropped = connections.len(),
            "grace period over: dropping the connections still open"
        );
        connections.shutdown().await;
    }
    tracing::info!("server stopped");
    Ok(())
}

/// One accepted connection and what serving it needs.
struct Connection {
    stream: TcpStream,
    local_addr: SocketAddr,
    remote_addr: SocketAddr,
    app: Arc<BoxEndpoint<'static, Response>>,
    limits: Arc<ConnectionLimits>,
    closing: watch::Receiver<bool>,
    /// Held for as long as the connection is open.
    permit: OwnedSemaphorePermit,
}

async fn serve_connection(connection: Connection) {
    let Connection {
        stream,
        local_addr,
        remote_addr,
        app,
        limits,
        mut closing,
        permit,
    } = connection;
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnectionState::new());
    let io = ConnectionIo::new(stream, state.clone(), limits.clone());
    let service = RequestService::new(app, state.clone(), limits.clone(), local_addr, remote_addr);
    let conn = http1::Builder::new()
        // Our own timer in `ConnectionIo` replaces hyper's, which closes without an answer.
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    // Boxed so it can be dropped (handing a refused socket back) before the function ends.
    let mut conn = Box::pin(conn);
    let shutdown = async move {
        // An error means the server is gone: shut down as well.
        let _ = closing.wait_for(|closing| *closing).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown => {
            state.close_when_idle();
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    drop(conn);
    if let Err(e) = result {
        tracing::debug!(error = %e, %remote_addr, "connection ended with an error");
    }
    if let Some(refused) = state.take_refused() {
        connection_io::linger(refused).await;
    }
    drop(permit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_room_for_the_database_and_the_process() {
        // 64 + 4 × (8 + 1) = 100 files reserved with the default pool.
        assert_eq!(fit_to_open_files(1024, Some(1024), 8), 924);
        assert_eq!(fit_to_open_files(1024, Some(20_000), 8), 1024);
        assert_eq!(fit_to_open_files(1024, Some(1124), 8), 1024);
        assert_eq!(fit_to_open_files(1024, Some(1024), 32), 1024 - 64 - 4 * 33);
        assert_eq!(fit_to_open_files(1024, Some(50), 8), 1, "never zero");
        assert_eq!(fit_to_open_files(1024, None, 8), 1024, "no limit known");
        assert_eq!(fit_to_open_files(10, Some(u64::MAX), 8), 10);
    }
}
