//! 1,000 keep-alive app searches on one connection with `app::Client`,
//! against an in-process `app::serve` (or the server at HOST:PORT given as
//! the argument). Prints `1000 answers on one connection in ...ms`.

use std::time::Instant;

use socklab::app::{self, Client, Reply};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const REQUESTS: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stop = CancellationToken::new();
    let addr = match std::env::args().nth(1) {
        Some(addr) => addr,
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?.to_string();
            let shutdown = stop.clone().cancelled_owned();
            tokio::spawn(app::serve(listener, app::Options::default(), shutdown));
            addr
        }
    };
    let mut client = Client::new(TcpStream::connect(&addr).await?);
    let started = Instant::now();
    for i in 0..REQUESTS {
        let reply = client.search("morpheus").await?;
        let Reply::Result(answer) = reply else {
            return Err(format!("request {i}: unexpected answer {reply:?}").into());
        };
        if answer != "Follow the white rabbit. 🐰" {
            return Err(format!("request {i}: wrong answer {answer}").into());
        }
    }
    client.close().await?;
    stop.cancel();
    let elapsed = started.elapsed();
    println!(
        "{REQUESTS} answers on one connection in {}ms",
        elapsed.as_millis()
    );
    Ok(())
}
