//! http: the texts' minimal HTTP server, done correctly, and their raw-socket
//! GET client, with TLS.
//!
//! ```text
//! client -> server   GET / HTTP/1.1\r\nHost: localhost:8001\r\n...\r\n\r\n
//! server -> client   HTTP/1.1 200 OK\r\n
//!                    Date: Sun, 27 May 2018 01:01:01 GMT\r\n
//!                    Content-Type: text/plain; charset=utf-8\r\n
//!                    Content-Length: 11\r\n
//!                    \r\n
//!                    Hello World
//! ```
//! The server keeps the connection open for the next request (HTTP/1.1's
//! default) and answers pipelined requests in order; the client sends
//! `Connection: close` and reads until the body's framing says it is complete.

pub mod answer;
pub mod body;
pub mod date;
pub mod get;
pub mod request;
pub mod response;
pub mod server;

pub use get::{Event, GetError, GetOptions, Response, Target, get};
pub use request::{Limits, Reject, Request, RequestDecoder, RequestError};
pub use response::{Head, MAX_HEAD, Part, ResponseDecoder, ResponseError};
pub use server::{DEFAULT_BODY, DEFAULT_IDLE, DEFAULT_PORT, Options, serve};

/// A Content-Length value: ASCII digits only, surrounding blanks allowed
/// (Rust's integer parser alone would also take `+5`).
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}
