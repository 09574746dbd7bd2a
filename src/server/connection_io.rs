//! The socket as hyper sees it: a `TcpStream` that knows where its connection is between
//! requests, so it can enforce the request head timeout and idle keep-alive timeout, close at
//! once on shutdown when no request is in flight, and answer hyper's own protocol errors with
//! the JSON error shape.
//!
//! Why at this level: hyper's HTTP/1 server answers a malformed or oversized request head with an
//! empty-bodied response it writes itself, and its header timeout closes without an answer. Both
//! happen before any request reaches poem. Between two requests the only bytes hyper can write
//! are such automatic answers, so `ConnectionIo` replaces them with a JSON one, and runs the head
//! timer itself so a slow client gets a 408.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use hyper::StatusCode;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::{Instant, Sleep},
};

use super::{ConnectionLimits, protocol_error};

/// How long our own error answer may take to leave before the connection is dropped anyway.
const ERROR_WRITE_GRACE: Duration = Duration::from_secs(1);

/// Where a connection is between and during requests; shared by the socket wrapper, the request
/// service and the response body.
pub(super) struct ConnectionState {
    phase: Mutex<Phase>,
    /// Set on shutdown: close as soon as no request is in flight.
    closing: AtomicBool,
    /// The socket of a refused connection, handed back when hyper lets go of it, so the
    /// connection can close without losing its answer (see `linger`).
    refused: Mutex<Option<RefusedSocket>>,
}

/// A refused connection's socket and what is left to write of its answer.
pub(super) struct RefusedSocket {
    stream: TcpStream,
    unwritten: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head, since `since`. `first_byte` is when its first byte came;
    /// `reused` is whether a request was served on this connection before.
    AwaitingHead {
        since: Instant,
        first_byte: Option<Instant>,
        reused: bool,
    },
    /// A request reached the app; its response is not written yet.
    Serving,
    /// The app's response body is done; hyper may still be writing its last bytes.
    Responded,
    /// We answered with our own error; the connection ends once it is written.
    Refused,
}

impl ConnectionState {
    pub(super) fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::AwaitingHead {
                since: Instant::now(),
                first_byte: None,
                reused: false,
            }),
            closing: AtomicBool::new(false),
            refused: Mutex::new(None),
        }
    }

    /// The socket of a connection we refused, once hyper has dropped it.
    pub(super) fn take_refused(&self) -> Option<RefusedSocket> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    /// A request head was parsed and handed to the app.
    pub(super) fn request_started(&self) {
        self.set_phase(Phase::Serving);
    }

    /// hyper is done with the app's response body (it dropped it).
    pub(super) fn response_finished(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if *phase == Phase::Serving {
            *phase = Phase::Responded;
        }
    }

    /// Shutdown: a connection waiting for a request head closes at its next read.
    pub(super) fn close_when_idle(&self) {
        self.closing.store(true, Ordering::Release);
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

/// The connection's socket, with the head timer and the rewriting of hyper's own error answers.
pub(super) struct ConnectionIo {
    /// Always `Some` until dropped.
    stream: Option<TcpStream>,
    state: Arc<ConnectionState>,
    limits: Arc<ConnectionLimits>,
    timer: Pin<Box<Sleep>>,
    /// The deadline `timer` is armed for.
    armed: Option<Instant>,
    /// Our own answer, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
    /// Since when a response write has been waiting for the client to read.
    write_stalled_since: Option<Instant>,
}

impl ConnectionIo {
    pub(super) fn new(
        stream: TcpStream,
        state: Arc<ConnectionState>,
        limits: Arc<ConnectionLimits>,
    ) -> Self {
        Self {
            stream: Some(stream),
            state,
            limits,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
            answer: None,
            write_stalled_since: None,
        }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(
            self.stream
                .as_mut()
                .expect("the socket is present until drop"),
        )
    }

    fn arm(&mut self, deadline: Instant) {
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
    }

    /// Answer `status` with our JSON error instead of whatever hyper would have sent, and end
    /// the connection after it.
    fn refuse(&mut self, status: StatusCode) {
        self.state.set_phase(Phase::Refused);
        self.answer = Some((protocol_error::response_bytes(status, &self.limits), 0));
        self.arm(Instant::now() + ERROR_WRITE_GRACE);
    }

    /// Write what is left of our answer; give up on it once `ERROR_WRITE_GRACE` is over (a client
    /// that does not read must not keep the connection).
    fn poll_write_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.answer {
            if *written == bytes.len() {
                self.answer = None;
                break;
            }
            let stream = Pin::new(self.stream.as_mut().expect("present until drop"));
            match stream.poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => {
                    self.answer = None;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    ready!(self.timer.as_mut().poll(cx));
                    self.answer = None;
                    return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Track a response write to the client: one that has made no progress for
    /// `send_timeout` (the client stopped reading) fails, which ends the connection.
    fn guard_response_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.write_stalled_since = None;
            return written;
        }
        let since = *self.write_stalled_since.get_or_insert_with(Instant::now);
        self.arm(since + self.limits.send_timeout);
        ready!(self.timer.as_mut().poll(cx));
        tracing::debug!("dropping a connection whose client stopped reading its response");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read the response in time",
        )))
    }

    /// When the request head being waited for is overdue: from the connection's opening (or the
    /// head's first byte after a keep-alive pause) plus the head timeout, or, while a kept-alive
    /// connection sits idle, from the end of the last response plus the keep-alive timeout.
    fn head_deadline(&self, since: Instant, first_byte: Option<Instant>, reused: bool) -> Instant {
        match (first_byte, reused) {
            (None, true) => since + self.limits.keep_alive_timeout,
            (Some(at), true) => at + self.limits.header_read_timeout,
            (_, false) => since + self.limits.header_read_timeout,
        }
    }

    /// Replace the automatic answer hyper is writing (`head` starts with its status line).
    fn replace_automatic_answer(&mut self, head: &[u8]) {
        let status = head
            .get(9..12)
            .and_then(|code| std::str::from_utf8(code).ok())
            .and_then(|code| code.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        self.refuse(status);
    }
}

impl AsyncRead for ConnectionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (since, first_byte, reused) = match this.state.phase() {
            Phase::AwaitingHead {
                since,
                first_byte,
                reused,
            } => (since, first_byte, reused),
            Phase::Refused => {
                ready!(this.poll_write_answer(cx))?;
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request refused",
                )));
            }
            Phase::Serving | Phase::Responded => {
                return this.stream().poll_read(cx, buf);
            }
        };
        if this.state.is_closing() {
            // End of stream: hyper closes an idle connection, and gives up on a half-sent head
            // without answering it.
            return Poll::Ready(Ok(()));
        }
        this.arm(this.head_deadline(since, first_byte, reused));
        let before = buf.filled().len();
        match this.stream().poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if first_byte.is_none() && buf.filled().len() > before {
                    this.state.set_phase(Phase::AwaitingHead {
                        since,
                        first_byte: Some(Instant::now()),
                        reused,
                    });
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        ready!(this.timer.as_mut().poll(cx));
        if first_byte.is_none() {
            tracing::debug!("closing a connection that sent nothing in time");
            return Poll::Ready(Ok(()));
        }
        this.refuse(StatusCode::REQUEST_TIMEOUT);
        ready!(this.poll_write_answer(cx))?;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "request head not received in time",
        )))
    }
}

impl AsyncWrite for ConnectionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.state.phase() {
            Phase::Serving | Phase::Responded => {
                let written = this.stream().poll_write(cx, buf);
                this.guard_response_write(cx, written)
            }
            Phase::AwaitingHead { .. } => {
                // No request reached the app: this is hyper's automatic answer to a bad head.
                this.replace_automatic_answer(buf);
                let _ = this.poll_write_answer(cx);
                Poll::Ready(Ok(buf.len()))
            }
            // The rest of hyper's automatic answer: swallowed.
            Phase::Refused => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.state.phase() {
            Phase::Serving | Phase::Responded => {
                let written = this.stream().poll_write_vectored(cx, bufs);
                this.guard_response_write(cx, written)
            }
            Phase::AwaitingHead { .. } | Phase::Refused => {
                let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                Pin::new(this).poll_write(cx, &joined)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_answer(cx))?;
        ready!(this.stream().poll_flush(cx))?;
        // hyper flushes once all of a response is written: the connection now waits for the next
        // request head.
        if this.state.phase() == Phase::Responded {
            let since = Instant::now();
            this.state.set_phase(Phase::AwaitingHead {
                since,
                first_byte: None,
                reused: true,
            });
            // hyper will not read again until the socket is readable, so the keep-alive timer
            // must wake the connection itself.
            this.arm(this.head_deadline(since, None, true));
            let _ = this.timer.as_mut().poll(cx);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let _ = ready!(this.poll_write_answer(cx));
        this.stream().poll_shutdown(cx)
    }
}

impl Drop for ConnectionIo {
    fn drop(&mut self) {
        if self.state.phase() != Phase::Refused {
            return;
        }
        if let Some(stream) = self.stream.take() {
            let unwritten = match self.answer.take() {
                Some((bytes, written)) => bytes[written..].to_vec(),
                None => Vec::new(),
            };
            *self.state.refused.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(RefusedSocket { stream, unwritten });
        }
    }
}

/// Close a refused connection the way that keeps its answer: finish writing it, send FIN, then
/// read and discard what the client still sends until it closes too, for at most
/// `ERROR_WRITE_GRACE`. Closing with unread bytes would send a reset, which can make the client
/// drop our answer unread.
pub(super) async fn linger(refused: RefusedSocket) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let RefusedSocket {
        mut stream,
        unwritten,
    } = refused;
    let _ = tokio::time::timeout(ERROR_WRITE_GRACE, async {
        stream.write_all(&unwritten).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}
