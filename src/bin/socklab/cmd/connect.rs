//! `socklab connect`: stdin to a socket and the socket to stdout, both at
//! once, as `nc -N`: stdin's end shuts our write side down and the reply
//! is read until the peer closes.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use super::dump::Dump;
use crate::cli::ConnectArgs;
use socklab::net::{Endpoint, Monitored, Stream, UNIX_PEER, describe, resolve};
use socklab::relay;
use socklab::udp::{self, MAX_DATAGRAM};

/// How long `connect --udp` waits for replies after stdin's end by default.
const UDP_LINGER: Duration = Duration::from_secs(2);

/// Runs `connect`.
pub async fn run(args: &ConnectArgs) -> Result<()> {
    if args.udp {
        return datagrams(args).await;
    }
    let idle = args.idle_timeout.filter(|d| !d.is_zero());
    let tls = args.tls.client_tls()?;
    if let Some(path) = &args.unix {
        let connecting = tokio::time::timeout(args.connect_timeout, UnixStream::connect(path));
        let stream = connecting
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
            .and_then(|r| r)
            .map_err(|err| {
                anyhow::anyhow!("cannot connect to {}: {}", path.display(), describe(&err))
            })?;
        let stream = match tls {
            // A Unix socket has no host name: the server is checked as localhost.
            Some(tls) => Stream::from(tls.connect(stream, "localhost").await?),
            None => Stream::plain_client(stream),
        };
        return to_stdio(Monitored::new(stream, UNIX_PEER, idle), args.hex).await;
    }
    let (host, port) = host_port(args)?;
    let endpoint = Endpoint {
        connect_timeout: args.connect_timeout,
        tls,
        ..Endpoint::new(host, port)
    };
    let stream = endpoint.connect().await?;
    let peer = stream.peer();
    to_stdio(Monitored::new(stream.into_inner(), peer, idle), args.hex).await
}

fn host_port(args: &ConnectArgs) -> Result<(&str, u16)> {
    match (&args.host, args.port) {
        (Some(host), Some(port)) => Ok((host, port)),
        // clap requires both unless --unix is given.
        _ => bail!("connect needs HOST and PORT (or --unix PATH)"),
    }
}

/// Relays stdin and stdout with `stream` until both have ended: stdin's end
/// shuts our side down, the peer's end closes stdout.
pub async fn to_stdio<S>(stream: S, hex: bool) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let options = relay::Options::default();
    let stdio = (tokio::io::stdin(), tokio::io::stdout());
    relay::relay(
        stdio,
        tokio::io::split(stream),
        Dump::sent(hex),
        Dump::received(hex),
        &options,
    )
    .await
    .map_err(|err| anyhow::anyhow!("connection lost: {}", describe(&err)))?;
    Ok(())
}

/// `connect --udp`: each read of stdin is a datagram; replies are printed
/// until nothing has come for the idle timeout after stdin's end.
async fn datagrams(args: &ConnectArgs) -> Result<()> {
    let (host, port) = host_port(args)?;
    let addrs = resolve(host, port).await?;
    let target = *addrs.first().context("the name has no address")?;
    let socket = udp::connect(target)
        .await
        .with_context(|| format!("cannot send to {target}"))?;
    let linger = args.idle_timeout.unwrap_or(UDP_LINGER);
    let (mut sent, mut received) = (Dump::sent(args.hex), Dump::received(args.hex));
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    // One datagram holds at most this much over IPv4.
    let mut out = vec![0u8; 65_507];
    let mut into = vec![0u8; MAX_DATAGRAM];
    let mut reading = true;
    loop {
        tokio::select! {
            n = stdin.read(&mut out), if reading => match n? {
                0 => reading = false,
                n => {
                    sent.show(&out[..n]);
                    socket.send(&out[..n]).await.with_context(|| format!("cannot send to {target}"))?;
                }
            },
            got = socket.recv(&mut into) => match got {
                Ok(n) => {
                    received.show(&into[..n]);
                    stdout.write_all(&into[..n]).await?;
                    stdout.flush().await?;
                }
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                    bail!("{target}: port unreachable (is a server listening?)")
                }
                Err(err) => bail!("cannot receive from {target}: {}", describe(&err)),
            },
            () = tokio::time::sleep(linger), if !reading => return Ok(()),
        }
    }
}
