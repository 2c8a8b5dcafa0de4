//! One direction of a relay: a reader filling a bounded queue, and a writer
//! running the stage's steps for each chunk it takes from it.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{End, Options, Stage, Step};

/// Copies `reader` to `writer` through `stage` until EOF (then shuts the
/// writer down), a stage's close or reset, or an error; counts the bytes
/// written in `written`.
pub(super) async fn pump<R, W, S>(
    mut reader: R,
    mut writer: W,
    mut stage: S,
    options: &Options,
    written: &mut u64,
) -> io::Result<End>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
    S: Stage,
{
    let (tx, mut rx) = mpsc::channel(options.queue.max(1));
    let read_size = options.read_size.max(1);
    let read = async move {
        // The buffer's spare capacity is reused from read to read; a chunk
        // handed on is split off, so at most `queue + 1` chunks are alive.
        let mut buf = BytesMut::new();
        loop {
            buf.reserve(read_size);
            let n = reader.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            let chunk = buf.split_to(n).freeze();
            if tx.send((chunk, Instant::now())).await.is_err() {
                // The writer is over (a stage closed): nothing to read for.
                return Ok(());
            }
        }
    };
    let write = async {
        let mut steps = Vec::new();
        loop {
            let eof = tokio::select! {
                next = rx.recv() => match next {
                    Some((data, arrived)) => {
                        stage.chunk(data, arrived, &mut steps);
                        false
                    }
                    None => {
                        stage.eof(&mut steps);
                        true
                    }
                },
                () = stage.wake() => {
                    stage.woken(&mut steps);
                    false
                }
            };
            for step in steps.drain(..) {
                match step {
                    Step::Write(data) => {
                        writer.write_all(&data).await?;
                        *written += data.len() as u64;
                    }
                    Step::Until(when) => tokio::time::sleep_until(when).await,
                    Step::Close => return Ok(End::Closed),
                    Step::Reset => return Ok(End::Reset),
                }
            }
            // TLS holds written records until a flush; plain sockets ignore it.
            writer.flush().await?;
            if eof {
                match writer.shutdown().await {
                    // A peer that has closed both ways has nothing to be told.
                    Err(err) if err.kind() != io::ErrorKind::NotConnected => return Err(err),
                    _ => return Ok(End::Eof),
                }
            }
        }
    };
    tokio::pin!(read, write);
    let mut reading = true;
    loop {
        tokio::select! {
            done = &mut read, if reading => {
                done?;
                reading = false;
            }
            end = &mut write => return end,
        }
    }
}
