//! app: the framed request/response protocol of app-server.py, libserver.py
//! and libclient.py, with a codec shared by server, client and load generators.
//!
//! ```text
//! +--------------------+--------------------------------+------------------+
//! | u16, big-endian:   | JSON header, UTF-8: byteorder, | content,         |
//! | header length      | content-length, content-type,  | content-length   |
//! |                    | content-encoding [,keep-alive] | bytes            |
//! +--------------------+--------------------------------+------------------+
//! ```
//! frame.rs holds the wire type and codec, content.rs what content means,
//! search.rs the lookup table, server.rs and client.rs the two roles.
//!
//! A client reusing the codec:
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) -> anyhow::Result<()> {
//! use futures_util::{SinkExt, StreamExt};
//! use socklab::app::{Message, MessageCodec, SearchTable, respond};
//! let mut framed = tokio_util::codec::Framed::new(stream, MessageCodec::default());
//! let request = Message::search("morpheus").with_keep_alive(true);
//! framed.send(&request).await?;
//! let answer = framed.next().await.expect("an answer")?;
//! assert!(answer.equivalent(&respond(&SearchTable::builtin(), &request)?));
//! # Ok(()) }
//! ```

pub mod client;
pub mod content;
pub mod frame;
pub mod search;
pub mod server;

pub use client::{client, exchange};
pub use content::{ContentError, Reply};
pub use frame::{ByteOrder, DEFAULT_MAX_CONTENT, FrameError, Header, Message, MessageCodec};
pub use search::SearchTable;
pub use server::{DEFAULT_IDLE, DEFAULT_PORT, ServerOptions, respond, run, serve};
