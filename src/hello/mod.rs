//! hello: the "Welcome!" / "Hello, NAME!" server of the threaded-server text.
//!
//! ```text
//! server -> client   b'Welcome!'                        on connect, no newline
//! client -> server   b'Michael'   or   b'Michael\n'     one message
//! server -> client   b'Hello, Michael!'  (+ b'\n' if the message had one)
//! client -> server   b'exit'                            the server closes
//! ```
//! The texts' client sends bare names and waits for each answer; line
//! clients such as `nc` end each message with a newline. A newline ends a
//! message at once; bytes without one become a message when the peer pauses
//! for [`MESSAGE_GAP`], or closes.

mod client;
mod codec;
mod server;

use std::io;
use std::time::Duration;

use crate::net::{self, EofInFrame, NetError};

pub use client::Client;
pub use codec::{Answer, Message, MessageCodec};
pub use server::handle;

/// The texts' port.
pub const DEFAULT_PORT: u16 = 9999;
/// A person at `nc` may think for a while.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The greeting sent on connect.
pub const WELCOME: &[u8] = b"Welcome!";
/// A message longer than this closes the connection.
pub const MAX_MESSAGE: usize = 4096;
/// How long a peer must pause before bytes without a newline count as a message.
pub const MESSAGE_GAP: Duration = Duration::from_millis(30);

/// Why a hello conversation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(io::Error),
    /// The peer sent more than [`MAX_MESSAGE`] bytes without a newline.
    #[error("message too long")]
    TooLong,
    /// The peer closed in the middle of a message (the server answers it).
    #[error(transparent)]
    Eof(#[from] EofInFrame),
    /// The client could not send.
    #[error("sending: {0}")]
    Send(io::Error),
    /// The client could not receive.
    #[error("receiving: {0}")]
    Receive(io::Error),
    /// The client could not close.
    #[error("closing: {0}")]
    Close(io::Error),
    /// The server closed before answering.
    #[error("the server closed the connection")]
    Closed,
}

/// `net::Connection` reports EOF inside a frame as an I/O error.
impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        match EofInFrame::sort(err) {
            Ok(eof) => eof.into(),
            Err(err) => Error::Io(err),
        }
    }
}

net::plain_server!("hello", DEFAULT_IDLE, handle);
