//! stall: the texts' app-server-test.py and app-client-test.py, which show
//! where bytes wait when a receiver stops reading.
//!
//! ```text
//! client -> server   any bytes, as fast as the kernel takes them
//! server -> client   nothing; the server never reads
//! ```
//! The server accepts and holds each connection until shutdown or its idle
//! timeout. The client writes on a non-blocking socket until the write would
//! block (EAGAIN), waits for the bytes in flight to land, and reports
//! `bytes written = client Send-Q + server Recv-Q`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::sockets::{self, Filter, SocketEntry};
use crate::net::{self, ConnInfo, Endpoint, NetError, ServerOptions};

/// app-server-test.py's port, moved off echo's 65432.
pub const DEFAULT_PORT: u16 = 65434;
/// How long the server holds a connection it never reads from.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// What the client writes: recognisable in a `--trace` transcript or capture.
const PATTERN: &[u8] = b"socklab stall ";
/// Bytes offered to each write call.
const CHUNK: usize = 64 * 1024;
/// How long the client waits for the bytes in flight to settle before reporting.
const SETTLE_LIMIT: Duration = Duration::from_secs(3);
/// How often the queues are sampled while settling.
const SETTLE_STEP: Duration = Duration::from_millis(10);
/// How long a TLS 1.3 client waits for the server's tickets, the sign that
/// the server has finished its handshake.
const TICKET_WAIT: Duration = Duration::from_secs(2);

/// What the stall server does: hold each connection for the idle timeout.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connection limit, idle timeout (how long a connection is held) and grace.
    pub server: ServerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            server: ServerOptions::with_idle(DEFAULT_IDLE),
        }
    }
}

/// Why the client could not report.
#[derive(Debug, thiserror::Error)]
pub enum StallError {
    /// Resolving or connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A socket call failed; the string says which.
    #[error("{0}: {1}")]
    Io(String, io::Error),
    /// The blocking /proc read could not run.
    #[error("reading /proc/net/tcp: {0}")]
    Proc(tokio::task::JoinError),
}

/// What the client reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Connected from `local` to `peer`.
    Connected {
        /// The server's address.
        peer: SocketAddr,
        /// Ours.
        local: SocketAddr,
    },
    /// The kernel took this many bytes before a write would block.
    Filled(u64),
}

/// Serves the stall server on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: impl net::IntoListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let hold = options.server.idle_timeout;
    net::serve(listener, options.server, shutdown, move |io, conn| {
        hold_open(io, conn, hold)
    })
    .await
}

/// Keeps the connection open without ever reading it. A peer's close cannot
/// be seen without reading, so the idle timeout is what frees the slot.
async fn hold_open<S: AsyncRead + AsyncWrite>(
    io: S,
    conn: ConnInfo,
    hold: Option<Duration>,
) -> io::Result<()> {
    let expiry = async {
        match hold {
            Some(hold) => tokio::time::sleep(hold).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        () = conn.shutdown.cancelled() => Ok(()),
        () = expiry => Err(io::Error::new(io::ErrorKind::TimedOut, "held for the idle timeout")),
    };
    drop(io);
    result
}

/// Where the client's bytes were found once they stopped moving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Bytes the kernel accepted from our write calls.
    pub written: u64,
    /// Our Send-Q (SIOCOUTQ): written, not yet acknowledged by the server.
    pub client_send_q: u64,
    /// The server socket's Recv-Q from /proc, if it is on this machine.
    pub server_recv_q: Option<u64>,
}

/// The stall client: connects, fills the queues, and reports where the bytes
/// wait; returns the report and the still-open connection (its queues full).
pub async fn client(
    target: &Endpoint,
    mut on_event: impl FnMut(Event),
) -> Result<(Report, TcpStream), StallError> {
    let io = net::connect(&target.host, target.port, target.connect_timeout).await?;
    let peer = io.peer();
    let stream = io.into_inner();
    // Under TLS the queues fill with records: rustls encrypts, and its
    // records go to the kernel by the same non-blocking writes.
    let (stream, mut tls) = match &target.tls {
        None => (stream, None),
        Some(tls) => {
            let connected = tls.connect(stream, &target.host).await;
            let (stream, mut session) = connected.map_err(NetError::from)?.into_inner();
            server_finished(&stream, &mut session).await;
            (stream, Some(session))
        }
    };
    let local = stream
        .local_addr()
        .map_err(|err| StallError::Io("reading our address".to_owned(), err))?;
    on_event(Event::Connected { peer, local });
    let written = fill(&stream, tls.as_mut(), peer).await?;
    on_event(Event::Filled(written));
    let report = settle(&stream, local, peer, written).await?;
    Ok((report, stream))
}

/// Writes until the socket would block, plain or (with `session`) as TLS
/// records; returns the bytes the kernel took (what its queues hold).
async fn fill(
    stream: &TcpStream,
    mut session: Option<&mut rustls::ClientConnection>,
    peer: SocketAddr,
) -> Result<u64, StallError> {
    let chunk: Vec<u8> = PATTERN.iter().copied().cycle().take(CHUNK).collect();
    let failed = |err| StallError::Io(format!("sending to {peer}"), err);
    stream
        .writable()
        .await
        .map_err(|err| StallError::Io("waiting to write".to_owned(), err))?;
    let mut written = 0u64;
    loop {
        let sent = match session.as_deref_mut() {
            None => stream
                .try_write(&chunk)
                .inspect(|&n| net::trace_sent(peer, &chunk[..n])),
            Some(session) => {
                // Encrypt more only once the last records are out: rustls'
                // own buffer stays one chunk at most.
                if !session.wants_write() {
                    std::io::Write::write_all(&mut session.writer(), &chunk).map_err(failed)?;
                }
                session.write_tls(&mut NonBlocking(stream))
            }
        };
        match sent {
            Ok(n) => written += n as u64,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(written),
            Err(err) => return Err(failed(err)),
        }
    }
}

/// Under TLS 1.3 our handshake ends before the server's: the read in which
/// the server takes our Finished could take our first records with it, and
/// those would wait in no queue. The server sends its session tickets once
/// it has finished, so the fill starts after they came (or [`TICKET_WAIT`],
/// for a server that sends none).
async fn server_finished(stream: &TcpStream, session: &mut rustls::ClientConnection) {
    if session.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return;
    }
    let tickets = async {
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match session.read_tls(&mut NonBlocking(stream)) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    // An alert here shows up as the fill's error.
                    let _ = session.process_new_packets();
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(TICKET_WAIT, tickets).await;
}

/// A TCP stream's non-blocking reads and writes as `std::io`, for rustls.
struct NonBlocking<'a>(&'a TcpStream);

impl std::io::Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl std::io::Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Samples both queues until they stop changing (bytes in flight have landed
/// and been acknowledged) and, when the server is local, add up to `written`;
/// bounded by [`SETTLE_LIMIT`].
async fn settle(
    stream: &TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    written: u64,
) -> Result<Report, StallError> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    let mut last: Option<Report> = None;
    loop {
        let client_send_q = net::queue_sizes(stream)
            .map_err(|err| StallError::Io("reading our Send-Q".to_owned(), err))?
            .send_q;
        let server = tokio::task::spawn_blocking(move || server_side(local, peer))
            .await
            .map_err(StallError::Proc)?;
        let report = Report {
            written,
            client_send_q,
            server_recv_q: server.map(|e| e.recv_q),
        };
        let adds_up = report
            .server_recv_q
            .is_none_or(|recv_q| recv_q + client_send_q == written);
        if (adds_up && last.as_ref() == Some(&report)) || Instant::now() >= deadline {
            return Ok(report);
        }
        last = Some(report);
        tokio::time::sleep(SETTLE_STEP).await;
    }
}

/// The server's end of our connection: the socket whose local and remote
/// addresses are our remote and local ones (IPv4-mapped addresses unmapped).
pub fn server_side(local: SocketAddr, peer: SocketAddr) -> Option<SocketEntry> {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let filter = Filter {
        port: Some(peer.port()),
        tcp: Some(true),
        ..Filter::default()
    };
    sockets::read(&filter)
        .ok()?
        .into_iter()
        .find(|e| canonical(e.local) == canonical(peer) && canonical(e.remote) == canonical(local))
}

/// The report in words: the numbers, then where the bytes wait.
pub fn explain(report: &Report, peer: SocketAddr) -> String {
    let mut out = format!(
        "client Send-Q: {} bytes (written by us, not yet acknowledged by the server's kernel)\n",
        report.client_send_q
    );
    match report.server_recv_q {
        Some(recv_q) => {
            out.push_str(&format!(
                "server Recv-Q: {recv_q} bytes (received by the server's kernel, never read by the server)\n"
            ));
            let sum = recv_q + report.client_send_q;
            let verdict = if sum == report.written {
                "every byte written"
            } else {
                "not every byte written (some were still in flight)"
            };
            out.push_str(&format!(
                "{} + {recv_q} = {sum} bytes: {verdict} waits in a kernel queue\n",
                report.client_send_q
            ));
        }
        None => out.push_str(&format!(
            "server Recv-Q: unknown ({peer} is not a socket on this machine)\n"
        )),
    }
    out.push_str(
        "The server accepts but never calls recv(): its receive buffer filled and its\n\
         kernel advertised a zero window, so our kernel kept the rest in our send buffer\n\
         until that was full too and send() would block (EAGAIN). Nothing is lost; the\n\
         bytes wait in the two kernel queues until the server reads or the connection closes.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanation_adds_up() {
        let report = Report {
            written: 678_168,
            client_send_q: 269_868,
            server_recv_q: Some(408_300),
        };
        let peer = "127.0.0.1:65434".parse().expect("literal");
        let text = explain(&report, peer);
        assert!(text.contains("client Send-Q: 269868 bytes"), "{text}");
        assert!(text.contains("server Recv-Q: 408300 bytes"), "{text}");
        assert!(
            text.contains("269868 + 408300 = 678168 bytes: every byte written"),
            "{text}"
        );
    }
}
