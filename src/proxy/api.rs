//! toxiproxy's HTTP JSON API over a [`Registry`], so toxiproxy's own
//! clients and scripts drive the proxies.
//!
//! ```text
//! GET    /version                          {"version":"..."}
//! GET    /proxies                          {"NAME": PROXY, ...}
//! POST   /proxies              PROXY       201 PROXY     (409: name taken)
//! POST   /populate             [PROXY..]   201 {"proxies":[PROXY..]}
//! GET    /proxies/NAME                     PROXY
//! POST   /proxies/NAME         fields      PROXY         (listen, upstream, enabled)
//! DELETE /proxies/NAME                     204
//! GET    /proxies/NAME/toxics              [TOXIC..]
//! POST   /proxies/NAME/toxics  TOXIC       200 TOXIC     (409: name taken)
//! GET    /proxies/NAME/toxics/T            TOXIC
//! POST   /proxies/NAME/toxics/T fields     TOXIC         (attributes, toxicity, stream)
//! DELETE /proxies/NAME/toxics/T            204
//! POST   /reset                            204           (every proxy enabled, no toxics)
//! error                                    {"error":"proxy not found","status":404}
//! PROXY  {"name":"redis","listen":"127.0.0.1:26379","upstream":"127.0.0.1:6379","enabled":true,"toxics":[]}
//! ```
//! Requests are HTTP/1.1 with a Content-Length body (at most
//! [`MAX_BODY`]); connections stay open for the next request.

use std::io;

use bytes::{Buf, BytesMut};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::registry::{ApiError, ProxyConfig, Registry};
use super::toxic::Toxic;

/// Longest request head.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body.
pub const MAX_BODY: usize = 1024 * 1024;
/// Most header fields in a request.
const MAX_FIELDS: usize = 64;

/// A request head: what the router needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, without a query.
    pub path: String,
    /// Bytes of the head, blank line included.
    pub head_len: usize,
    /// Content-Length (0 when absent).
    pub body_len: usize,
    /// Whether the client asked to close after the answer (or speaks HTTP/1.0).
    pub close: bool,
}

/// Finds a whole request head at the start of `buf`: `Ok(None)` while it
/// is incomplete, an [`ApiError`] (400, 411, 413, 431) for a bad one.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, ApiError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut fields);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(ApiError::new(431, "request head too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ApiError::new(431, "too many header fields"));
        }
        Err(err) => return Err(ApiError::new(400, format!("bad request: {err}"))),
    };
    let mut body_len = 0;
    let mut close = request.version == Some(0);
    for field in request.headers.iter() {
        if field.name.eq_ignore_ascii_case("content-length") {
            body_len = crate::http::parse_content_length(field.value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| ApiError::new(400, "bad Content-Length"))?;
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ApiError::new(411, "send the body with a Content-Length"));
        } else if field.name.eq_ignore_ascii_case("connection") {
            close = field.value.eq_ignore_ascii_case(b"close");
        }
    }
    if body_len > MAX_BODY {
        return Err(ApiError::new(413, "request body too large"));
    }
    let target = request.path.unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target).to_string();
    Ok(Some(Head {
        method: request.method.unwrap_or("GET").to_string(),
        path,
        head_len,
        body_len,
        close,
    }))
}

/// Serves API requests on one connection until the client closes.
pub async fn connection<S>(mut io: S, registry: Registry) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let head = loop {
            match parse_head(&buf) {
                Ok(Some(head)) if buf.len() >= head.head_len + head.body_len => break head,
                Ok(_) => {}
                Err(err) => {
                    respond(&mut io, err.status, &error_body(&err), true).await?;
                    return Ok(());
                }
            }
            buf.reserve(4096);
            if io.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        buf.advance(head.head_len);
        let body = buf.split_to(head.body_len);
        let (status, answer) = match route(&registry, &head.method, &head.path, &body).await {
            Ok((status, answer)) => (status, answer),
            Err(err) => (err.status, error_body(&err)),
        };
        respond(&mut io, status, &answer, head.close).await?;
        if head.close {
            return Ok(());
        }
    }
}

fn error_body(err: &ApiError) -> Value {
    json!({"error": err.message, "status": err.status})
}

/// Writes one answer, its body JSON (none for 204).
async fn respond<S: AsyncWrite + Unpin>(
    io: &mut S,
    status: u16,
    body: &Value,
    close: bool,
) -> io::Result<()> {
    let body = match status {
        204 => String::new(),
        _ => body.to_string(),
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    io.write_all(format!("{head}{body}").as_bytes()).await?;
    io.flush().await
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|err| ApiError::new(400, format!("bad JSON: {err}")))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_value(json_body(body)?).map_err(|err| ApiError::new(400, err.to_string()))
}

fn to_json(value: impl serde::Serialize) -> Value {
    // Our own types always serialize.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Answers one request: a status and a JSON body.
pub async fn route(
    registry: &Registry,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let update = matches!(method, "POST" | "PATCH");
    match (method, parts.as_slice()) {
        ("GET", ["version"]) => Ok((200, json!({"version": env!("CARGO_PKG_VERSION")}))),
        ("POST", ["reset"]) => registry.reset().await.map(|()| (204, Value::Null)),
        ("GET", ["proxies"]) => Ok((200, to_json(registry.list()))),
        ("POST", ["proxies"]) => {
            let config: ProxyConfig = parse(body)?;
            let created = registry.create(config, Vec::new()).await?;
            Ok((201, to_json(created)))
        }
        ("POST", ["populate"]) => {
            let configs: Vec<ProxyConfig> = parse(body)?;
            let mut made = Vec::with_capacity(configs.len());
            for config in configs {
                // Populating replaces a proxy of the same name.
                let _ = registry.delete(&config.name);
                made.push(registry.create(config, Vec::new()).await?);
            }
            Ok((201, json!({"proxies": made})))
        }
        ("GET", ["proxies", name]) => Ok((200, to_json(registry.get(name)?))),
        (_, ["proxies", name]) if update => {
            Ok((200, to_json(registry.update(name, json_body(body)?).await?)))
        }
        ("DELETE", ["proxies", name]) => registry.delete(name).map(|()| (204, Value::Null)),
        ("GET", ["proxies", name, "toxics"]) => Ok((200, to_json(registry.toxics(name)?))),
        ("POST", ["proxies", name, "toxics"]) => {
            let toxic = Toxic::from_json(json_body(body)?)
                .map_err(|err| ApiError::new(400, err.to_string()))?;
            Ok((200, to_json(registry.add_toxic(name, toxic)?)))
        }
        ("GET", ["proxies", name, "toxics", toxic]) => {
            Ok((200, to_json(registry.toxic(name, toxic)?)))
        }
        (_, ["proxies", name, "toxics", toxic]) if update => Ok((
            200,
            to_json(registry.update_toxic(name, toxic, json_body(body)?)?),
        )),
        ("DELETE", ["proxies", name, "toxics", toxic]) => registry
            .delete_toxic(name, toxic)
            .map(|()| (204, Value::Null)),
        (_, ["version" | "reset" | "proxies" | "populate", ..]) => Err(ApiError::new(
            405,
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err(ApiError::new(404, format!("no such path: {path}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_found_and_bounded() {
        let head = parse_head(b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            .expect("valid")
            .expect("complete");
        assert_eq!(
            (head.method.as_str(), head.path.as_str(), head.body_len),
            ("POST", "/proxies", 2)
        );
        assert!(!head.close);
        assert_eq!(parse_head(b"GET /proxies HTTP/1.1\r\nHo"), Ok(None));
        assert!(
            parse_head(
                b"GET / HTTP/1.0

"
            )
            .expect("ok")
            .expect("whole")
            .close
        );
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(parse_head(huge.as_bytes()).map_err(|e| e.status), Err(431));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_head(chunked).map_err(|e| e.status), Err(411));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(parse_head(big.as_bytes()).map_err(|e| e.status), Err(413));
        assert_eq!(
            parse_head(b"\x00\x01 nonsense\r\n\r\n").map_err(|e| e.status),
            Err(400)
        );
    }
}
