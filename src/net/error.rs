//! Network errors worded for a user: one line, the address, the cause, a hint.

use std::io;
use std::net::SocketAddr;

/// What went wrong setting up a connection or a listener.
///
/// The OS error is part of the message rather than a `source`, so that
/// `{:#}` prints one clean line instead of repeating it.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// What was given as a host is not one (see `check_host`).
    #[error(transparent)]
    Host(#[from] super::HostError),
    /// The name did not resolve.
    #[error("cannot resolve {host}: {}", describe(cause))]
    Resolve { host: String, cause: io::Error },
    /// Every address of the target refused or failed.
    #[error("cannot connect to {addr}: {}", connect_cause(cause))]
    Connect { addr: SocketAddr, cause: io::Error },
    /// The TLS handshake failed, or TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The bind or listen call failed.
    #[error("cannot listen on {addr}: {}", listen_cause(cause, addr))]
    Listen { addr: SocketAddr, cause: io::Error },
    /// Binding a Unix socket path failed.
    #[error("cannot listen on {}: {}", path.display(), describe(cause))]
    ListenUnix {
        path: std::path::PathBuf,
        cause: io::Error,
    },
}

/// An OS error as a lowercase phrase without Rust's `(os error N)` suffix.
pub fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn connect_cause(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (is a server listening?)".into(),
        io::ErrorKind::TimedOut => "timed out (is the host up and the port open?)".into(),
        _ => describe(err),
    }
}

fn listen_cause(err: &io::Error, addr: &SocketAddr) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
            "permission denied (ports below 1024 need privileges)".into()
        }
        io::ErrorKind::AddrNotAvailable => {
            "cannot assign requested address (it is not one of this machine's)".into()
        }
        _ => describe(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_matches_the_spec() {
        let addr: SocketAddr = "0.0.0.0:80".parse().expect("literal");
        let err = NetError::Listen {
            addr,
            cause: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            err.to_string(),
            "cannot listen on 0.0.0.0:80: permission denied (ports below 1024 need privileges)"
        );
        let err = NetError::Connect {
            addr: "127.0.0.1:65432".parse().expect("literal"),
            cause: io::Error::from_raw_os_error(libc::ECONNREFUSED),
        };
        assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:65432: connection refused (is a server listening?)"
        );
        assert_eq!(
            describe(&io::Error::from_raw_os_error(libc::EADDRINUSE)),
            "address already in use"
        );
    }
}
