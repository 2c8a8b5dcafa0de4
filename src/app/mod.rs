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
//! message.rs holds the wire type, codec.rs its codec, header.rs the header
//! parser, head_template.rs the answers' headers written in advance,
//! python_json.rs Python-compatible JSON writing, content.rs what
//! content means, search.rs the lookup table, server.rs and client.rs the
//! two roles.
//!
//! Many keep-alive requests on one connection:
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) -> Result<(), socklab::app::ClientError> {
//! use socklab::app::{Client, Reply};
//! let mut client = Client::new(stream);
//! for query in ["morpheus", "ring"] {
//!     if let Reply::Result(answer) = client.search(query).await? {
//!         assert!(answer.is_string());
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod client;
pub mod codec;
pub mod content;
mod head_template;
pub mod header;
pub mod message;
pub mod python_json;
pub mod search;
pub mod server;

pub use client::{Client, ClientError, describe, request};
pub use codec::{DEFAULT_MAX_CONTENT, FrameError, MessageCodec};
pub use content::{ContentError, Reply};
pub use message::{ByteOrder, Header, Message};
pub use search::SearchTable;
pub use server::{DEFAULT_IDLE, DEFAULT_PORT, Options, ServeError, respond, serve};
