//! The accept loop every server runs, over any [`Listener`]: access list,
//! connection limit, per-connection tasks, accept-error back-off and graceful shutdown.
//! TCP is one listener; TLS and Unix sockets plug in as others, so wrapping
//! a stream happens here and in no protocol.

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::{AccessList, Cancelled, Monitored, ReadReady, Stream, peek_first};
use crate::tls::{ServerTls, TlsError, tell_stalled};

/// Where connections come from: a TCP listener, and next TLS or a Unix socket.
pub trait Listener: Send + 'static {
    /// The stream a connection handler gets.
    type Io: AsyncRead + AsyncWrite + ReadReady + Unpin + Send + 'static;

    /// Waits for the next connection. An error concerns that connection
    /// alone, except for running out of descriptors or memory, which pauses
    /// accepting for a moment.
    fn accept(&mut self) -> impl Future<Output = io::Result<Accepted<Self::Io>>> + Send;

    /// The address it listens on.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// The socket under an accepted stream, for the socket options the
    /// server sets ([`ServerOptions::send_buffer`]); `None` where the stream
    /// has no socket options to set (an in-memory pipe).
    fn socket(io: &Self::Io) -> Option<SockRef<'_>> {
        let _ = io;
        None
    }
}

/// One accepted connection.
#[derive(Debug)]
pub struct Accepted<S> {
    /// The stream.
    pub io: S,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our end's address.
    pub local: SocketAddr,
}

/// What a server's `serve` takes: a [`Listener`], or a plain [`TcpListener`].
pub trait IntoListener {
    /// The listener it becomes.
    type Listener: Listener;
    /// Makes it ready to serve.
    fn into_listener(self) -> Self::Listener;
}

impl<L: Listener> IntoListener for L {
    type Listener = L;
    fn into_listener(self) -> L {
        self
    }
}

impl IntoListener for TcpListener {
    type Listener = TcpIncoming;
    fn into_listener(self) -> TcpIncoming {
        TcpIncoming::from(self)
    }
}

/// A TCP listener ready to serve: accepted sockets get TCP_NODELAY, and
/// learn our address without a system call where the listener has one.
#[derive(Debug)]
pub struct TcpIncoming {
    listener: TcpListener,
    // Linux copies TCP_NODELAY from a listener to the sockets it accepts,
    // which saves a system call per connection; bind_tcp sets it before
    // listening. A listener made elsewhere gets it on each socket.
    inherited: bool,
    // Accepted sockets share the listener's address unless it is a wildcard.
    bound: Option<SocketAddr>,
}

impl From<TcpListener> for TcpIncoming {
    fn from(listener: TcpListener) -> Self {
        let inherited = SockRef::from(&listener).tcp_nodelay().unwrap_or(false);
        let bound = listener
            .local_addr()
            .ok()
            .filter(|addr| !addr.ip().is_unspecified());
        Self {
            listener,
            inherited,
            bound,
        }
    }
}

impl Listener for TcpIncoming {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<Accepted<TcpStream>> {
        let (io, peer) = self.listener.accept().await?;
        if !self.inherited {
            io.set_nodelay(true)?;
        }
        let local = match self.bound {
            Some(bound) => bound,
            None => io.local_addr()?,
        };
        Ok(Accepted { io, peer, local })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    fn socket(io: &TcpStream) -> Option<SockRef<'_>> {
        Some(SockRef::from(io))
    }
}

/// Limits and timeouts shared by every server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Connections served at once; further ones are accepted and closed.
    pub max_conns: usize,
    /// A connection with no progress for this long is dropped.
    pub idle_timeout: Option<Duration>,
    /// How long connections in flight may take to finish after a shutdown.
    pub grace: Duration,
    /// SO_SNDBUF of each accepted socket; `None` leaves the kernel's
    /// autotuning alone (which grows it to megabytes for a slow reader).
    pub send_buffer: Option<usize>,
    /// The peers served; others are closed as soon as they are accepted.
    pub access: AccessList,
    /// TLS on every connection, its handshake made in the connection's own
    /// task (within the handshake timeout) before the protocol sees a byte.
    pub tls: Option<ServerTls>,
}

impl ServerOptions {
    /// The defaults, with a protocol's own idle timeout (zero: none).
    pub fn with_idle(idle: Duration) -> Self {
        Self {
            idle_timeout: (!idle.is_zero()).then_some(idle),
            ..Self::default()
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_conns: 10_000,
            idle_timeout: Some(Duration::from_secs(300)),
            grace: Duration::from_secs(10),
            send_buffer: None,
            access: AccessList::default(),
            tls: None,
        }
    }
}

/// What a connection handler knows besides its stream.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Our end's address (the texts print it as the socket name).
    pub local: SocketAddr,
    /// Cancelled when the server starts shutting down: a handler finishes the
    /// exchange in flight and then closes.
    pub shutdown: CancellationToken,
}

/// Accepts connections on `listener` until `shutdown` resolves, running
/// `handler` on its own task for each; then waits up to `options.grace` for
/// the handlers and drops whatever is left.
pub async fn serve<L, H, Fut, E>(
    listener: L,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
    handler: H,
) -> io::Result<()>
where
    L: IntoListener,
    H: Fn(Monitored<Stream<<L::Listener as Listener>::Io>>, ConnInfo) -> Fut
        + Send
        + Sync
        + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    let mut listener = listener.into_listener();
    let handler = Arc::new(handler);
    let limit = Arc::new(Semaphore::new(options.max_conns));
    let tracker = TaskTracker::new();
    let soft = CancellationToken::new();
    let hard = CancellationToken::new();
    tokio::pin!(shutdown);

    loop {
        let Accepted { io, peer, local } = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    backoff_on_accept_error(&err).await;
                    continue;
                }
            },
        };
        // Before the limit, so a refused peer takes no slot, and before the
        // task, so not a byte is read nor a handshake begun for it; dropping
        // `io` closes it.
        if !options.access.permits(peer.ip()) {
            warn!("refused connection from {peer}: not allowed by --allow/--deny");
            continue;
        }
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            warn!(
                "connection limit of {} reached: closing connection from {peer}",
                options.max_conns
            );
            continue;
        };
        info!("accepted connection from {peer}");
        if let Some(bytes) = options.send_buffer {
            set_send_buffer::<L::Listener>(&io, bytes, peer);
        }
        // Tokens of the connection's own: a task waits on them every time it
        // waits for its peer, and tokens shared by every connection would
        // make all of them take the same lock (and bounce its cache line
        // between cores) once or twice per message.
        let info = ConnInfo {
            peer,
            local,
            shutdown: soft.child_token(),
        };
        let (handler, tls, idle) = (handler.clone(), options.tls.clone(), options.idle_timeout);
        let hard = hard.child_token();
        tracker.spawn(async move {
            let connection = async {
                let io = match tls {
                    None => Stream::plain(io),
                    Some(tls) => match shake_hands(&tls, io).await {
                        Ok(tls) => tls,
                        Err(err) => return Err(format!("TLS handshake failed: {err}")),
                    },
                };
                let io = Monitored::new(io, peer, idle);
                // Only an error is written out: a clean end costs nothing.
                handler(io, info).await.map_err(|err| err.to_string())
            };
            // Polled each time the connection waits: the cheap wait.
            let ended = tokio::select! {
                biased;
                result = connection => Some(result),
                () = Cancelled::new(hard) => None,
            };
            // The slot is free before the line says so: whoever acts on
            // the line (a supervisor, a test) can connect again at once.
            drop(permit);
            match ended {
                Some(Ok(())) => info!("closing connection to {peer}"),
                Some(Err(err)) => warn!("closing connection to {peer}: {err}"),
                None => info!("closing connection to {peer}: shutting down"),
            }
        });
    }

    drop(listener);
    soft.cancel();
    tracker.close();
    if !tracker.is_empty() {
        info!(
            "waiting up to {}s for {} connection(s) to finish",
            options.grace.as_secs_f64(),
            tracker.len()
        );
    }
    if tokio::time::timeout(options.grace, tracker.wait())
        .await
        .is_err()
    {
        warn!("grace period over: closing {} connection(s)", tracker.len());
        hard.cancel();
        tracker.wait().await;
    }
    Ok(())
}

/// A TLS client's first byte starts a handshake record (22); any other is a
/// plain-text client, named at once: rustls would wait for a whole 5-byte
/// record header first, and someone typing `hi` into nc would wait out the
/// handshake timeout.
async fn shake_hands<S>(tls: &ServerTls, mut io: S) -> Result<Stream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    let wait = tls.handshake_timeout();
    // One deadline for the first byte and the handshake after it.
    let deadline = tokio::time::Instant::now() + wait;
    match tokio::time::timeout_at(deadline, peek_first(&mut io)).await {
        Err(_) => {
            tell_stalled(&mut io);
            return Err(TlsError::ClientStalled(wait));
        }
        Ok(Ok(Some(first))) if first != HANDSHAKE_RECORD => {
            // The alert rustls would have sent: our plain clients name it.
            let _ = io.write_all(&UNEXPECTED_MESSAGE_ALERT).await;
            return Err(TlsError::PlainTextClient);
        }
        // An end or an error is the handshake's to report.
        Ok(_) => {}
    }
    Ok(Stream::from(tls.accept_until(io, deadline).await?))
}

/// The content type of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 22;
/// A TLS 1.2 record holding a fatal `unexpected_message` alert.
const UNEXPECTED_MESSAGE_ALERT: [u8; 7] = [21, 3, 3, 0, 2, 2, 10];

/// A socket keeps its kernel default when its send buffer cannot be set:
/// that costs memory, not correctness.
fn set_send_buffer<L: Listener>(io: &L::Io, bytes: usize, peer: SocketAddr) {
    if let Some(Err(err)) = L::socket(io).map(|socket| socket.set_send_buffer_size(bytes)) {
        debug!("{peer}: cannot set SO_SNDBUF: {err}");
    }
}

/// Per-connection accept errors are skipped; running out of descriptors or
/// memory pauses accepting briefly instead of spinning on the error.
async fn backoff_on_accept_error(err: &io::Error) {
    let resource = matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    if resource {
        error!("cannot accept: {err}; pausing for 100 ms");
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        debug!("accept failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_idle_timeout_means_none() {
        let five = Duration::from_secs(5);
        assert_eq!(ServerOptions::with_idle(five).idle_timeout, Some(five));
        assert_eq!(ServerOptions::with_idle(Duration::ZERO).idle_timeout, None);
        assert_eq!(ServerOptions::with_idle(five).max_conns, 10_000);
    }

    // Every accepted socket must have Nagle off (a 16 KiB echo otherwise
    // waits ~44 ms for a delayed ACK) although serve sets it only once, on
    // the listener; and each connection learns our end's real address.
    #[tokio::test]
    async fn accepted_sockets_have_nodelay_and_their_local_address() {
        let ours = super::super::bind_tcp("127.0.0.1", 0).await.expect("bind");
        // So serve leaves the accepted sockets alone.
        assert!(SockRef::from(&ours).tcp_nodelay().expect("getsockopt"));
        check_accepted(ours).await;
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        check_accepted(plain).await;
    }

    async fn check_accepted(listener: TcpListener) {
        let addr = listener.local_addr().expect("address");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            ServerOptions::default(),
            stop.clone().cancelled_owned(),
            move |io: Monitored<Stream<TcpStream>>, info: ConnInfo| {
                let tx = tx.clone();
                async move {
                    let nodelay = io.get_ref().get_ref().nodelay()?;
                    let _ = tx.send((nodelay, info.local, info.peer));
                    Ok::<(), io::Error>(())
                }
            },
        ));
        for _ in 0..3 {
            let client = TcpStream::connect(addr).await.expect("connect");
            let (nodelay, local, peer) = rx.recv().await.expect("a connection");
            assert!(nodelay, "TCP_NODELAY off on an accepted socket");
            assert_eq!(local, addr);
            assert_eq!(peer, client.local_addr().expect("client address"));
        }
        stop.cancel();
        server.await.expect("serve task").expect("serve");
    }

    // A handler that ignores the shutdown is closed when the grace period
    // is over, and serve returns: the wait that ends it is polled each time
    // the connection waits, so it must still be woken after many polls.
    #[tokio::test]
    async fn a_handler_that_ignores_the_shutdown_is_closed_after_the_grace() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let stop = CancellationToken::new();
        let options = ServerOptions {
            grace: Duration::from_millis(100),
            ..ServerOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            stop.clone().cancelled_owned(),
            |mut io: Monitored<Stream<TcpStream>>, _info: ConnInfo| async move {
                // Echoes one byte at a time, never looking at the shutdown.
                let mut byte = [0u8; 1];
                while io.read(&mut byte).await? == 1 {
                    io.write_all(&byte).await?;
                }
                Ok::<(), io::Error>(())
            },
        ));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        for i in 0..50u8 {
            client.write_all(&[i]).await.expect("write");
            let mut back = [0u8; 1];
            client.read_exact(&mut back).await.expect("echo");
            assert_eq!(back, [i]);
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returns once the grace period is over")
            .expect("serve task")
            .expect("serve");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
            .await
            .expect("the connection was closed");
        assert!(
            read.is_err() || rest.is_empty(),
            "nothing more was sent: {rest:?}"
        );
    }

    // "hi" typed into nc at a TLS server is three bytes: no whole TLS record
    // header, so only the first byte can tell at once that it is plain text.
    #[tokio::test]
    async fn a_plain_text_client_of_a_tls_server_is_dropped_at_once() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::tls::DevStore::new(dir.path());
        let tls = ServerTls::development(&store, &[], None)
            .expect("development certificate")
            .with_handshake_timeout(Duration::from_secs(60));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let stop = CancellationToken::new();
        let options = ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            stop.clone().cancelled_owned(),
            |_io: Monitored<Stream<TcpStream>>, _info: ConnInfo| async {
                Err::<(), _>(io::Error::other("the handler must not run"))
            },
        ));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(b"hi\n").await.expect("write");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
            .await
            .expect("closed long before the 60 s handshake timeout");
        // A fatal alert, then closed with our bytes unread (a reset, or an end).
        if closed.is_ok() {
            assert_eq!(rest, [21, 3, 3, 0, 2, 2, 10]);
        }
        stop.cancel();
        server.await.expect("serve task").expect("serve");
    }
}
