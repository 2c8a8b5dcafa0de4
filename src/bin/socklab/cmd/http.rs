//! `socklab http`: options in, the library called, its results shown.

use std::io::Write as _;
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncWrite, BufWriter};

use crate::cli::{HttpGetArgs, HttpServerArgs};
use crate::run;
use socklab::http;

/// `http server`: binds, announces and serves until a signal.
pub async fn server(args: HttpServerArgs) -> Result<()> {
    let limits = http::Limits {
        max_header_bytes: args.max_header_bytes,
        max_headers: usize::from(args.max_headers),
        header_timeout: args.header_timeout,
        max_body_bytes: args.max_body_bytes,
    };
    run::serve(
        &args.server,
        http::DEFAULT_PORT,
        http::DEFAULT_IDLE,
        |listener, server, shutdown| {
            let options = http::Options {
                body: args.body,
                limits,
                server,
            };
            http::serve(listener, options, shutdown)
        },
    )
    .await
}

/// `http get`: the head on stderr, the body on stdout or FILE (`--raw`: the
/// request on stderr, the response as received on stdout or FILE); a status
/// of 400 or more fails after the body is written.
pub async fn get(args: &HttpGetArgs) -> Result<()> {
    let target = http::Target::parse(&args.url)?;
    let options = http::GetOptions {
        tls: args.trust.options(),
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        raw: args.raw,
    };
    // The output file is created only once the server is there.
    let connected = http::get::connect(&target, &options).await?;
    let sink: Pin<Box<dyn AsyncWrite + Send>> = match &args.output {
        Some(path) => Box::pin(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::pin(tokio::io::stdout()),
    };
    let mut sink = BufWriter::with_capacity(64 * 1024, sink);
    let raw = args.raw;
    let response = connected
        .fetch(&target, raw, &mut sink, |event| match event {
            http::Event::Request(request) if raw => {
                let _ = std::io::stderr().write_all(request);
            }
            http::Event::Head(head) if !raw => show_head(&head.raw),
            _ => {}
        })
        .await?;
    let head = &response.head;
    if head.code >= 400 {
        bail!("the server answered {} {}", head.code, head.reason);
    }
    Ok(())
}

/// A head's lines on stderr, without CR, ending with the empty line as on
/// the wire.
fn show_head(head: &[u8]) {
    let text = String::from_utf8_lossy(head);
    let mut err = std::io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(err, "{line}");
    }
}
