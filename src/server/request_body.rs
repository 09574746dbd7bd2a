//! Request bodies with a time limit: the whole body must arrive within
//! `server.body_read_timeout_secs` of the app's first read of it, so a client that trickles its
//! body (or stops sending) cannot hold a connection and a handler forever.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use tokio::time::Sleep;

/// A request body that fails with `TimedOut` once its time limit is over, and says so in
/// `expired` so the request's answer can become a 408.
pub(super) struct DeadlineBody {
    inner: BoxBody<Bytes, io::Error>,
    limit: Duration,
    /// Started at the first read.
    deadline: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl DeadlineBody {
    pub(super) fn new(
        inner: BoxBody<Bytes, io::Error>,
        limit: Duration,
        expired: Arc<AtomicBool>,
    ) -> Self {
        Self {
            inner,
            limit,
            deadline: None,
            expired,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body not received in time",
            ))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
