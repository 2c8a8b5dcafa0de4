//! One framed connection, for every protocol with messages: frames are read
//! through a codec and answers queued and written together.
//!
//! ```text
//! read_frame   Some(frame)  a whole frame (answers queued so far are written
//!                           first whenever it has to wait for the peer)
//!              None         a clean EOF between frames, or a shutdown
//!                           requested while no frame was in flight
//!              Err          the codec's error, or EOF inside a frame (an
//!                           `io::Error` of kind UnexpectedEof carrying an
//!                           [`EofInFrame`], so any tokio-util codec fits)
//! queue        encodes an answer into the write buffer; nothing is sent yet
//! flush        writes the write buffer in as few writes as the kernel takes
//! close        the last answer out, then a FIN; unread input is drained for
//!              a bounded time so that the kernel does not answer it with a
//!              reset that destroys our last answer before the peer reads it
//! ```
//!
//! Every method that waits is cancel-safe: a `read_frame` dropped by a
//! timeout keeps what it had read, a `flush` what it had not yet written.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

/// How much is read at a time.
const READ_SIZE: usize = 8 * 1024;
/// Queued answers past this are written before another frame is decoded,
/// so a peer that pipelines without reading cannot grow our buffer.
pub const FLUSH_AT: usize = 64 * 1024;
/// How long [`Connection::close`] drains unread input at most.
pub const LINGER_TIME: Duration = Duration::from_secs(1);
/// How many unread bytes [`Connection::close`] drains at most.
pub const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// The peer closed in the middle of a frame.
#[derive(Debug, thiserror::Error)]
#[error("the peer closed the connection in the middle of a message ({buffered} bytes of it came)")]
pub struct EofInFrame {
    /// Bytes of the unfinished frame that had arrived.
    pub buffered: usize,
}

impl EofInFrame {
    /// The `io::Error` (UnexpectedEof) that carries it.
    pub fn error(buffered: usize) -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, EofInFrame { buffered })
    }

    /// The [`EofInFrame`] inside `err`, if that is what it is.
    pub fn find(err: &io::Error) -> Option<&EofInFrame> {
        err.get_ref()?.downcast_ref()
    }

    /// Splits a read error into EOF inside a frame or any other I/O error,
    /// for a codec error's `From<io::Error>`.
    pub fn sort(err: io::Error) -> Result<EofInFrame, io::Error> {
        match Self::find(&err) {
            Some(eof) => Ok(EofInFrame {
                buffered: eof.buffered,
            }),
            None => Err(err),
        }
    }
}

/// A stream with a codec, a read buffer, a write buffer and a shutdown token.
#[derive(Debug)]
pub struct Connection<S, C> {
    io: S,
    reading: Reading<C>,
    write_buf: BytesMut,
}

/// The reading half of a [`Connection`] after [`Connection::split`], for a
/// protocol whose answers come from elsewhere (chat's room) and are written
/// by a task of their own, so that a peer that stops reading never stalls
/// what it sends.
#[derive(Debug)]
pub struct FrameReader<R, C> {
    io: R,
    reading: Reading<C>,
}

/// What reading needs besides the stream: shared by both types.
#[derive(Debug)]
struct Reading<C> {
    codec: C,
    buf: BytesMut,
    shutdown: CancellationToken,
    eof: bool,
    /// How much room a read gets at least.
    read_size: usize,
}

impl<S, C> Connection<S, C> {
    /// Wraps a server's stream; `shutdown` is the connection's token (a
    /// frame in flight is finished, no new one is waited for).
    pub fn new(io: S, codec: C, shutdown: CancellationToken) -> Self {
        Self {
            io,
            reading: Reading {
                codec,
                buf: BytesMut::new(),
                shutdown,
                eof: false,
                read_size: READ_SIZE,
            },
            write_buf: BytesMut::new(),
        }
    }

    /// Wraps a client's stream, which has no shutdown of its own.
    pub fn client(io: S, codec: C) -> Self {
        Self::new(io, codec, CancellationToken::new())
    }

    /// Reads into at least `bytes` of room instead of 8 KiB: less memory
    /// per connection for a protocol of short frames and many idle peers
    /// (chat); a longer frame still grows the buffer.
    pub fn with_read_size(mut self, bytes: usize) -> Self {
        self.reading.read_size = bytes.max(1);
        self
    }

    /// The stream, for socket options and addresses.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream, mutably (writes past the codec, as the texts' clients make).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The codec, mutably (its limits or state).
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.reading.codec
    }

    /// Bytes read but not yet decoded into a frame.
    pub fn read_buffer(&self) -> &BytesMut {
        &self.reading.buf
    }

    /// Takes the bytes read but not yet decoded (a protocol that also ends a
    /// message on a pause, as hello does).
    pub fn take_buffered(&mut self) -> BytesMut {
        self.reading.buf.split()
    }

    /// Bytes queued but not yet written.
    pub fn queued(&self) -> usize {
        self.write_buf.len()
    }

    /// Whether the server this connection belongs to is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.reading.shutdown.is_cancelled()
    }

    /// Unwraps the stream; bytes still buffered either way are dropped.
    pub fn into_inner(self) -> S {
        self.io
    }
}

impl<S, C> Connection<S, C>
where
    S: AsyncRead + AsyncWrite,
{
    /// Splits into a [`FrameReader`], which keeps what was read but not yet
    /// decoded, and the stream's write half; answers still queued are dropped.
    pub fn split(self) -> (FrameReader<ReadHalf<S>, C>, WriteHalf<S>) {
        let (read, write) = tokio::io::split(self.io);
        let reader = FrameReader {
            io: read,
            reading: self.reading,
        };
        (reader, write)
    }
}

impl<S, C> Connection<S, C>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Decoder,
    C::Error: From<io::Error>,
{
    /// Reads the next frame: `None` on a clean EOF or a shutdown between
    /// frames, an error on EOF inside one.
    pub async fn read_frame(&mut self) -> Result<Option<C::Item>, C::Error> {
        loop {
            if self.write_buf.len() >= FLUSH_AT {
                self.flush().await?;
            }
            if let Some(ended) = self.reading.decode()? {
                return Ok(ended);
            }
            // Nothing more to answer until the peer sends: what was queued
            // goes out now, in one write.
            self.flush().await?;
            if !self.reading.fill(&mut self.io).await? {
                return Ok(None);
            }
        }
    }
}

impl<R, C> FrameReader<R, C>
where
    R: AsyncRead + Unpin,
    C: Decoder,
    C::Error: From<io::Error>,
{
    /// Reads the next frame, as [`Connection::read_frame`] does.
    pub async fn read_frame(&mut self) -> Result<Option<C::Item>, C::Error> {
        loop {
            if let Some(ended) = self.reading.decode()? {
                return Ok(ended);
            }
            if !self.reading.fill(&mut self.io).await? {
                return Ok(None);
            }
        }
    }
}

impl<R, C> FrameReader<R, C> {
    /// Whether the server this connection belongs to is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.reading.shutdown.is_cancelled()
    }
}

impl<C> Reading<C>
where
    C: Decoder,
    C::Error: From<io::Error>,
{
    /// A frame or the end of the frames (`Some`), or `None` when more input
    /// is needed.
    fn decode(&mut self) -> Result<Option<Option<C::Item>>, C::Error> {
        if let Some(frame) = self.codec.decode(&mut self.buf)? {
            return Ok(Some(Some(frame)));
        }
        if !self.eof {
            return Ok(None);
        }
        // After EOF a remainder that is no whole frame is [`EofInFrame`]
        // whatever the codec's `decode_eof` would say, and stays in the
        // buffer for `take_buffered` (hello answers it as a last message).
        if self.buf.is_empty() {
            Ok(Some(None))
        } else {
            Err(EofInFrame::error(self.buf.len()).into())
        }
    }

    /// Reads more input: `false` when a shutdown came while no frame was in
    /// flight.
    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> io::Result<bool> {
        let between = self.buf.is_empty();
        if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
            self.buf.reserve(self.read_size);
        }
        let read = tokio::select! {
            biased;
            read = io.read_buf(&mut self.buf) => read?,
            () = self.shutdown.cancelled(), if between => return Ok(false),
        };
        if read == 0 {
            self.eof = true;
        }
        Ok(true)
    }
}

impl<S, C> Connection<S, C>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Encodes `item` into the write buffer; [`flush`](Self::flush) or the
    /// next [`read_frame`](Connection::read_frame) that waits sends it.
    pub fn queue<I>(&mut self, item: I) -> Result<(), <C as Encoder<I>>::Error>
    where
        C: Encoder<I>,
    {
        self.reading.codec.encode(item, &mut self.write_buf)
    }

    /// Drops the first `n` buffered input bytes (at most all of them): a
    /// frame's content that its codec left in place for the caller to read
    /// through [`read_buffer`](Self::read_buffer).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.reading.buf.len());
        self.reading.buf.advance(n);
    }

    /// Queues bytes already encoded (an answer, or part of one, written in
    /// advance).
    pub fn queue_encoded(&mut self, bytes: &[u8]) {
        self.write_buf.extend_from_slice(bytes);
    }

    /// Queues `item` and writes everything queued.
    pub async fn send<I>(&mut self, item: I) -> Result<(), <C as Encoder<I>>::Error>
    where
        C: Encoder<I>,
        <C as Encoder<I>>::Error: From<io::Error>,
    {
        self.queue(item)?;
        self.flush().await?;
        Ok(())
    }

    /// Writes everything queued, then flushes the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        while !self.write_buf.is_empty() {
            let n = self.io.write(&self.write_buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.write_buf.advance(n);
        }
        self.io.flush().await
    }

    /// Writes what is queued and shuts the write side down (a FIN), as a
    /// stream protocol's half-close or a client's last word.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.io.shutdown().await
    }

    /// Writes what is queued and closes: at once when the peer has sent
    /// nothing unread (a FIN, after TLS's close_notify, without which
    /// OpenSSL 3 peers report an unexpected EOF), else
    /// after a FIN and draining its input for at most [`LINGER_TIME`] and
    /// [`LINGER_BYTES`].
    pub async fn close(mut self) -> io::Result<()> {
        self.flush().await?;
        if self.reading.buf.is_empty() && !self.reading.eof {
            let mut probe = [0u8; 1];
            // One poll: Pending means nothing is waiting to be read.
            match self.io.read(&mut probe).now_or_never() {
                None | Some(Ok(0)) => return self.io.shutdown().await,
                Some(_) => {}
            }
        } else if self.reading.eof {
            return self.io.shutdown().await;
        }
        linger(&mut self.io).await
    }
}

/// Sends a FIN, then discards what the peer still sends until it closes, for
/// at most [`LINGER_TIME`] and [`LINGER_BYTES`]. Closing with unread input
/// would make the kernel send a reset, which can destroy our last answer
/// before the peer reads it.
pub async fn linger<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> io::Result<()> {
    io.shutdown().await?;
    let mut sink = [0u8; 8192];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while drained < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;
    use tokio_util::codec::LinesCodec;

    fn strict() -> LinesCodec {
        LinesCodec::new_with_max_length(100)
    }

    #[tokio::test]
    async fn frames_then_none_on_a_clean_eof() {
        let (mut peer, ours) = duplex(64);
        let mut conn = Connection::client(ours, strict());
        peer.write_all(b"one\ntwo\n").await.expect("write");
        drop(peer);
        assert_eq!(
            conn.read_frame().await.expect("one").as_deref(),
            Some("one")
        );
        assert_eq!(
            conn.read_frame().await.expect("two").as_deref(),
            Some("two")
        );
        assert!(conn.read_frame().await.expect("eof").is_none());
        assert!(conn.read_frame().await.expect("still eof").is_none());
    }

    #[tokio::test]
    async fn eof_inside_a_frame_is_an_error() {
        let (mut peer, ours) = duplex(64);
        let mut conn = Connection::client(ours, strict());
        peer.write_all(b"whole\nhal").await.expect("write");
        drop(peer);
        assert_eq!(
            conn.read_frame().await.expect("whole").as_deref(),
            Some("whole")
        );
        let err = conn.read_frame().await.expect_err("truncated");
        let tokio_util::codec::LinesCodecError::Io(err) = err else {
            panic!("not an I/O error: {err}")
        };
        assert_eq!(EofInFrame::find(&err).map(|e| e.buffered), Some(3), "{err}");
        assert_eq!(conn.take_buffered().as_ref(), b"hal");
    }

    #[tokio::test]
    async fn answers_are_written_together_when_input_runs_out() {
        let (mut peer, ours) = duplex(1024);
        let mut conn = Connection::client(ours, strict());
        peer.write_all(b"a\nb\n").await.expect("write");
        for _ in 0..2 {
            let line = conn.read_frame().await.expect("frame").expect("a line");
            conn.queue(line.to_uppercase().as_str()).expect("encode");
        }
        assert_eq!(
            conn.queued(),
            4,
            "nothing is sent while frames are buffered"
        );
        let waiting = tokio::time::timeout(Duration::from_millis(50), conn.read_frame()).await;
        assert!(waiting.is_err(), "no third line was sent");
        let mut answers = [0u8; 4];
        peer.read_exact(&mut answers).await.expect("answers");
        assert_eq!(&answers, b"A\nB\n");
    }

    #[tokio::test]
    async fn a_shutdown_between_frames_ends_reading_but_not_inside_one() {
        let (mut peer, ours) = duplex(64);
        let token = CancellationToken::new();
        let mut conn = Connection::new(ours, strict(), token.clone());
        peer.write_all(b"par").await.expect("write");
        token.cancel();
        let rest = async {
            tokio::task::yield_now().await;
            peer.write_all(b"tial\n").await.expect("write");
            peer
        };
        let (frame, _peer) = tokio::join!(conn.read_frame(), rest);
        assert_eq!(frame.expect("frame").as_deref(), Some("partial"));
        assert!(conn.read_frame().await.expect("shutdown").is_none());
    }

    #[tokio::test]
    async fn close_drains_unread_input_so_the_answer_survives() {
        let (mut peer, ours) = duplex(1 << 16);
        let mut conn = Connection::client(ours, strict());
        peer.write_all(b"question\nnoise that is never read")
            .await
            .expect("write");
        let line = conn.read_frame().await.expect("frame").expect("line");
        conn.queue(line.as_str()).expect("encode");
        drop(peer.write_all(b" more").await);
        let closing = tokio::spawn(conn.close());
        let mut answer = Vec::new();
        peer.shutdown().await.expect("peer's FIN");
        peer.read_to_end(&mut answer)
            .await
            .expect("answer then EOF");
        assert_eq!(answer, b"question\n");
        closing.await.expect("task").expect("close");
    }

    #[tokio::test]
    async fn a_split_keeps_what_was_read_and_writes_on_its_own_half() {
        let (mut peer, ours) = duplex(64);
        let token = CancellationToken::new();
        let mut conn = Connection::new(ours, strict(), token.clone());
        peer.write_all(b"one\ntwo\nthr").await.expect("write");
        assert_eq!(
            conn.read_frame().await.expect("one").as_deref(),
            Some("one")
        );
        let (mut reader, mut writer) = conn.split();
        writer.write_all(b"hi\n").await.expect("write half");
        let mut hi = [0u8; 3];
        peer.read_exact(&mut hi).await.expect("read");
        assert_eq!(&hi, b"hi\n");
        assert_eq!(
            reader.read_frame().await.expect("two").as_deref(),
            Some("two")
        );
        peer.write_all(b"ee\n").await.expect("write");
        assert_eq!(
            reader.read_frame().await.expect("three").as_deref(),
            Some("three")
        );
        token.cancel();
        assert!(reader.read_frame().await.expect("shutdown").is_none());
        assert!(reader.is_shutting_down());
    }
}
