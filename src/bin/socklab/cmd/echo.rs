//! `socklab echo`: options in, the library called, its results shown.

use anyhow::{Result, bail};

use crate::cli::EchoClientArgs;
use socklab::echo::{self, Event};
use socklab::net::{PREVIEW_LIMIT, escape_bytes};

/// Runs `echo client`: one message, or the texts' multi-connection client.
pub async fn client(args: &EchoClientArgs) -> Result<()> {
    let server = args.target.endpoint(echo::DEFAULT_PORT)?;
    let Some(conns) = args.conns else {
        let message = args.message.as_deref().unwrap_or(echo::DEFAULT_MESSAGE);
        let echoed = echo::client(&server, message.as_bytes()).await?;
        println!("Received {}", escape_bytes(&echoed, usize::MAX));
        return Ok(());
    };
    let messages: Vec<String> = match &args.message {
        Some(message) => vec![message.clone()],
        None => echo::MULTICONN_MESSAGES.map(String::from).to_vec(),
    };
    let target = format!("{}:{}", server.host, server.port);
    let show = move |event: Event<'_>| match event {
        Event::Starting(id) => println!("starting connection {id} to {target}"),
        Event::Sending(id, message) => println!(
            "sending {} to connection {id}",
            escape_bytes(message, PREVIEW_LIMIT)
        ),
        Event::Received(id, echoed) => println!(
            "received {} from connection {id}",
            escape_bytes(echoed, PREVIEW_LIMIT)
        ),
        Event::Closing(id) => println!("closing connection {id}"),
        // No error of the echo client has a source: its Display is the chain.
        Event::Failed(id, err) => eprintln!("connection {id}: {err}"),
    };
    let results = echo::multiconn(&server, conns, &messages, show).await;
    let failed = results.iter().filter(|result| result.is_err()).count();
    if failed > 0 {
        bail!("{failed} of {conns} connections failed");
    }
    Ok(())
}
