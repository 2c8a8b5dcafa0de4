//! Listeners: SO_REUSEADDR (the texts explain TIME_WAIT) and a large backlog.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tracing::info;

use super::{NetError, normalize_host, resolve};

/// Listen backlog: 128 drops SYNs when thousands connect at once; the kernel
/// caps this at net.core.somaxconn anyway.
pub const DEFAULT_BACKLOG: i32 = 4096;

/// Binds a TCP listener on the first address `host` resolves to.
///
/// A listener bound through a name logs the address it really got, because a
/// resolver can return anything.
pub async fn bind_tcp(host: &str, port: u16) -> Result<TcpListener, NetError> {
    bind_first(host, port, bind_one).await
}

/// Resolves `host` and returns what `bind` makes of the first address that
/// works (a TCP listener, a UDP socket), logging where a name really led.
pub async fn bind_first<T>(
    host: &str,
    port: u16,
    bind: impl Fn(SocketAddr) -> std::io::Result<T>,
) -> Result<T, NetError> {
    let addrs = resolve(host, port).await?;
    let mut last_err = None;
    for addr in addrs {
        match bind(addr) {
            Ok(bound) => {
                let name = normalize_host(host);
                if name.parse::<std::net::IpAddr>().is_err() {
                    info!("{name} resolved to {}", addr.ip());
                }
                return Ok(bound);
            }
            Err(cause) => last_err = Some(NetError::Listen { addr, cause }),
        }
    }
    // resolve() never returns an empty list, so the loop ran at least once.
    Err(last_err.expect("resolve returned at least one address"))
}

fn bind_one(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    // Before listen(): every socket accepted from here on inherits it.
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(DEFAULT_BACKLOG)?;
    TcpListener::from_std(socket.into())
}
