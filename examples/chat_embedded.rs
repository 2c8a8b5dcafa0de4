//! A program that embeds a chat room: the room is served on 127.0.0.1:0,
//! two `chat::Client`s exchange lines, each prints what it received, and the
//! room shuts down gracefully. Exits non-zero if a line did not arrive.

use std::time::Duration;

use socklab::chat::{self, Client, Event, Room};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

type Error = Box<dyn std::error::Error>;

/// Reads `client`'s events until one matches `wanted`, for at most 5 s.
async fn until(
    client: &mut Client<TcpStream>,
    wanted: impl Fn(&Event) -> bool,
) -> Result<Event, Error> {
    let reading = async {
        while let Some(event) = client.recv().await? {
            if wanted(&event) {
                return Ok(event);
            }
        }
        Err("the room closed early".into())
    };
    tokio::time::timeout(Duration::from_secs(5), reading).await?
}

/// Has both clients receive the line `text` from `sender` and print it.
async fn both_receive(
    clients: [(&str, &mut Client<TcpStream>); 2],
    text: &str,
) -> Result<(), Error> {
    for (name, client) in clients {
        let said = |e: &Event| matches!(e, Event::Message { text: t, .. } if t == text);
        if let Event::Message { sender, text, .. } = until(client, said).await? {
            println!("{name} received from {sender}: {text}");
        }
    }
    Ok(())
}

async fn join(addr: std::net::SocketAddr, nick: &str) -> Result<Client<TcpStream>, Error> {
    let mut client = Client::new(TcpStream::connect(addr).await?);
    client.send(&format!("/nick {nick}")).await?;
    let renamed = format!("is now {nick}");
    until(
        &mut client,
        |e| matches!(e, Event::Notice(n) if n.ends_with(&renamed)),
    )
    .await?;
    Ok(client)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let room = Room::new(chat::Options::default());
    let stop = CancellationToken::new();
    let serving = tokio::spawn({
        let (room, shutdown) = (room.clone(), stop.clone().cancelled_owned());
        async move { room.serve(listener, shutdown).await }
    });

    let mut alice = join(addr, "alice").await?;
    let mut bob = join(addr, "bob").await?;
    println!("{} members in the room", room.len());
    alice.send("hi bob").await?;
    both_receive([("alice", &mut alice), ("bob", &mut bob)], "hi bob").await?;
    bob.send("hello alice").await?;
    both_receive([("alice", &mut alice), ("bob", &mut bob)], "hello alice").await?;

    stop.cancel();
    for (name, client) in [("alice", &mut alice), ("bob", &mut bob)] {
        let notice = |e: &Event| matches!(e, Event::Notice(n) if n == "server shutting down");
        until(client, notice).await?;
        println!("{name} received: * server shutting down");
    }
    serving.await??;
    println!("room shut down");
    Ok(())
}
