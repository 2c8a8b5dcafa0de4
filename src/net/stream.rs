//! The stream every connection runs on: the transport as it came, or TLS
//! over it. Wrapping happens here and in the accept loop or a client's
//! connect, so protocol code never learns which one it has.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsStream;

use super::ReadReady;
use crate::tls::{Side, TlsError};

/// A connection's stream, plain or TLS.
#[derive(Debug)]
pub struct Stream<S> {
    inner: Inner<S>,
    /// A plain client's first read checks that the server did not answer in
    /// TLS, so that forgetting `--tls` is named rather than seen as garbage.
    check_first: bool,
}

#[derive(Debug)]
enum Inner<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S> Stream<S> {
    /// The transport itself, as a server accepted it.
    pub fn plain(io: S) -> Self {
        Self {
            inner: Inner::Plain(io),
            check_first: false,
        }
    }

    /// A client's plain transport, whose first bytes from the server are
    /// checked for a TLS alert (a TLS server answering plain text).
    pub fn plain_client(io: S) -> Self {
        Self {
            inner: Inner::Plain(io),
            check_first: true,
        }
    }

    /// The transport under any TLS, for socket options and addresses.
    pub fn get_ref(&self) -> &S {
        match &self.inner {
            Inner::Plain(io) => io,
            Inner::Tls(tls) => tls.get_ref().0,
        }
    }

    fn tls(tls: TlsStream<S>) -> Self {
        Self {
            inner: Inner::Tls(Box::new(tls)),
            check_first: false,
        }
    }
}

impl<S> From<tokio_rustls::server::TlsStream<S>> for Stream<S> {
    fn from(tls: tokio_rustls::server::TlsStream<S>) -> Self {
        Stream::tls(TlsStream::Server(tls))
    }
}

impl<S> From<tokio_rustls::client::TlsStream<S>> for Stream<S> {
    fn from(tls: tokio_rustls::client::TlsStream<S>) -> Self {
        Stream::tls(TlsStream::Client(tls))
    }
}

/// A TLS alert record's first bytes (content type 21, version 3.x): what a
/// TLS server sends a client that spoke plain text to it.
fn is_tls_alert(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15, 0x03, 0..=0x04, ..])
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Plain(io) if this.check_first => {
                let before = buf.filled().len();
                ready!(Pin::new(io).poll_read(cx, buf))?;
                this.check_first = false;
                if is_tls_alert(&buf.filled()[before..]) {
                    buf.set_filled(before);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the server answered in TLS, not plain text (is it a TLS server? use --tls)",
                    )));
                }
                Poll::Ready(Ok(()))
            }
            Inner::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Inner::Tls(tls) => {
                let side = match tls.as_ref() {
                    TlsStream::Server(_) => Side::Server,
                    TlsStream::Client(_) => Side::Client,
                };
                Poll::Ready(match ready!(Pin::new(tls.as_mut()).poll_read(cx, buf)) {
                    Ok(()) => Ok(()),
                    // A peer that closes without a close_notify has ended, as
                    // most TLS peers (ncat, browsers) take it: our protocols
                    // frame their messages, so a cut one is still noticed.
                    Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
                    // Worded once for every protocol: under TLS 1.3 a refused
                    // client certificate is only heard of on the first read.
                    Err(err) => Err(match TlsError::from_io(&err, side) {
                        Some(tls) => io::Error::new(err.kind(), tls),
                        None => err,
                    }),
                })
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Plain(io) => io.is_write_vectored(),
            Inner::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(io) => Pin::new(io).poll_flush(cx),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS may already hold decrypted input that the socket no longer shows, so
/// it is ready when rustls has plaintext (or an alert) waiting, and else
/// when the socket has bytes: records that may hold no data yet, which the
/// trait allows (readiness may be spurious).
impl<S: ReadReady> ReadReady for Stream<S> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(io) => io.poll_read_ready(cx),
            Inner::Tls(tls) => {
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
