//! Outgoing TCP connections with TCP_NODELAY and a bounded connect time, and
//! the [`Endpoint`] every client connects to: the one place a client's
//! stream is made (and, for TLS, wrapped).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use tracing::warn;

use super::{Monitored, NetError, Stream, resolve};
use crate::tls::ClientTls;

/// How long a connect may take before it is reported as timed out.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a client connects, and how.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Server host name or address (checked by the HOST rule when resolved).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// TLS over the connection, the server checked as `host`.
    pub tls: Option<ClientTls>,
}

impl Endpoint {
    /// `host:port` with the default connect timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: None,
        }
    }

    /// Connects: the stream every client runs on, watched for `--trace`.
    pub async fn connect(&self) -> Result<Monitored<Stream<TcpStream>>, NetError> {
        let (stream, addr) = connect_tcp(&self.host, self.port, self.connect_timeout).await?;
        let stream = match &self.tls {
            None => Stream::plain_client(stream),
            Some(tls) => {
                if tls.is_insecure() {
                    warn!("{addr}: the server's certificate is not checked (--insecure)");
                }
                Stream::from(tls.connect(stream, &self.host).await?)
            }
        };
        Ok(Monitored::new(stream, addr, None))
    }
}

/// Connects to the first address of `host` that accepts, with TCP_NODELAY set
/// (a 16 KiB exchange otherwise pays Nagle plus delayed ACK, ~44 ms here),
/// wrapped so that `--trace` shows the client's side too.
pub async fn connect(
    host: &str,
    port: u16,
    limit: Duration,
) -> Result<Monitored<TcpStream>, NetError> {
    let (stream, addr) = connect_tcp(host, port, limit).await?;
    Ok(Monitored::new(stream, addr, None))
}

/// The first address of `host` that accepts, as a TCP socket with
/// TCP_NODELAY, and that address.
async fn connect_tcp(
    host: &str,
    port: u16,
    limit: Duration,
) -> Result<(TcpStream, SocketAddr), NetError> {
    let addrs = resolve(host, port).await?;
    let mut last_err = None;
    for addr in addrs {
        let attempt = tokio::time::timeout(limit, TcpStream::connect(addr)).await;
        let result = attempt.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()));
        match result {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|cause| NetError::Connect { addr, cause })?;
                return Ok((stream, addr));
            }
            Err(cause) => last_err = Some(NetError::Connect { addr, cause }),
        }
    }
    // resolve() never returns an empty list, so the loop ran at least once.
    Err(last_err.expect("resolve returned at least one address"))
}
