//! `http get`: the texts' raw-socket web client. The request is written by
//! hand on a TCP socket (wrapped in rustls for https); the response head is
//! parsed with httparse and the body decoded by its framing.
//!
//! ```text
//! client -> server   GET /path?query HTTP/1.1\r\n
//!                    Host: example.org[:port]\r\n
//!                    User-Agent: socklab/VERSION\r\n
//!                    Accept: */*\r\n
//!                    Connection: close\r\n
//!                    \r\n
//! server -> client   HTTP/1.1 200 OK\r\n FIELDS \r\n\r\n BODY
//! ```
//! The heads are handed to a callback as they arrive and the decoded body is
//! written to a sink; with `raw` the sink gets the response exactly as
//! received (heads and chunk framing included). The status is returned for
//! the caller to judge (the binary fails on 400 or more, after the body, as
//! curl's `--fail-with-body`).

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tracing::warn;
use url::{Position, Url};

use super::response::{Head, Part, ResponseDecoder, ResponseError};
use crate::net::{self, HostError, Monitored, NetError};
use crate::tls::{ClientOptions, ClientTls, TlsError};

/// The User-Agent the client sends.
pub const USER_AGENT: &str = concat!("socklab/", env!("CARGO_PKG_VERSION"));
/// Bytes asked of each read.
const READ_CHUNK: usize = 16 * 1024;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The URL does not parse.
    #[error("invalid URL {url:?}: {cause}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the parser said.
        cause: url::ParseError,
    },
    /// The URL's host is a number in disguise.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Neither http nor https.
    #[error("unsupported scheme {scheme:?} in {url:?} (use http:// or https://)")]
    Scheme {
        /// The scheme given.
        scheme: String,
        /// The URL as given.
        url: String,
    },
    /// A URL without a host.
    #[error("no host in URL {0:?}")]
    NoHost(String),
    /// A URL without a port and a scheme without a default one.
    #[error("no port in URL {0:?}")]
    NoPort(String),
    /// Resolving or connecting failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The TLS configuration could not be made, or the handshake failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Writing the request failed.
    #[error("sending the request: {0}")]
    Send(io::Error),
    /// Reading the response failed.
    #[error("receiving the response: {}", net::describe(.0))]
    Receive(io::Error),
    /// The sink refused a head (raw mode).
    #[error("writing the response: {0}")]
    WriteHead(io::Error),
    /// The sink refused the body.
    #[error("writing the body: {0}")]
    WriteBody(io::Error),
    /// The response breaks HTTP.
    #[error(transparent)]
    Response(#[from] ResponseError),
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct GetOptions {
    /// How https servers are verified (ALPN is always http/1.1).
    pub tls: ClientOptions,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// Give up when the server sends nothing for this long.
    pub timeout: Duration,
    /// The sink gets the response exactly as received, heads included.
    pub raw: bool,
}

impl Default for GetOptions {
    fn default() -> Self {
        Self {
            tls: ClientOptions::default(),
            connect_timeout: net::DEFAULT_CONNECT_TIMEOUT,
            timeout: Duration::from_secs(30),
            raw: false,
        }
    }
}

/// What a fetch reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// The request, about to be sent.
    Request(&'a [u8]),
    /// A head, interim or final, as it arrived.
    Head(&'a Head),
}

/// What the server answered (the body went to the sink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final head: status line and fields.
    pub head: Head,
    /// Bytes written to the sink for the body.
    pub body_bytes: u64,
}

/// Where to connect and what to ask for, taken from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host to connect to, without IPv6 brackets.
    pub host: String,
    /// Port to connect to (the scheme's default unless given).
    pub port: u16,
    /// https rather than http.
    pub tls: bool,
    /// The Host field: the URL's host, and its port unless it is the default.
    pub authority: String,
    /// Path and query, as sent on the request line.
    pub path: String,
}

impl Target {
    /// Reads an `http://` or `https://` URL.
    pub fn parse(text: &str) -> Result<Self, GetError> {
        let url = Url::parse(text).map_err(|cause| GetError::InvalidUrl {
            url: text.to_owned(),
            cause,
        })?;
        // The URL standard reads `http://1000000/` as 0.15.66.64; what was
        // typed is checked, not what the url crate made of it.
        net::check_host(typed_host(text))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(GetError::Scheme {
                    scheme: other.to_owned(),
                    url: text.to_owned(),
                });
            }
        };
        let host_text = url
            .host_str()
            .ok_or_else(|| GetError::NoHost(text.to_owned()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| GetError::NoPort(text.to_owned()))?;
        let authority = match url.port() {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text.to_string(),
        };
        Ok(Self {
            host: net::normalize_host(host_text).to_string(),
            port,
            tls,
            authority,
            path: url[Position::BeforePath..Position::AfterQuery].to_string(),
        })
    }

    /// The request, byte for byte.
    pub fn request(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.path, self.authority
        )
        .into_bytes()
    }
}

/// The host as typed in a URL that parsed: between `://` (and any
/// `user@`) and the port, path, query or fragment.
fn typed_host(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(after_scheme);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.starts_with('[') {
        return host_port
            .split_once(']')
            .map_or(host_port, |(h, _)| h)
            .trim_start_matches('[');
    }
    host_port.split_once(':').map_or(host_port, |(h, _)| h)
}

/// Fetches `target`: heads go to `on_event` as they arrive, the body (or,
/// with `raw`, the whole response as received) to `sink`.
pub async fn get<W>(
    target: &Target,
    options: &GetOptions,
    sink: &mut W,
    on_event: impl FnMut(Event<'_>),
) -> Result<Response, GetError>
where
    W: AsyncWrite + Unpin,
{
    connect(target, options)
        .await?
        .fetch(target, options.raw, sink, on_event)
        .await
}

/// A connection to a target's server, TLS set up where the URL says https.
#[derive(Debug)]
pub enum Connected {
    /// http.
    Plain(Monitored<TcpStream>),
    /// https.
    Tls(Box<TlsStream<Monitored<TcpStream>>>),
}

/// Connects to `target`'s server (and shakes hands for https), so that a
/// caller can prepare its sink only once the server is there.
pub async fn connect(target: &Target, options: &GetOptions) -> Result<Connected, GetError> {
    let tcp = net::connect(&target.host, target.port, options.connect_timeout).await?;
    let peer = tcp.peer();
    // The connect helper sets no idle limit; a client wants one too.
    let tcp = Monitored::new(tcp.into_inner(), peer, Some(options.timeout));
    if !target.tls {
        return Ok(Connected::Plain(tcp));
    }
    let tls = ClientTls::new(&ClientOptions {
        alpn: vec![b"http/1.1".to_vec()],
        ..options.tls.clone()
    })?;
    if tls.is_insecure() {
        warn!("{peer}: the server's certificate is not checked (--insecure)");
    }
    let stream = tls.connect(tcp, &target.host).await?;
    Ok(Connected::Tls(Box::new(stream)))
}

impl Connected {
    /// Sends `target`'s request and reads the response: heads to
    /// `on_event`, the body (with `raw`, the response as received) to `sink`.
    pub async fn fetch<W>(
        self,
        target: &Target,
        raw: bool,
        sink: &mut W,
        on_event: impl FnMut(Event<'_>),
    ) -> Result<Response, GetError>
    where
        W: AsyncWrite + Unpin,
    {
        match self {
            Connected::Plain(io) => exchange(io, target, raw, sink, on_event).await,
            Connected::Tls(io) => exchange(*io, target, raw, sink, on_event).await,
        }
    }
}

/// Sends the request and reads the response into `sink`.
async fn exchange<S, W>(
    mut io: S,
    target: &Target,
    raw: bool,
    sink: &mut W,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Response, GetError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    W: AsyncWrite + Unpin,
{
    let request = target.request();
    on_event(Event::Request(&request));
    io.write_all(&request).await.map_err(GetError::Send)?;
    // TLS holds records until flushed.
    io.flush().await.map_err(GetError::Send)?;

    let mut decoder = ResponseDecoder::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut last = None;
    let mut body_bytes = 0;
    loop {
        while let Some(part) = decoder.decode(&mut input)? {
            match part {
                Part::Head(head) => {
                    on_event(Event::Head(&head));
                    if raw {
                        sink.write_all(&head.raw)
                            .await
                            .map_err(GetError::WriteHead)?;
                    }
                    last = Some(head);
                }
                Part::Body { data, wire } => {
                    let out = if raw { wire } else { data };
                    sink.write_all(&out).await.map_err(GetError::WriteBody)?;
                    body_bytes += out.len() as u64;
                }
            }
        }
        if decoder.is_done() || read_more(&mut io, &mut input).await? == 0 {
            break;
        }
    }
    if !decoder.is_done() {
        decoder.finish()?;
    }
    sink.flush().await.map_err(GetError::WriteBody)?;
    // The decoder is done or finished only after a final head.
    let head = last.ok_or(ResponseError::NoHead)?;
    Ok(Response { head, body_bytes })
}

async fn read_more<S: AsyncRead + Unpin>(
    io: &mut S,
    input: &mut BytesMut,
) -> Result<usize, GetError> {
    input.reserve(READ_CHUNK);
    match io.read_buf(input).await {
        Ok(n) => Ok(n),
        // Many servers close TLS without close_notify once the body is framed
        // by the close itself; rustls reports that as UnexpectedEof.
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        Err(err) => Err(GetError::Receive(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_in_a_url_is_not_a_host() {
        for url in [
            "http://1000000/",
            "http://127.1:8001/",
            "https://u@0x7f000001/x",
        ] {
            let err = Target::parse(url).expect_err(url);
            assert!(err.to_string().contains("is not a host"), "{url}: {err}");
        }
        assert_eq!(typed_host("http://u:p@[::1]:80/x"), "::1");
        assert_eq!(typed_host("http://localhost?q"), "localhost");
    }

    #[test]
    fn urls_become_targets() {
        let t = Target::parse("http://127.0.0.1:8001/a?b=c").expect("valid");
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 8001, false));
        assert_eq!(t.authority, "127.0.0.1:8001");
        assert_eq!(t.path, "/a?b=c");
        let t = Target::parse("https://example.org").expect("valid");
        assert_eq!((t.port, t.tls, t.path.as_str()), (443, true, "/"));
        assert_eq!(t.authority, "example.org");
        let t = Target::parse("http://[::1]:8080/").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.authority.as_str()),
            ("::1", "[::1]:8080")
        );
        assert!(Target::parse("ftp://example.org/").is_err());
        assert!(Target::parse("not a url").is_err());
    }

    #[test]
    fn request_is_the_texts_request() {
        let t = Target::parse("http://example.org/x").expect("valid");
        let request = String::from_utf8(t.request()).expect("ascii");
        assert!(request.starts_with("GET /x HTTP/1.1\r\nHost: example.org\r\n"));
        assert!(request.contains("User-Agent: socklab/"));
        assert!(request.ends_with("Connection: close\r\n\r\n"));
    }
}
