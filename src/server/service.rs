//! The bridge from hyper to the poem app: each request gets a time-limited body, runs through
//! the app, and its response body tells the connection when it is done.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use poem::{
    Addr, Endpoint, Response,
    endpoint::BoxEndpoint,
    http::{self, uri::Scheme},
    web::{LocalAddr, RemoteAddr},
};

use super::{
    ConnectionLimits, connection_io::ConnectionState, protocol_error, request_body::DeadlineBody,
};
use crate::wire::request_id;

/// hyper's service for one connection.
pub(super) struct RequestService {
    app: Arc<BoxEndpoint<'static, Response>>,
    state: Arc<ConnectionState>,
    limits: Arc<ConnectionLimits>,
    local_addr: SocketAddr,
    remote_addr: SocketAddr,
}

impl RequestService {
    pub(super) fn new(
        app: Arc<BoxEndpoint<'static, Response>>,
        state: Arc<ConnectionState>,
        limits: Arc<ConnectionLimits>,
        local_addr: SocketAddr,
        remote_addr: SocketAddr,
    ) -> Self {
        Self {
            app,
            state,
            limits,
            local_addr,
            remote_addr,
        }
    }
}

impl hyper::service::Service<http::Request<Incoming>> for RequestService {
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        self.state.request_started();
        let app = self.app.clone();
        let state = self.state.clone();
        let body_read_timeout = self.limits.body_read_timeout;
        let local_addr = LocalAddr(Addr::SocketAddr(self.local_addr));
        let remote_addr = RemoteAddr(Addr::SocketAddr(self.remote_addr));
        Box::pin(async move {
            let mut req = poem::Request::from((req, local_addr, remote_addr, Scheme::HTTP));
            let expired = Arc::new(AtomicBool::new(false));
            let body =
                DeadlineBody::new(req.take_body().into(), body_read_timeout, expired.clone());
            req.set_body(poem::Body::from(BoxBody::new(body)));
            let mut resp = app.get_response(req).await;
            if expired.load(Ordering::Acquire) {
                let id = resp
                    .header(request_id::HEADER)
                    .map(str::to_owned)
                    .unwrap_or_else(|| request_id::accept_or_generate(None));
                resp = protocol_error::body_timeout_response(id, body_read_timeout);
            }
            let (parts, body) =
                http::Response::<BoxBody<Bytes, io::Error>>::from(resp).into_parts();
            Ok(http::Response::from_parts(
                parts,
                ResponseBody { inner: body, state },
            ))
        })
    }
}

/// The app's response body; dropping it (hyper does once it has taken the last frame) tells the
/// connection that the response is done.
pub(super) struct ResponseBody {
    inner: BoxBody<Bytes, io::Error>,
    state: Arc<ConnectionState>,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.state.response_finished();
    }
}
