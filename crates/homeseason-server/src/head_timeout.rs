//! The request-head deadline: a connection must deliver each request's line and headers within
//! [`crate::Config::header_read_timeout`], else it is closed.
//!
//! axum 0.8's `serve` gives hyper no timer, so hyper's own `header_read_timeout` never runs, and the
//! application's timeouts (the upload's idle and total limits, the read routes' `TimeoutLayer`) only
//! start once hyper has handed a whole head to a handler: a client that sends half a request line, or
//! a header every few seconds, or opens a connection and sends nothing, held a connection and a task
//! forever (slowloris). This listener wraps each accepted socket: the clock runs from the moment the
//! connection is opened, and again from the moment the server last wrote (a response, or part of
//! one) — the next request's head is due then, so an idle keep-alive connection is closed too — until
//! the blank line that ends a head arrives (`\r\n\r\n`, or `\n\n`). Request bodies are not timed
//! here (the upload's own limits do that). An interim `1xx` response (`100 Continue`) does not
//! restart the clock, since the body follows it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// A [`TcpListener`] whose connections carry the request-head deadline.
pub(crate) struct HeadTimeoutListener {
    inner: TcpListener,
    limit: Duration,
}

impl HeadTimeoutListener {
    pub(crate) fn new(inner: TcpListener, limit: Duration) -> HeadTimeoutListener {
        HeadTimeoutListener { inner, limit }
    }
}

impl axum::serve::Listener for HeadTimeoutListener {
    type Io = HeadTimeout<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (HeadTimeout::new(io, self.limit), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection reading a request head before its deadline (`head` is `Some`), or a body (`None`).
pub(crate) struct HeadTimeout<T> {
    inner: T,
    limit: Duration,
    head: Option<Head>,
    sleep: Pin<Box<Sleep>>,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    deadline: Instant,
    /// The bytes read so far end a line (only `\r` since the last `\n`).
    line_start: bool,
}

impl<T> HeadTimeout<T> {
    fn new(inner: T, limit: Duration) -> HeadTimeout<T> {
        let deadline = Instant::now() + limit;
        HeadTimeout {
            inner,
            limit,
            head: Some(Head {
                deadline,
                line_start: false,
            }),
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    /// The server wrote `buf`: unless it is an interim `1xx` response, the next head is due.
    fn wrote(&mut self, buf: &[u8]) {
        let interim = buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1");
        if !interim {
            self.head = Some(Head {
                deadline: Instant::now() + self.limit,
                line_start: false,
            });
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "request line and headers not received in time / 未按时收到请求行和请求头",
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.head.is_some_and(|h| Instant::now() >= h.deadline) {
            return Poll::Ready(Err(timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if let Some(h) = &mut this.head {
                    for &b in &buf.filled()[before..] {
                        match b {
                            b'\n' if h.line_start => {
                                this.head = None;
                                break;
                            }
                            b'\n' => h.line_start = true,
                            b'\r' => {}
                            _ => h.line_start = false,
                        }
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Some(h) = this.head {
                    this.sleep.as_mut().reset(h.deadline);
                    if this.sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(timed_out()));
                    }
                }
                Poll::Pending
            }
            other @ Poll::Ready(Err(_)) => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let out = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = out
            && n > 0
        {
            this.wrote(buf);
        }
        out
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let out = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = out
            && n > 0
        {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            this.wrote(first);
        }
        out
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
