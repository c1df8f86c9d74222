//! Bounds on what one client's connections may hold: a cap on open
//! connections, and time limits on a request's head and on an idle
//! keep-alive connection (the body's limit is in [`body_timeout`]).
//!
//! Poem hands hyper the socket without a timer, so hyper's own header
//! timeout never fires; the limits are kept here instead, in a wrapper
//! around each accepted socket. It knows just enough HTTP/1 to tell the
//! phases apart: waiting for a request (idle), reading its head (up to the
//! blank line), and everything after the head until the response is
//! written (no limit here: the handler's own bounds apply). An HTTP/2
//! connection (prior knowledge, recognised by its preface) is only counted
//! against the cap: its frames are not followed.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::StreamExt;
use poem::{
    Body, Request,
    http::uri::Scheme,
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

/// The time and count limits of client connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its head.
    pub header_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// Connections open at once; past it, new ones wait in the kernel's
    /// backlog until one closes.
    pub max_connections: usize,
}

/// File descriptors kept free for the database, the spool, log files and
/// outgoing mail when the connection cap is derived from the process limit.
const RESERVED_DESCRIPTORS: u64 = 256;

impl ConnectionLimits {
    /// The configured cap, lowered to what the process's descriptor limit
    /// allows (after raising the soft limit to the hard one), so accepting
    /// never fails with "too many open files".
    pub fn fitted_to_process(mut self) -> Self {
        if let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) {
            let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS).max(16))
                .unwrap_or(usize::MAX);
            if room < self.max_connections {
                tracing::warn!(
                    configured = self.max_connections,
                    allowed = room,
                    "limits.max_connections lowered to fit the open-file limit ({limit})"
                );
                self.max_connections = room;
            }
        }
        self
    }
}

/// An acceptor that applies [`ConnectionLimits`] to every connection.
pub struct LimitedAcceptor<A> {
    inner: A,
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    open: prometheus::IntGauge,
}

impl<A> LimitedAcceptor<A> {
    pub fn new(inner: A, limits: ConnectionLimits, open: prometheus::IntGauge) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            open,
        }
    }
}

impl<A: Acceptor> Acceptor for LimitedAcceptor<A> {
    type Io = LimitedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        // Wait for a free slot before taking the next connection off the
        // backlog: at the cap, clients queue in the kernel, not in memory.
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        let (io, local, remote, scheme) = self.inner.accept().await?;
        self.open.inc();
        let io = LimitedIo {
            inner: io,
            limits: self.limits,
            phase: Phase::Idle,
            head_matched: 0,
            first_read: true,
            deadline: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
            reader: None,
            replacement: None,
            _slot: slot,
            open: self.open.clone(),
        };
        Ok((io, local, remote, scheme))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in flight: the idle timeout runs.
    Idle,
    /// Reading a request head: the header timeout runs from its first byte.
    Head,
    /// Head read, response not yet started: no limit here.
    Busy,
    /// An HTTP/2 connection (prior knowledge): its frames are not followed
    /// here; the cap on connections still holds.
    Http2,
}

/// A connection with its deadlines. A read past a deadline fails with
/// `TimedOut`, and hyper closes the connection.
pub struct LimitedIo<T> {
    inner: T,
    limits: ConnectionLimits,
    phase: Phase,
    /// How much of `\r\n\r\n` the head read so far ends with.
    head_matched: u8,
    /// Nothing has been read yet (an HTTP/2 preface is recognised there).
    first_read: bool,
    deadline: Pin<Box<Sleep>>,
    /// The waker of the last read that found nothing: woken when a phase
    /// with a deadline starts, so the deadline is armed at once.
    reader: Option<std::task::Waker>,
    /// A problem response written in place of an empty one of hyper's own
    /// (see [`problem_for_hyper_error`]), still to go out.
    replacement: Option<(Vec<u8>, usize)>,
    _slot: OwnedSemaphorePermit,
    open: prometheus::IntGauge,
}

/// hyper answers a request it cannot parse itself (a URL or a head too
/// long, a malformed request line), with an empty body. Such an answer —
/// recognised by its status and `content-length: 0`: the service's own
/// error answers always have a body — is replaced by the same status with
/// a problem+json body, as every other error.
fn problem_for_hyper_error(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head.get(..head.len().min(512))?).ok()?;
    // The same `type` and `title` words as every other problem body.
    let (status, reason, slug, title, detail) = match text.get(..12)? {
        "HTTP/1.1 400" | "HTTP/1.0 400" => (
            400,
            "Bad Request",
            "bad-request",
            "Bad request",
            "the request is not valid HTTP",
        ),
        "HTTP/1.1 414" | "HTTP/1.0 414" => (
            414,
            "URI Too Long",
            "uri-too-long",
            "URL too long",
            "the request's URL is longer than the server reads",
        ),
        "HTTP/1.1 431" | "HTTP/1.0 431" => (
            431,
            "Request Header Fields Too Large",
            "headers-too-large",
            "Request headers too large",
            "the request's headers are larger than the server reads",
        ),
        _ => return None,
    };
    if !text.to_ascii_lowercase().contains("content-length: 0\r\n") {
        return None;
    }
    let body = serde_json::json!({
        "type": format!("/problems/{slug}"),
        "title": title,
        "status": status,
        "detail": detail,
    })
    .to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T> Drop for LimitedIo<T> {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl<T> LimitedIo<T> {
    fn restart(&mut self, after: Duration) {
        self.deadline.as_mut().reset(Instant::now() + after);
    }

    /// Follow the bytes of a request: the first one starts the head, the
    /// blank line ends it.
    fn saw(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Idle && self.first_read && bytes.starts_with(b"PRI * HTTP/2.0") {
            self.phase = Phase::Http2;
        }
        self.first_read = false;
        if self.phase == Phase::Idle {
            self.phase = Phase::Head;
            self.head_matched = 0;
            self.restart(self.limits.header_timeout);
        }
        if self.phase != Phase::Head {
            return;
        }
        for &b in bytes {
            self.head_matched = match (self.head_matched, b) {
                (0 | 2, b'\r') => self.head_matched + 1,
                (1 | 3, b'\n') => self.head_matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if self.head_matched == 4 {
                self.phase = Phase::Busy;
                return;
            }
        }
    }

    /// The server started (or went on) writing a response: once it is out,
    /// the connection is idle. An interim `100 Continue` changes nothing.
    fn wrote(&mut self, bytes: &[u8]) {
        let interim = bytes.starts_with(b"HTTP/1.") && bytes.get(9) == Some(&b'1');
        if !interim && matches!(self.phase, Phase::Idle | Phase::Busy) {
            self.phase = Phase::Idle;
            self.restart(self.limits.idle_timeout);
            if let Some(reader) = self.reader.take() {
                reader.wake();
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LimitedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.saw(read);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                if matches!(this.phase, Phase::Idle | Phase::Head)
                    && this.deadline.as_mut().poll(cx).is_ready()
                {
                    let what = if this.phase == Phase::Idle {
                        "idle connection closed (limits.idle_timeout_seconds)"
                    } else {
                        "request head not received in time (limits.header_timeout_seconds)"
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                this.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> LimitedIo<T> {
    /// Write out what is left of a replacement response.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, at)) = &mut self.replacement {
            if *at >= bytes.len() {
                self.replacement = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*at..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *at += n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LimitedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(err)) = this.poll_replacement(cx) {
            return Poll::Ready(Err(err));
        }
        if this.phase != Phase::Http2
            && let Some(replacement) = problem_for_hyper_error(buf)
        {
            // hyper's empty answer is taken as written; ours goes out instead.
            this.replacement = Some((replacement, 0));
            return match this.poll_replacement(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            this.wrote(&buf[..n]);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && this.phase != Phase::Http2
            && problem_for_hyper_error(first).is_some()
        {
            // The head alone is enough to recognise and replace the answer.
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            return Pin::new(this).poll_write(cx, &all);
        }
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            this.wrote(first);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The error a body read fails with when the client stops sending.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled for more than {0:?} (limits.body_timeout_seconds)")]
pub struct BodyStalled(pub Duration);

/// The [`BodyStalled`] behind a body read's error, however many layers of
/// `io::Error` the body stream wrapped it in.
pub fn body_stalled(err: &io::Error) -> Option<&BodyStalled> {
    let mut inner = err.get_ref()?;
    loop {
        if let Some(stalled) = inner.downcast_ref::<BodyStalled>() {
            return Some(stalled);
        }
        inner = inner.downcast_ref::<io::Error>()?.get_ref()?;
    }
}

/// Give every request body a limit on the pause between two of its chunks:
/// a client that stops sending mid-body fails its own request after
/// `timeout`, and holds nothing else meanwhile.
pub fn limit_body_time(req: &mut Request, timeout: Duration) {
    let has_body = req
        .headers()
        .contains_key(poem::http::header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() != b"0");
    if has_body {
        let body = Box::pin(req.take_body().into_bytes_stream());
        req.set_body(Body::from_bytes_stream(stall_limited(body, timeout)));
    }
}

/// `stream`, failing with [`BodyStalled`] when no chunk comes for `timeout`.
fn stall_limited<S>(
    stream: S,
    timeout: Duration,
) -> impl futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static
where
    S: futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + Unpin + 'static,
{
    futures_util::stream::unfold(Some(stream), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout(timeout, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    BodyStalled(timeout),
                )),
                None,
            )),
        }
    })
}
