//! chat: the group chat room of the texts' ChatServer / ChatClient.
//!
//! ```text
//! client -> server   LINE\n                       anything; `\r\n` is accepted too
//! server -> all      2024/05/01 12:00:00 127.0.0.1 50000\nLINE\n     (local time)
//!                    2024/05/01 12:00:00 alice\nLINE\n                once named
//! client -> server   /nick NAME\n                 a unique name: `* A is now NAME` to all,
//!                                                 `* nickname NAME is taken` to the asker only
//! client -> server   /who\n                       `* here (N): A, B, ...` to the asker only
//! client -> server   quit\n   (or EOF, or reset)  leaves; the others see `* A left`
//! server -> all      * A joined                   on connect, to everyone incl. A
//! server -> all      * A was disconnected (too slow: more than N bytes queued)
//! server -> client   * line longer than N bytes refused       to the sender only
//! server -> client   * server shutting down                   then the server closes
//! ```
//! Invalid UTF-8 is relayed with U+FFFD in place of the bad bytes. The room
//! lives in [`hub`]; [`server`] speaks the line protocol; [`client`] holds the
//! typed client and the interactive session.

pub mod client;
pub mod hub;
pub mod lines;
pub mod log;
pub mod server;
pub mod shared;

use std::time::Duration;

pub use client::{Client, ClientError, Event, SessionError, session};
pub use server::{Options, Room, serve};

/// ChatServer used 9999, which hello already has.
pub const DEFAULT_PORT: u16 = 9998;
/// People sit in a chat room for hours: no idle timeout unless asked for.
pub const DEFAULT_IDLE: Duration = Duration::ZERO;
/// Longest line accepted, without its newline.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// Bytes of pending lines a client may fall behind by before it is dropped:
/// room for the join notices of thousands of clients arriving at once.
pub const DEFAULT_MAX_QUEUE: usize = 1024 * 1024;
/// SO_SNDBUF asked for each client (Linux doubles it): plenty for chat, and
/// it keeps a non-reading client's backlog in its queue, where the limit is.
pub const DEFAULT_SEND_BUFFER: usize = 128 * 1024;
