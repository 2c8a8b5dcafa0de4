//! `socklab app`: options in, the library called, its results shown.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::{AppClientArgs, AppServerArgs};
use socklab::app::{self, Message, Reply, python_json::python_json};
use socklab::net::{Endpoint, escape_bytes};

/// The server's options from the command line (`--data` loaded here); the
/// connection limits are the caller's.
pub fn options(args: &AppServerArgs) -> Result<app::Options> {
    Ok(app::Options {
        table: match &args.data {
            Some(path) => app::SearchTable::load(path)?,
            None => app::SearchTable::builtin(),
        },
        max_content: args.max_content,
        ..app::Options::default()
    })
}

/// Runs `app client`: sends ACTION VALUE and prints the answer.
pub async fn client(args: &AppClientArgs) -> Result<()> {
    let request = Message::request(&args.action, &args.value);
    let server = Endpoint {
        connect_timeout: args.connect_timeout,
        tls: args.tls.client_tls()?,
        ..Endpoint::new(&args.host, args.port)
    };
    let answer = app::request(&server, args.timeout, &request).await?;
    if args.json {
        let shown = python_json(&app::describe(&answer))?;
        println!("{}", String::from_utf8_lossy(&shown));
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
