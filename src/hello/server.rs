//! One hello conversation on a [`Connection`]: the welcome, an answer per
//! message, until `exit`, EOF or the server's shutdown.
//!
//! A message may also end without a newline, when the peer pauses for
//! [`MESSAGE_GAP`] after its last read. `read_frame` waits for whole frames,
//! so it runs under a deadline of the last read plus the gap, and only once
//! input is there: an idle conversation holds no timer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, timeout_at};

use super::{Answer, Error, MESSAGE_GAP, MessageCodec};
use crate::net::{ConnInfo, Connection, ReadReady, read_ready};

/// Serves one hello conversation until `exit` or EOF.
pub async fn handle<S>(io: S, conn: ConnInfo) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + ReadReady + Unpin,
{
    let paced = Paced {
        io,
        last_read: Instant::now(),
    };
    let mut framed = Connection::new(paced, MessageCodec::default(), conn.shutdown.clone());
    framed.queue(Answer::Welcome)?;
    loop {
        let deadline = if framed.read_buffer().is_empty() {
            framed.flush().await?;
            tokio::select! {
                biased;
                ready = read_ready(&mut framed.get_mut().io) => ready?,
                () = conn.shutdown.cancelled() => break,
            }
            Instant::now() + MESSAGE_GAP
        } else {
            framed.get_ref().last_read + MESSAGE_GAP
        };
        let read = match timeout_at(deadline, framed.read_frame()).await {
            Ok(read) => read,
            // Readiness without input (an in-memory stream is always ready),
            // or input since the deadline was set: wait again.
            Err(_) if framed.read_buffer().is_empty() => continue,
            Err(_) if Instant::now() < framed.get_ref().last_read + MESSAGE_GAP => continue,
            Err(_) => {
                // The peer paused: what it sent is a message.
                let message = framed.take_buffered();
                if !answer(&mut framed, &message, false)? {
                    break;
                }
                continue;
            }
        };
        match read {
            Ok(Some(message)) => {
                if !answer(&mut framed, &message.text, message.line)? {
                    break;
                }
            }
            // A clean EOF, or the server's shutdown between messages.
            Ok(None) => break,
            // A last message without its newline is answered as one.
            Err(Error::Eof(_)) => {
                let message = framed.take_buffered();
                answer(&mut framed, &message, false)?;
                break;
            }
            Err(Error::TooLong) => {
                framed.queue(Answer::TooLong)?;
                framed.flush().await?;
                return Err(Error::TooLong);
            }
            Err(err) => return Err(err),
        }
    }
    Ok(framed.shutdown().await?)
}

/// Queues the answer to one message; false once the peer said `exit`.
fn answer<S>(
    framed: &mut Connection<S, MessageCodec>,
    message: &[u8],
    line: bool,
) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut name = message;
    if let [rest @ .., b'\r'] = name {
        name = rest;
    }
    if name == b"exit" {
        return Ok(false);
    }
    if !name.is_empty() {
        framed.queue(Answer::Hello { name, line })?;
    }
    Ok(true)
}

/// A stream that remembers when input last arrived, for the pause rule.
#[derive(Debug)]
struct Paced<S> {
    io: S,
    last_read: Instant,
}

impl<S: AsyncRead + Unpin> AsyncRead for Paced<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.last_read = Instant::now();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Paced<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
