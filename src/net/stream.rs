//! The stream every connection runs on: the transport as it came, or TLS
//! over it. Wrapping happens here and in the accept loop or a client's
//! connect, so protocol code never learns which one it has.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsStream;

use super::ReadReady;

/// A connection's stream, plain or TLS.
#[derive(Debug)]
pub enum Stream<S> {
    /// The transport itself.
    Plain(S),
    /// TLS over it (a server's or a client's side).
    Tls(Box<TlsStream<S>>),
}

impl<S> Stream<S> {
    /// The transport under any TLS, for socket options and addresses.
    pub fn get_ref(&self) -> &S {
        match self {
            Stream::Plain(io) => io,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether it is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl<S> From<tokio_rustls::server::TlsStream<S>> for Stream<S> {
    fn from(tls: tokio_rustls::server::TlsStream<S>) -> Self {
        Stream::Tls(Box::new(TlsStream::Server(tls)))
    }
}

impl<S> From<tokio_rustls::client::TlsStream<S>> for Stream<S> {
    fn from(tls: tokio_rustls::client::TlsStream<S>) -> Self {
        Stream::Tls(Box::new(TlsStream::Client(tls)))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(io) => io.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS may already hold decrypted input that the socket no longer shows, so
/// it is ready when rustls has plaintext (or an alert) waiting, and else
/// when the socket has bytes: records that may hold no data yet, which the
/// trait allows (readiness may be spurious).
impl<S: ReadReady> ReadReady for Stream<S> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(io) => io.poll_read_ready(cx),
            Stream::Tls(tls) => {
                let (io, state) = match tls.as_mut() {
                    TlsStream::Server(tls) => {
                        let (io, conn) = tls.get_mut();
                        (io, conn.process_new_packets())
                    }
                    TlsStream::Client(tls) => {
                        let (io, conn) = tls.get_mut();
                        (io, conn.process_new_packets())
                    }
                };
                match state {
                    Ok(state)
                        if state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed() =>
                    {
                        io.poll_read_ready(cx)
                    }
                    // The error, or the data, is for the read that follows.
                    _ => Poll::Ready(Ok(())),
                }
            }
        }
    }
}
