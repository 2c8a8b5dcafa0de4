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
//! The status line and header fields go to stderr and the decoded body to
//! stdout (or `-o FILE`), so that stdout holds exactly the body's bytes.
//! `--raw` instead copies the request to stderr and the response, exactly as
//! received (chunk framing included), to stdout or FILE. A status of 400 or
//! more still writes the body, then fails (curl's `--fail-with-body`).

use std::io::Write as _;
use std::path::Path;
use std::pin::Pin;

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Buf, BytesMut};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio_rustls::TlsConnector;
use url::{Position, Url};

use super::body::{BodyDecoder, Framing};
use super::{parse_content_length, tls};
use crate::cli::HttpGetArgs;
use crate::net::{self, Monitored};

/// The User-Agent the client sends.
pub const USER_AGENT: &str = concat!("socklab/", env!("CARGO_PKG_VERSION"));
/// Longest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
const MAX_FIELDS: usize = 100;
/// Bytes asked of each read.
const READ_CHUNK: usize = 16 * 1024;

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
    pub fn parse(text: &str) -> Result<Self> {
        let url = Url::parse(text).with_context(|| format!("invalid URL {text:?}"))?;
        // The URL standard reads `http://1000000/` as 0.15.66.64; what was
        // typed is checked, not what the url crate made of it.
        net::check_host(typed_host(text))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => bail!("unsupported scheme {other:?} in {text:?} (use http:// or https://)"),
        };
        let host_text = url
            .host_str()
            .ok_or_else(|| anyhow!("no host in URL {text:?}"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| anyhow!("no port in URL {text:?}"))?;
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

/// Runs `http get`: fetches the URL, prints the head, writes the body.
pub async fn get(args: &HttpGetArgs) -> Result<()> {
    let target = Target::parse(&args.url)?;
    let tcp = net::connect(&target.host, target.port, args.connect_timeout).await?;
    let peer = tcp.peer();
    // The connect helper sets no idle limit; a client wants one too.
    let tcp = Monitored::new(tcp.into_inner(), peer, Some(args.timeout));
    let (code, reason) = if target.tls {
        let config = tls::client_config(args.cacert.as_deref())?;
        let name = ServerName::try_from(target.host.clone())
            .with_context(|| format!("{:?} is not a valid TLS server name", target.host))?;
        let stream = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|err| anyhow!(tls::handshake_error(&err, &target.host)))?;
        exchange(stream, &target, args).await?
    } else {
        exchange(tcp, &target, args).await?
    };
    if code >= 400 {
        bail!("the server answered {code} {reason}");
    }
    Ok(())
}

/// A parsed response head.
struct Head {
    len: usize,
    code: u16,
    reason: String,
    framing: Framing,
}

/// Sends the request and reads the response; returns its status.
async fn exchange<S>(mut io: S, target: &Target, args: &HttpGetArgs) -> Result<(u16, String)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = target.request();
    if args.raw {
        std::io::Write::write_all(&mut std::io::stderr(), &request)?;
    }
    io.write_all(&request)
        .await
        .context("sending the request")?;
    // TLS holds records until flushed.
    io.flush().await.context("sending the request")?;

    let mut out = open_output(args.output.as_deref()).await?;
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let head = loop {
        match parse_head(&input)? {
            Some(head) if (100..200).contains(&head.code) && head.code != 101 => {
                // Interim answers (100 Continue, 103 Early Hints) precede the real one.
                show_head(&input[..head.len], &mut out, args.raw).await?;
                input.advance(head.len);
            }
            Some(head) => break head,
            None => {
                if input.len() > MAX_HEAD {
                    bail!("response head longer than {MAX_HEAD} bytes");
                }
                if read_more(&mut io, &mut input).await? == 0 {
                    bail!(
                        "the server closed the connection before sending a complete response head"
                    );
                }
            }
        }
    };
    show_head(&input[..head.len], &mut out, args.raw).await?;
    input.advance(head.len);

    let mut decoder = BodyDecoder::new(head.framing);
    let mut body = Vec::with_capacity(READ_CHUNK);
    loop {
        let used = decoder.decode(&input, &mut body)?;
        if args.raw {
            out.write_all(&input[..used]).await
        } else {
            out.write_all(&body).await
        }
        .context("writing the body")?;
        body.clear();
        input.advance(used);
        if decoder.is_done() {
            break;
        }
        if read_more(&mut io, &mut input).await? == 0 {
            decoder.finish()?;
            break;
        }
    }
    out.flush().await.context("writing the body")?;
    Ok((head.code, head.reason))
}

async fn read_more<S: AsyncRead + Unpin>(io: &mut S, input: &mut BytesMut) -> Result<usize> {
    input.reserve(READ_CHUNK);
    match io.read_buf(input).await {
        Ok(n) => Ok(n),
        // Many servers close TLS without close_notify once the body is framed
        // by the close itself; rustls reports that as UnexpectedEof.
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(err) => Err(anyhow!("receiving the response: {}", net::describe(&err))),
    }
}

type Output = BufWriter<Pin<Box<dyn AsyncWrite + Send>>>;

async fn open_output(path: Option<&Path>) -> Result<Output> {
    let sink: Pin<Box<dyn AsyncWrite + Send>> = match path {
        Some(path) => Box::pin(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::pin(tokio::io::stdout()),
    };
    Ok(BufWriter::with_capacity(64 * 1024, sink))
}

/// Shows a response head: its exact bytes in the output with `--raw`, else
/// its lines on stderr.
async fn show_head(head: &[u8], out: &mut Output, raw: bool) -> Result<()> {
    if raw {
        out.write_all(head).await.context("writing the response")?;
        return Ok(());
    }
    // Its lines without CR, ending with the empty line, as on the wire.
    let text = String::from_utf8_lossy(head);
    let mut err = std::io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(err, "{line}");
    }
    Ok(())
}

/// Parses a complete response head at the start of `buf`, or `None` if more
/// bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => bail!("malformed response head: {err}"),
    };
    let code = response.code.unwrap_or_default();
    let framing = framing(code, response.headers)?;
    Ok(Some(Head {
        len,
        code,
        reason: response.reason.unwrap_or_default().to_string(),
        framing,
    }))
}

/// RFC 9112 §6.3: how the body of a response to GET ends.
fn framing(code: u16, fields: &[httparse::Header<'_>]) -> Result<Framing> {
    if (100..200).contains(&code) || code == 204 || code == 304 {
        return Ok(Framing::Empty);
    }
    let mut length = None;
    for field in fields {
        if field.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = field
                .value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default();
            return Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        if field.name.eq_ignore_ascii_case("content-length") {
            let value = parse_content_length(field.value).ok_or_else(|| {
                anyhow!(
                    "bad Content-Length {:?}",
                    String::from_utf8_lossy(field.value)
                )
            })?;
            if length.is_some_and(|seen| seen != value) {
                bail!("conflicting Content-Length fields");
            }
            length = Some(value);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
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

    #[test]
    fn framing_rules() {
        let head = |text: &[u8]| parse_head(text).expect("parses").expect("complete");
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!((h.code, h.framing, h.len), (200, Framing::Length(5), 38));
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Chunked);
        let h = head(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        let h = head(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Empty);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\n")
                .expect("partial")
                .is_none()
        );
    }
}
