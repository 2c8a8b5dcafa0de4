//! The texts' hello client: read the welcome, send each name and read its
//! answer (what one read brings, as the texts' `recv(1024)`), then `exit`.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Error;
use crate::net::{Endpoint, Monitored, Stream};

/// The most one answer read takes, as the texts' `recv(1024)`.
const ANSWER_SIZE: usize = 1024;

/// A hello conversation over any stream.
#[derive(Debug)]
pub struct Client<S> {
    io: S,
    buf: BytesMut,
}

impl Client<Monitored<Stream<TcpStream>>> {
    /// Connects to a hello server.
    pub async fn connect(server: &Endpoint) -> Result<Self, Error> {
        Ok(Self::new(server.connect().await?))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A conversation on an open stream; the server's welcome is waiting.
    pub fn new(io: S) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(ANSWER_SIZE),
        }
    }

    /// Reads the welcome (or whatever the server sends first).
    pub async fn welcome(&mut self) -> Result<String, Error> {
        self.answer().await
    }

    /// Sends `name` and returns the answer, e.g. `Hello, Ada!`.
    pub async fn greet(&mut self, name: &str) -> Result<String, Error> {
        self.io
            .write_all(name.as_bytes())
            .await
            .map_err(Error::Send)?;
        self.answer().await
    }

    /// Says `exit` and closes our side.
    pub async fn exit(mut self) -> Result<(), Error> {
        self.io.write_all(b"exit").await.map_err(Error::Send)?;
        self.io.shutdown().await.map_err(Error::Close)
    }

    /// What one read brings, as text.
    async fn answer(&mut self) -> Result<String, Error> {
        self.buf.clear();
        let read = self
            .io
            .read_buf(&mut self.buf)
            .await
            .map_err(Error::Receive)?;
        if read == 0 {
            return Err(Error::Closed);
        }
        Ok(String::from_utf8_lossy(&self.buf).into_owned())
    }
}
