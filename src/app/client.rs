//! `socklab app client`: one request, one answer (app-client.py, libclient.py).
//!
//! ```text
//! $ socklab app client 127.0.0.1 65433 search morpheus
//! got result: Follow the white rabbit. 🐰
//! $ socklab app client 127.0.0.1 65433 binary 😃
//! got response: b'First 10 bytes of request: binary\xf0\x9f\x98\x83'
//! ```
//! Like the original, the client sends one message, reads one answer and
//! closes; `--json` prints the answer's header and content as one JSON object.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use super::content::Reply;
use super::frame::{KEEP_ALIVE, Message, MessageCodec, python_json};
use crate::cli::AppClientArgs;
use crate::net::{self, escape_bytes};

/// Runs `app client`: sends ACTION VALUE and prints the answer.
pub async fn client(args: &AppClientArgs) -> Result<()> {
    let mut io = net::connect(&args.host, args.port, args.connect_timeout).await?;
    let request = Message::request(&args.action, &args.value);
    let answer = tokio::time::timeout(args.timeout, exchange(&mut io, &request))
        .await
        .map_err(|_| {
            anyhow!(
                "no answer from {} within {}s",
                io.peer(),
                args.timeout.as_secs_f64()
            )
        })??;
    if args.json {
        println!(
            "{}",
            String::from_utf8_lossy(&python_json(&describe(&answer))?)
        );
        return Ok(());
    }
    match answer.reply().context("reading the answer")? {
        Reply::Result(Value::String(text)) => println!("got result: {text}"),
        Reply::Result(other) => println!("got result: {other}"),
        Reply::Binary(content) => println!("got response: {}", escape_bytes(&content, usize::MAX)),
        Reply::Error(error) => bail!("the server refused the request: {error}"),
        Reply::Other(object) => bail!("the answer has no \"result\": {}", Value::Object(object)),
    }
    Ok(())
}

/// Sends `request` as one write and reads exactly one answer.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    request: &Message,
) -> Result<Message> {
    let mut framed = Framed::new(io, MessageCodec::default());
    framed.send(request).await.context("sending the request")?;
    match framed.next().await {
        Some(answer) => answer.context("reading the answer"),
        None => bail!("the server closed the connection without answering"),
    }
}

/// The answer as `{"header": {...}, "content": ...}`: JSON content as JSON,
/// other content as text when it is UTF-8, else as Python's bytes repr.
fn describe(answer: &Message) -> Value {
    let header = &answer.header;
    let mut shown = header.extra.clone();
    shown.insert("byteorder".into(), header.byteorder.as_str().into());
    shown.insert("content-type".into(), header.content_type.as_str().into());
    shown.insert(
        "content-encoding".into(),
        header.content_encoding.as_str().into(),
    );
    shown.insert("content-length".into(), answer.content.len().into());
    if header.keep_alive {
        shown.insert(KEEP_ALIVE.into(), true.into());
    }
    let content = match answer.json_object() {
        Ok(object) if answer.is_json() => Value::Object(object),
        _ => match std::str::from_utf8(&answer.content) {
            Ok(text) => text.into(),
            Err(_) => escape_bytes(&answer.content, usize::MAX).into(),
        },
    };
    let mut described = Map::new();
    described.insert("header".into(), Value::Object(shown));
    described.insert("content".into(), content);
    Value::Object(described)
}
