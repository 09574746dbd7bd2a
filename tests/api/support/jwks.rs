//! A JWKS endpoint served by the test itself over real HTTP (`GET /api/auth/jwks`, as Better Auth
//! serves it), which can publish new keys or raw bodies, count its hits, and be stopped and
//! started again on the same port; and a test server that trusts it as its `BETTER_AUTH_URL`.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use poem::{
    Response, Route, Server,
    listener::{Listener, TcpListener},
};
use todo_api::config::Settings;
use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    Backend, TestApp,
    keys::{TestKey, jwks_of},
    process::free_port,
};

struct JwksState {
    body: Mutex<String>,
    hits: AtomicUsize,
}

pub struct JwksServer {
    port: u16,
    state: Arc<JwksState>,
    running: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl JwksServer {
    /// A server that is not listening yet, on a port picked for it.
    pub fn stopped(keys: &[&TestKey]) -> Self {
        Self {
            port: free_port(),
            state: Arc::new(JwksState {
                body: Mutex::new(jwks_of(keys).to_string()),
                hits: AtomicUsize::new(0),
            }),
            running: None,
        }
    }

    /// A listening server publishing `keys`.
    pub async fn started(keys: &[&TestKey]) -> Self {
        let mut server = Self::stopped(keys);
        server.start().await;
        server
    }

    /// Listen (again) on this server's port: `GET /api/auth/jwks`, JSON, no Cache-Control.
    pub async fn start(&mut self) {
        let state = self.state.clone();
        let app = Route::new().at(
            "/api/auth/jwks",
            poem::get(poem::endpoint::make(move |_| {
                let state = state.clone();
                async move {
                    state.hits.fetch_add(1, Ordering::SeqCst);
                    let body = state.body.lock().unwrap().clone();
                    Response::builder()
                        .content_type("application/json")
                        .body(body)
                }
            })),
        );
        let acceptor = TcpListener::bind(format!("127.0.0.1:{}", self.port))
            .into_acceptor()
            .await
            .expect("the JWKS port is free");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async {
                    let _ = rx.await;
                },
                Some(Duration::from_millis(200)),
            ),
        );
        self.running = Some((tx, server));
    }

    /// Stop listening: connections are refused until `start`.
    pub async fn stop(&mut self) {
        if let Some((tx, server)) = self.running.take() {
            let _ = tx.send(());
            let _ = server.await;
        }
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        self.publish_raw(jwks_of(keys).to_string());
    }

    pub fn publish_raw(&self, body: String) {
        *self.state.body.lock().unwrap() = body;
    }

    /// JWKS requests served so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// What `BETTER_AUTH_URL` would be; also the tokens' `iss` and `aud`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some((tx, _)) = self.running.take() {
            let _ = tx.send(());
        }
    }
}

/// A server that trusts `jwks` (as `BETTER_AUTH_URL`) and, unless `configure` adds one, no secret.
pub async fn spawn_app(jwks: &JwksServer, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let base_url = jwks.base_url();
    TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.auth.secret = None;
        s.auth.better_auth_url = Some(base_url);
        configure(s);
    })
    .await
    .unwrap()
}
