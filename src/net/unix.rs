//! Unix stream sockets as a [`Listener`], so `listen --unix` runs the same
//! accept loop (limits, TLS, shutdown) as every TCP server.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use tokio::net::{UnixListener, UnixStream};

use super::serve::{Accepted, Listener};
use super::{NetError, ReadReady};

/// What a Unix peer's address is shown as: it has no IP address, and the
/// accept loop's logs and access list speak of IP addresses. An access list
/// admits it unless it denies 0.0.0.0.
pub const UNIX_PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// A Unix stream listener bound to a path, removed again when it is dropped.
#[derive(Debug)]
pub struct UnixIncoming {
    listener: UnixListener,
    path: PathBuf,
}

impl UnixIncoming {
    /// Binds `path`; a socket file already there is an error (someone may
    /// be listening on it), as in ncat.
    pub fn bind(path: &Path) -> Result<UnixIncoming, NetError> {
        let listener = UnixListener::bind(path).map_err(|cause| NetError::ListenUnix {
            path: path.to_path_buf(),
            cause,
        })?;
        Ok(UnixIncoming {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The path it listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UnixIncoming {
    fn drop(&mut self) {
        // The socket file would make the next bind fail.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Listener for UnixIncoming {
    type Io = UnixStream;

    async fn accept(&mut self) -> io::Result<Accepted<UnixStream>> {
        let (io, _) = self.listener.accept().await?;
        Ok(Accepted {
            io,
            peer: UNIX_PEER,
            local: UNIX_PEER,
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(UNIX_PEER)
    }
}

/// tokio's readiness, which may be spurious (the trait allows it); no
/// look-ahead, so a TLS server learns of a plain-text client from rustls.
impl ReadReady for UnixStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixStream::poll_read_ready(self, cx)
    }
}
