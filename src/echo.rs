//! echo: every byte back until the peer closes (echo-server.py, multiconn-*.py).
//!
//! ```text
//! client -> server   any bytes
//! server -> client   the same bytes, in order
//! ```
//! The client alone closes; the server finishes echoing after the peer's
//! half-close and then closes its side.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::net::{
    self, Cancelled, ConnInfo, Endpoint, NetError, PREVIEW_LIMIT, ReadReady, escape_bytes,
    read_ready,
};

/// The texts' port.
pub const DEFAULT_PORT: u16 = 65432;
/// An echo peer may sit quietly between messages for a while.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The message of echo-client.py.
pub const DEFAULT_MESSAGE: &str = "Hello, world";
/// The messages multiconn-client.py sends on every connection.
pub const MULTICONN_MESSAGES: [&str; 2] = ["Message 1 from client.", "Message 2 from client."];

/// What a read takes at most, once a peer sends in bulk.
const BUFFER: usize = 256 * 1024;
/// What a read takes until one fills it: the tokio anchor's size. Against
/// 256 KiB from the start it cost a little less server CPU per 16 KiB round
/// trip in both orders of one sitting, by about the noise (BENCHMARKS.md).
const FIRST_BUFFER: usize = 64 * 1024;

net::plain_server!("echo", DEFAULT_IDLE, handle);

/// Serves one echo connection: every byte back until the peer closes.
pub async fn handle<S>(mut io: S, conn: ConnInfo) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    copy_back(&mut io, BUFFER, Some(&conn.shutdown), |_| {}).await?;
    Ok(())
}

/// The loop echo and upper share: reads, `transform`s the bytes in place,
/// writes them back, and after the peer's half-close closes our side.
/// Reads take up to 64 KiB, or `buffer` if less, and grow to `buffer` once
/// one fills them (a bulk sender). Returns the bytes copied. With a
/// `shutdown` token a shutdown closes between reads; without one the stream
/// runs until the peer's EOF.
pub(crate) async fn copy_back<S>(
    io: &mut S,
    buffer: usize,
    shutdown: Option<&CancellationToken>,
    transform: fn(&mut [u8]),
) -> io::Result<u64>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    let never;
    let shutdown = match shutdown {
        Some(token) => token,
        None => {
            never = CancellationToken::new();
            &never
        }
    };
    // A connection that has sent nothing yet holds no buffer: thousands of
    // idle peers would otherwise cost a touched page each.
    tokio::select! {
        biased;
        ready = read_ready(io) => ready?,
        () = shutdown.cancelled() => {
            io.shutdown().await?;
            return Ok(0);
        }
    }
    let mut buf = vec![0u8; buffer.min(FIRST_BUFFER)];
    let mut copied = 0;
    // One wait for the whole loop: a new one per read would join the
    // token's waiters and leave them again on every message.
    let mut cancelled = Cancelled::new(shutdown.clone());
    loop {
        // Between reads nothing is in flight, so a shutdown may close here.
        let n = tokio::select! {
            biased;
            read = io.read(&mut buf) => read?,
            () = &mut cancelled => break,
        };
        if n == 0 {
            break;
        }
        transform(&mut buf[..n]);
        io.write_all(&buf[..n]).await?;
        copied += n as u64;
        if n == buf.len() && n < buffer {
            buf.resize(buffer, 0);
        }
    }
    io.shutdown().await?;
    Ok(copied)
}

/// Why an echo exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Writing the message failed.
    #[error("sending: {0}")]
    Send(io::Error),
    /// Reading the echo failed.
    #[error("receiving: {0}")]
    Receive(io::Error),
    /// Closing our side failed.
    #[error("closing: {0}")]
    Close(io::Error),
    /// The server closed before echoing everything.
    #[error("the server closed after echoing {got} of {sent} bytes")]
    Short {
        /// Bytes that came back.
        got: usize,
        /// Bytes sent.
        sent: usize,
    },
    /// Different bytes came back.
    #[error(
        "echo mismatch at byte {at}: sent {}, got {}",
        escape_bytes(sent, PREVIEW_LIMIT),
        escape_bytes(echoed, PREVIEW_LIMIT)
    )]
    Mismatch {
        /// The first byte that differs.
        at: usize,
        /// What was sent.
        sent: Vec<u8>,
        /// What came back.
        echoed: Vec<u8>,
    },
}

/// Connects to `server`, sends `message` and returns its echo (echo-client.py).
pub async fn client(server: &Endpoint, message: &[u8]) -> Result<Vec<u8>, Error> {
    let mut io = server.connect().await?;
    exchange(&mut io, &[message]).await
}

/// Sends `messages`, reads until as many bytes came back, checks they are the
/// same bytes, closes, and returns them.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    messages: &[&[u8]],
) -> Result<Vec<u8>, Error> {
    let sent: Vec<u8> = messages.concat();
    for message in messages {
        io.write_all(message).await.map_err(Error::Send)?;
    }
    let mut echoed = vec![0u8; sent.len()];
    let mut got = 0;
    while got < sent.len() {
        let n = io.read(&mut echoed[got..]).await.map_err(Error::Receive)?;
        if n == 0 {
            let sent = sent.len();
            return Err(Error::Short { got, sent });
        }
        got += n;
    }
    if echoed != sent {
        let at = sent
            .iter()
            .zip(&echoed)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(Error::Mismatch { at, sent, echoed });
    }
    io.shutdown().await.map_err(Error::Close)?;
    Ok(echoed)
}

/// What the multi-connection client reports as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// Connection `id` is being opened.
    Starting(usize),
    /// `message` is about to be sent on connection `id`.
    Sending(usize, &'a [u8]),
    /// Connection `id` got `echoed` back.
    Received(usize, &'a [u8]),
    /// Connection `id` is being closed.
    Closing(usize),
    /// Connection `id` failed.
    Failed(usize, &'a Error),
}

/// multiconn-client.py: `conns` connections at once, each sending every
/// message and checking the echo; `on_event` hears each step as it happens
/// (from the connections' tasks). Returns each connection's echo, in order
/// of id (1 to `conns`).
pub async fn multiconn<F>(
    server: &Endpoint,
    conns: usize,
    messages: &[String],
    on_event: F,
) -> Vec<Result<Vec<u8>, Error>>
where
    F: Fn(Event<'_>) + Send + Sync + 'static,
{
    let on_event = Arc::new(on_event);
    let messages: Arc<[String]> = messages.into();
    let mut tasks = JoinSet::new();
    for id in 1..=conns {
        let (server, messages, on_event) = (server.clone(), messages.clone(), on_event.clone());
        tasks.spawn(async move {
            let result = one_connection(id, &server, &messages, &*on_event).await;
            if let Err(err) = &result {
                on_event(Event::Failed(id, err));
            }
            (id, result)
        });
    }
    let mut results: Vec<Option<Result<Vec<u8>, Error>>> = (0..conns).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        // A task only ends early by panicking; its slot stays empty.
        if let Ok((id, result)) = joined {
            results[id - 1] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                Err(Error::Receive(io::Error::other(
                    "the connection's task panicked",
                )))
            })
        })
        .collect()
}

async fn one_connection(
    id: usize,
    server: &Endpoint,
    messages: &[String],
    on_event: &(dyn Fn(Event<'_>) + Send + Sync),
) -> Result<Vec<u8>, Error> {
    on_event(Event::Starting(id));
    let mut io = server.connect().await?;
    for message in messages {
        on_event(Event::Sending(id, message.as_bytes()));
    }
    let parts: Vec<&[u8]> = messages.iter().map(String::as_bytes).collect();
    let echoed = exchange(&mut io, &parts).await?;
    on_event(Event::Received(id, &echoed));
    on_event(Event::Closing(id));
    Ok(echoed)
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Serves `chunks` one per read, echoes into nothing, and notes the room
    /// each read was offered.
    struct Scripted {
        chunks: Vec<usize>,
        offered: Vec<usize>,
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.offered.push(buf.remaining());
            if !self.chunks.is_empty() {
                let n = self.chunks.remove(0).min(buf.remaining());
                buf.put_slice(&vec![b'x'; n]);
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Scripted {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl ReadReady for Scripted {
        fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn reads_grow_to_the_whole_buffer_once_a_sender_fills_them() {
        let mut io = Scripted {
            // Short messages, then one that fills the first buffer.
            chunks: vec![100, 16_384, FIRST_BUFFER, 1_000],
            offered: Vec::new(),
        };
        let copied = copy_back(&mut io, BUFFER, None, |_| {})
            .await
            .expect("copied");
        assert_eq!(copied, (100 + 16_384 + FIRST_BUFFER + 1_000) as u64);
        let grown = [FIRST_BUFFER, FIRST_BUFFER, FIRST_BUFFER, BUFFER, BUFFER];
        assert_eq!(io.offered, grown);
    }

    #[tokio::test]
    async fn a_smaller_buffer_is_never_exceeded() {
        let mut io = Scripted {
            chunks: vec![4_096, 4_096],
            offered: Vec::new(),
        };
        copy_back(&mut io, 4_096, None, |_| {})
            .await
            .expect("copied");
        assert_eq!(io.offered, [4_096, 4_096, 4_096]);
    }
}
