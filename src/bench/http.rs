//! `bench http`: GET requests on keep-alive connections, pipelined with
//! `--pipeline`; every response must be complete, 2xx, and framed by
//! Content-Length.
//!
//! ```text
//! request    GET PATH HTTP/1.1\r\nHost: HOST:PORT\r\nUser-Agent: socklab-bench\r\n\r\n
//! response   HTTP/1.1 2xx ...\r\nContent-Length: N\r\n...\r\n\r\n + N bytes
//! ```

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};

use super::driver::{self, Exchange};
use super::report::Report;
use super::{BenchError, Load};
use super::{run_workers, setup, target};

/// The port of `socklab http server`.
const DEFAULT_PORT: u16 = 8001;
/// Response headers beyond this many are an error, as in most clients.
const MAX_HEADERS: usize = 64;

/// One fixed GET request and the checks on its response.
struct Get {
    request: Bytes,
}

impl Exchange for Get {
    fn request(&self, _seq: u64, out: &mut BytesMut) {
        out.extend_from_slice(&self.request);
    }

    fn answer(&self, seq: u64, input: &mut BytesMut) -> Result<bool, String> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(input) {
            Ok(httparse::Status::Complete(head)) => head,
            Ok(httparse::Status::Partial) => return Ok(false),
            Err(err) => return Err(format!("response {seq} is not valid HTTP: {err}")),
        };
        let status = response.code.unwrap_or(0);
        if !(200..300).contains(&status) {
            return Err(format!("response {seq} has status {status}, not 2xx"));
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
        };
        if header("connection").as_deref() == Some("close") {
            return Err(format!("response {seq} closes the keep-alive connection"));
        }
        let length: usize = header("content-length")
            .ok_or_else(|| format!("response {seq} has no Content-Length"))?
            .parse()
            .map_err(|_| format!("response {seq} has an invalid Content-Length"))?;
        if input.len() < head + length {
            return Ok(false);
        }
        input.advance(head + length);
        Ok(true)
    }
}

/// What `bench http` loads.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The load.
    pub load: Load,
    /// Path to request.
    pub path: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            load: Load::default(),
            path: "/".to_owned(),
        }
    }
}

/// Runs `bench http`.
pub async fn run(args: &HttpOptions) -> Result<Report, BenchError> {
    let load = &args.load;
    let dialer = target(load, DEFAULT_PORT).await?;
    let addr = dialer.addr;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: socklab-bench\r\n\r\n",
        args.path
    );
    let get = Arc::new(Get {
        request: Bytes::from(request),
    });
    let shared = load.clone();
    let tally = run_workers(
        load,
        move |_| {
            let dialer = dialer.clone();
            async move { dialer.connect().await }
        },
        move |_, stream, plan, pacer| {
            let (get, load) = (get.clone(), shared.clone());
            async move { driver::keep_alive(&*get, stream, &load, pacer, plan).await }
        },
    )
    .await;
    Ok(Report::new(setup(load, "http", addr, "requests"), tally))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> Get {
        Get {
            request: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
        }
    }

    #[test]
    fn waits_for_the_whole_body_then_consumes_it() {
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHello"[..]);
        assert_eq!(get().answer(0, &mut input), Ok(false));
        input.extend_from_slice(b" WorldHTTP/1.1");
        assert_eq!(get().answer(0, &mut input), Ok(true));
        assert_eq!(&input[..], b"HTTP/1.1");
    }

    #[test]
    fn refuses_errors_and_unframed_bodies() {
        let mut input = BytesMut::from(&b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..]);
        assert!(get().answer(0, &mut input).is_err());
        let mut input =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
        assert!(get().answer(0, &mut input).is_err());
        let mut input = BytesMut::from(&b"SSH-2.0-OpenSSH\r\n"[..]);
        assert!(get().answer(0, &mut input).is_err());
    }
}
