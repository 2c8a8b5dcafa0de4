//! The chat server: per connection, a reader that turns lines into room
//! events and a writer that drains the member's outbox into the socket.
//!
//! The two run concurrently in the connection's task, so a peer that stops
//! reading stalls only its own writer; the room never waits for it. Lines
//! from one peer are handled in the order they arrive, and the room orders
//! all lines once for everyone (see [`super::hub`]).

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::hub::{Batch, Hub, MemberId, Outbox, here, notice};
use super::lines::{Line, LineDecoder};
use super::shared::{self, Shared};
use super::{DEFAULT_IDLE, DEFAULT_MAX_LINE, DEFAULT_MAX_QUEUE, DEFAULT_SEND_BUFFER};
use crate::net::{self, ConnInfo, Connection, EofInFrame, FrameReader, ServerOptions};

/// A writer sends up to this much per write when lines are waiting.
const BATCH_BYTES: usize = 64 * 1024;
/// Read buffer to start with: chat lines are short; it grows for long ones.
const READ_SIZE: usize = 4 * 1024;
/// How long a leaving client's last lines (or the shutdown notice) may take.
const FAREWELL: Duration = Duration::from_secs(2);

/// What a chat server serves with: its own limits and those of every server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest line accepted, without its newline.
    pub max_line: usize,
    /// Bytes of pending lines per client before it is dropped.
    pub max_queue: usize,
    /// Connection limit, idle timeout (none by default: [`DEFAULT_IDLE`]
    /// is zero), grace, and each client's SO_SNDBUF ([`DEFAULT_SEND_BUFFER`]:
    /// left alone, Linux grows a send buffer to 4 MiB for a peer that does
    /// not read, kernel memory per client and megabytes that hide a slow
    /// reader from its queue limit).
    pub server: ServerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_line: DEFAULT_MAX_LINE,
            max_queue: DEFAULT_MAX_QUEUE,
            server: ServerOptions {
                send_buffer: Some(DEFAULT_SEND_BUFFER),
                ..ServerOptions::with_idle(DEFAULT_IDLE)
            },
        }
    }
}

/// Serves one chat room on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: impl net::IntoListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Room::new(options).serve(listener, shutdown).await
}

/// A chat room a program holds: served on listeners of its choosing, and
/// asked how many are in it.
#[derive(Clone)]
pub struct Room {
    hub: Hub,
    shared: Option<Shared>,
    options: Options,
}

impl Room {
    /// An empty room with these limits, on this node alone.
    pub fn new(options: Options) -> Self {
        let hub = Hub::new(options.max_queue);
        Room {
            hub,
            shared: None,
            options,
        }
    }

    /// This node's part of a room shared with other nodes through Redis
    /// (see [`shared`]); it connects in the background.
    pub fn shared(options: Options, redis: shared::Options) -> Result<Self, shared::Error> {
        let (hub, shared) = Shared::start(options.max_queue, redis)?;
        Ok(Room {
            hub,
            shared: Some(shared),
            options,
        })
    }

    /// Whether every node's lines reach this node's members (always, for
    /// a room on one node).
    pub fn is_whole(&self) -> bool {
        self.shared.as_ref().is_none_or(Shared::is_up)
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.hub.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.hub.is_empty()
    }

    /// Serves the room on `listener` until `shutdown` resolves; the members
    /// are told `* server shutting down` and the connections end gracefully.
    /// A shared room first waits (up to [`shared::STARTUP_WAIT`]) for Redis,
    /// so that those who connect first are in the whole room, and at the
    /// end sends its last lines and leaves.
    pub async fn serve(
        &self,
        listener: impl net::IntoListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        if let Some(shared) = &self.shared
            && !shared.wait_whole(shared::STARTUP_WAIT).await
        {
            warn!("Redis does not answer: serving the room local-only until it does");
        }
        let member = Member {
            hub: self.hub.clone(),
            shared: self.shared.clone(),
            max_line: self.options.max_line.max(1),
        };
        let served = net::serve(
            listener,
            self.options.server.clone(),
            shutdown,
            move |io, conn| handle(io, conn, member.clone()),
        )
        .await;
        if let Some(shared) = &self.shared {
            shared.close(FAREWELL).await;
        }
        served
    }
}

/// What each connection's task needs of the room.
#[derive(Clone)]
struct Member {
    hub: Hub,
    shared: Option<Shared>,
    max_line: usize,
}

/// The commands whose way differs in a shared room: through Redis when
/// there is one, on the hub alone when not.
impl Member {
    async fn say(&self, id: MemberId, text: &str) {
        if let Some(shared) = &self.shared {
            shared.ready_to_send().await;
        }
        self.hub.say(id, text);
    }

    async fn rename(&self, id: MemberId, nick: &str) {
        let renamed = match &self.shared {
            Some(shared) => shared
                .rename(&self.hub, id, nick)
                .await
                .map_err(|e| e.to_string()),
            None => self.hub.rename(id, nick).map_err(|e| e.to_string()),
        };
        if let Err(why) = renamed {
            self.hub.tell(id, &why);
        }
    }

    async fn who(&self, id: MemberId) {
        let Some(shared) = &self.shared else {
            return self.hub.who(id);
        };
        match shared.who().await {
            Some(names) => self.hub.tell(id, &here(&names)),
            None => {
                self.hub.who(id);
                self.hub
                    .tell(id, "that is this node only: Redis is unreachable");
            }
        }
    }
}

/// How a member's reading side ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The peer sent `quit` or closed its side.
    Left,
    /// The server is shutting down.
    Shutdown,
}

async fn handle<S>(io: S, conn: ConnInfo, room: Member) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connection = Connection::new(io, LineDecoder::new(room.max_line), conn.shutdown.clone())
        .with_read_size(READ_SIZE);
    let (mut lines, mut writer) = connection.split();
    let hub = &room.hub;
    let (id, outbox) = hub.join(conn.peer);
    if room.shared.as_ref().is_some_and(|shared| !shared.is_up()) {
        hub.tell(id, shared::LOCAL_ONLY);
    }
    let writing = write_lines(&mut writer, &outbox);
    tokio::pin!(writing);
    let end = tokio::select! {
        end = read_lines(&mut lines, &room, id, &conn.shutdown) => end,
        // The writer only stops on its own when the peer is gone or was
        // dropped for falling behind.
        written = &mut writing => {
            hub.leave(id, false);
            return written;
        }
    };
    if matches!(end, Ok(End::Shutdown)) {
        // Everyone is leaving: no point telling each one about all the others.
        hub.leave(id, true);
        outbox.close_with(Some(notice("server shutting down")));
    } else {
        hub.leave(id, false);
        outbox.close_with(None);
    }
    let farewell = tokio::time::timeout(FAREWELL, writing).await;
    // A reading error (a reset, say) is why we are here: report it first.
    end?;
    farewell.unwrap_or_else(|_| {
        debug!("{}: last lines not taken within {FAREWELL:?}", conn.peer);
        Ok(())
    })
}

/// Turns the peer's lines into room events until it leaves or the server stops.
async fn read_lines<R: AsyncRead + Unpin>(
    lines: &mut FrameReader<R, LineDecoder>,
    room: &Member,
    id: MemberId,
    shutdown: &CancellationToken,
) -> io::Result<End> {
    let (hub, max_line) = (&room.hub, room.max_line);
    loop {
        // The reader stops for a shutdown only between lines; a member who
        // typed half a line must not hold the server up until the grace ends.
        let line = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(End::Shutdown),
            line = lines.read_frame() => line,
        };
        let bytes = match line {
            Ok(None) => return Ok(End::Left),
            // A reset can look like a clean end (when a write saw the error
            // first), so a last line without its newline is not relayed.
            Err(err) => match EofInFrame::find(&err) {
                Some(eof) => {
                    debug!(
                        "closed in the middle of a line: {} bytes dropped",
                        eof.buffered
                    );
                    return Ok(End::Left);
                }
                None => return Err(err),
            },
            Ok(Some(Line::TooLong)) => {
                hub.tell(id, &format!("line longer than {max_line} bytes refused"));
                continue;
            }
            Ok(Some(Line::Text(bytes) | Line::Unterminated(bytes))) => bytes,
        };
        let text = String::from_utf8_lossy(&bytes);
        match Command::parse(&text) {
            Command::Quit => return Ok(End::Left),
            Command::Say => room.say(id, &text).await,
            Command::Nick(nick) => room.rename(id, nick).await,
            Command::Who => room.who(id).await,
            Command::Unknown(command) => hub.tell(
                id,
                &format!("unknown command /{command} (try /nick NAME, /who or quit)"),
            ),
        }
    }
}

/// Sends the outbox's lines, a batch per write, until it is closed and empty.
async fn write_lines<W: AsyncWrite + Unpin>(writer: &mut W, outbox: &Outbox) -> io::Result<()> {
    loop {
        match outbox.next_batch(BATCH_BYTES).await {
            Batch::Lines(batch) => tokio::select! {
                written = writer.write_all(&batch) => written?,
                // A write stuck on a peer that does not read ends here.
                () = outbox.kicked() => return Err(too_slow()),
            },
            Batch::Closed => return writer.shutdown().await,
            Batch::Kicked => return Err(too_slow()),
        }
    }
}

fn too_slow() -> io::Error {
    io::Error::other("too slow: outgoing queue full")
}

/// What a line asks of the server.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    /// Relay it to the room.
    Say,
    /// `quit`: leave.
    Quit,
    /// `/nick NAME`.
    Nick(&'a str),
    /// `/who`.
    Who,
    /// Any other `/word`.
    Unknown(&'a str),
}

impl<'a> Command<'a> {
    fn parse(text: &'a str) -> Self {
        let trimmed = text.trim();
        if trimmed == "quit" {
            return Command::Quit;
        }
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Command::Say;
        };
        let (word, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        match word {
            "nick" => Command::Nick(arg.trim()),
            "who" => Command::Who,
            _ => Command::Unknown(word),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(Command::parse("hello"), Command::Say);
        assert_eq!(Command::parse(" quit "), Command::Quit);
        assert_eq!(Command::parse("quit now"), Command::Say);
        assert_eq!(Command::parse("/nick  alice "), Command::Nick("alice"));
        assert_eq!(Command::parse("/nick"), Command::Nick(""));
        assert_eq!(Command::parse("/who"), Command::Who);
        assert_eq!(Command::parse("/dance now"), Command::Unknown("dance"));
    }
}
