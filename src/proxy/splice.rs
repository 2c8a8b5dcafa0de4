//! The TCP proxy's zero-copy path while a connection has no toxic: bytes go
//! socket → pipe → socket with splice(2) and never enter user space. When a
//! toxic appears, each pipe is emptied into its socket and the connection
//! goes on through the relay core's stages.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::stage::Toxics;

/// What a pipe may hold (F_SETPIPE_SZ; the kernel may round it).
const PIPE_SIZE: usize = 1 << 20;

/// How the zero-copy path ended.
#[derive(Debug)]
pub enum Spliced {
    /// Both directions reached their end: bytes up and down.
    Done(u64, u64),
    /// The rest is the stages': a toxic appeared (the pipes were emptied
    /// first), or no pipe could be had (descriptors run out); bytes so far.
    Staged(u64, u64),
}

/// A pipe's two ends and the bytes it holds.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    held: AtomicUsize,
    moved: AtomicU64,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills the two descriptors of a live array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just opened and are owned here alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A larger pipe moves more per call; the default (64 KiB) still works.
        // SAFETY: fcntl on our own descriptor.
        unsafe {
            libc::fcntl(
                write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                PIPE_SIZE as libc::c_int,
            )
        };
        Ok(Pipe {
            read,
            write,
            held: AtomicUsize::new(0),
            moved: AtomicU64::new(0),
        })
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: splice between descriptors we hold, no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Empties `pipe` into `to`.
async fn drain(pipe: &Pipe, to: &TcpStream, seen: &AtomicU64, start: Instant) -> io::Result<()> {
    while pipe.held.load(Ordering::Relaxed) > 0 {
        let held = pipe.held.load(Ordering::Relaxed);
        let n = to
            .async_io(Interest::WRITABLE, || {
                splice(pipe.read.as_raw_fd(), to.as_raw_fd(), held)
            })
            .await?;
        pipe.held.fetch_sub(n, Ordering::Relaxed);
        pipe.moved.fetch_add(n as u64, Ordering::Relaxed);
        seen.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Whether SIGPIPE would end the process. splice(2) into a socket whose
/// peer is gone raises it for the whole process (splice has no
/// MSG_NOSIGNAL), so splicing waits until the program ignores or handles
/// it, as Rust programs do unless they restore the default.
fn sigpipe_kills() -> bool {
    // SAFETY: reads the current disposition into a zeroed struct.
    unsafe {
        let mut now: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut now) != 0
            || now.sa_sigaction == libc::SIG_DFL
    }
}

/// How a direction ended.
enum End {
    /// EOF, passed on as a half-close.
    Eof,
    /// No pipe could be had (descriptors run out) before anything was read.
    NoPipe,
}

/// One direction until EOF (then `to` is shut down for writing). Its pipe
/// is made when the first bytes come: an idle connection holds none.
async fn direction(
    from: &TcpStream,
    to: &TcpStream,
    pipe: &OnceCell<Pipe>,
    seen: &AtomicU64,
    start: Instant,
) -> io::Result<End> {
    // A peek, not readiness alone: a fresh socket may be reported readable
    // with nothing to read, and each pipe costs two descriptors.
    from.peek(&mut [0u8; 1]).await?;
    let Ok(pipe) = pipe.get_or_try_init(|| async { Pipe::new() }).await else {
        return Ok(End::NoPipe);
    };
    loop {
        let n = from
            .async_io(Interest::READABLE, || {
                splice(from.as_raw_fd(), pipe.write.as_raw_fd(), PIPE_SIZE)
            })
            .await?;
        if n == 0 {
            // SAFETY: shutdown(2) of the write side of a socket we hold.
            unsafe { libc::shutdown(to.as_raw_fd(), libc::SHUT_WR) };
            return Ok(End::Eof);
        }
        pipe.held.fetch_add(n, Ordering::Relaxed);
        drain(pipe, to, seen, start).await?;
    }
}

/// Relays `client` and `server` by splice until both have ended, nothing
/// has moved for `idle`, or `toxics` gains a toxic.
pub async fn relay(
    client: &TcpStream,
    server: &TcpStream,
    toxics: &mut Toxics,
    idle: Option<Duration>,
) -> io::Result<Spliced> {
    if sigpipe_kills() {
        tracing::debug!("SIGPIPE is not ignored: copying instead of splicing");
        return Ok(Spliced::Staged(0, 0));
    }
    let (up, down) = (OnceCell::new(), OnceCell::new());
    let moved = |pipe: &OnceCell<Pipe>| pipe.get().map_or(0, |p| p.moved.load(Ordering::Relaxed));
    let start = Instant::now();
    let seen = AtomicU64::new(0);
    let mut up_done = false;
    let mut down_done = false;
    {
        let upward = direction(client, server, &up, &seen, start);
        let downward = direction(server, client, &down, &seen, start);
        tokio::pin!(upward, downward);
        let idle_check = idle.map(|d| d / 4 + Duration::from_millis(1));
        loop {
            if up_done && down_done {
                return Ok(Spliced::Done(moved(&up), moved(&down)));
            }
            // A toxic added before bytes arrive must see them: polled after
            // the directions (in select's random order half the time), the
            // change would let the bytes waiting with it through unharmed.
            tokio::select! {
                biased;
                changed = toxics.changed() => match changed {
                    Ok(()) if !toxics.borrow_and_update().is_empty() => break,
                    Ok(()) => {}
                    // The proxy is gone: so is the connection.
                    Err(_) => return Ok(Spliced::Done(moved(&up), moved(&down))),
                },
                done = &mut upward, if !up_done => match done? {
                    End::Eof => up_done = true,
                    End::NoPipe => break,
                },
                done = &mut downward, if !down_done => match done? {
                    End::Eof => down_done = true,
                    End::NoPipe => break,
                },
                () = sleep(idle_check) => {
                    let quiet = start.elapsed().saturating_sub(Duration::from_millis(seen.load(Ordering::Relaxed)));
                    if idle.is_some_and(|idle| quiet >= idle) {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, format!("idle for {}s", quiet.as_secs_f64())));
                    }
                }
            }
        }
    }
    // What the pipes hold was read from one side: it belongs to the other.
    if let Some(up) = up.get() {
        drain(up, server, &seen, start).await?;
    }
    if let Some(down) = down.get() {
        drain(down, client, &seen, start).await?;
    }
    Ok(Spliced::Staged(moved(&up), moved(&down)))
}

async fn sleep(every: Option<Duration>) {
    match every {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}
