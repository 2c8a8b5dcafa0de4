//! A new line protocol on socklab's network layer: every line comes back
//! reversed. `net::serve` brings the connection limit, idle timeouts and
//! graceful shutdown; `net::Connection` the framing, with a line limit.

use std::time::Duration;

use socklab::net::{self, ConnInfo, Connection, ServerOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::codec::{LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

async fn reverse<S>(io: S, info: ConnInfo) -> Result<(), LinesCodecError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let codec = LinesCodec::new_with_max_length(1024);
    let mut conn = Connection::new(io, codec, info.shutdown);
    while let Some(line) = conn.read_frame().await? {
        conn.queue(line.chars().rev().collect::<String>())?;
    }
    Ok(conn.shutdown().await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = net::bind_tcp("127.0.0.1", 0).await?;
    let addr = listener.local_addr()?;
    let options = ServerOptions {
        max_conns: 100,
        idle_timeout: Some(Duration::from_secs(10)),
        grace: Duration::from_secs(2),
        ..ServerOptions::default()
    };
    let stop = CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(net::serve(listener, options, shutdown, reverse));

    let mut client = tokio::net::TcpStream::connect(addr).await?;
    client.write_all(b"hello\nsocklab\n").await?;
    client.shutdown().await?;
    let mut lines = BufReader::new(client).lines();
    while let Some(line) = lines.next_line().await? {
        println!("{line}");
    }
    stop.cancel();
    server.await??;
    println!("server stopped");
    Ok(())
}
