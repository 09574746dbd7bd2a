//! A TCP proxy between a test server and PostgreSQL whose link can be cut (connections refused,
//! or held open with nothing forwarded), and the URL rewriting that sends a server through it:
//! how the outage tests take the database away and give it back.

use std::net::SocketAddr;

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// What the proxy between a server and PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Forward both ways.
    Up,
    /// Close every connection, and every new one at once (a database that is down).
    Refuse,
    /// Keep connections open but forward nothing (a database that stopped answering).
    Blackhole,
}

/// A TCP proxy to the test database whose link can be cut.
pub struct Proxy {
    pub addr: SocketAddr,
    link: watch::Sender<Link>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listen on a free local port and forward every connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, watcher) = watch::channel(Link::Up);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(relay(inbound, upstream.clone(), watcher.clone()));
            }
        });
        Self { addr, link, task }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Link::Refuse);
        self.task.abort();
    }
}

/// Carry one connection while the link is up; hold or drop it as the link says.
async fn relay(mut inbound: TcpStream, upstream: String, mut link: watch::Receiver<Link>) {
    let now = *link.borrow_and_update();
    if now == Link::Up {
        let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
            return;
        };
        let changed = async {
            loop {
                if link.changed().await.is_err() {
                    return Link::Refuse;
                }
                let now = *link.borrow_and_update();
                if now != Link::Up {
                    return now;
                }
            }
        };
        let leave = tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
            leave = changed => leave,
        };
        if leave == Link::Blackhole {
            // Hold both sockets, forwarding nothing, until the link changes again.
            let _ = link.changed().await;
        }
    } else if now == Link::Blackhole {
        let _ = link.changed().await;
    }
}

/// `url` pointing at `addr` instead of its own host and port.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{addr}{tail}")
}

/// The host:port of `url`.
pub fn upstream_of(url: &str) -> String {
    let config: tokio_postgres::Config = url
        .split('?')
        .next()
        .unwrap()
        .parse()
        .expect("TEST_DATABASE_URL parses");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        other => panic!("the outage tests need a TCP host in TEST_DATABASE_URL, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}
