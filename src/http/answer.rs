//! The server's answers, written into a connection's write buffer: the 200
//! answer (precomputed but for the Date) and the error answers.
//!
//! ```text
//! HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: text/plain; charset=utf-8\r\n
//! Content-Length: N\r\n[Connection: close | keep-alive\r\n]\r\n[BODY]
//! HTTP/1.1 CODE REASON\r\n... Connection: close\r\n\r\nCODE REASON\n
//! ```

use bytes::BytesMut;

use super::date;
use super::request::{Reject, Request};

/// The 200 answer every request gets, all but its Date precomputed.
#[derive(Debug)]
pub struct Answer {
    /// Everything after the Date value up to the Connection field:
    /// `\r\nContent-Type: ...\r\nContent-Length: N\r\n`.
    fields: Box<[u8]>,
    body: Box<[u8]>,
}

impl Answer {
    /// The answer carrying `body`.
    pub fn new(body: &str) -> Self {
        let fields = format!(
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        );
        Self {
            fields: fields.into_bytes().into_boxed_slice(),
            body: body.as_bytes().into(),
        }
    }

    /// Appends the answer to `request`.
    pub fn write(&self, request: Request, out: &mut BytesMut) {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
        date::append(out);
        out.extend_from_slice(&self.fields);
        if request.close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if request.http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !request.head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Appends the error answer `reject`, which closes the connection.
pub fn write_reject(reject: Reject, out: &mut BytesMut) {
    let body = format!("{reject}\n");
    out.extend_from_slice(format!("HTTP/1.1 {reject}\r\nDate: ").as_bytes());
    date::append(out);
    out.extend_from_slice(
        format!(
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}
