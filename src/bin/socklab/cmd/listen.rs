//! `socklab listen`: one connection (or, with `-k`, one after another)
//! between a socket and stdin/stdout, or with `--exec` a program per
//! connection, served at once; TCP, Unix sockets, UDP, TLS.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::dump::Dump;
use crate::cli::ListenArgs;
use socklab::net::{self, IntoListener, ServerOptions, UnixIncoming, describe};
use socklab::relay;
use socklab::udp::{self, MAX_DATAGRAM};

/// How long a program run by `--exec` may take to exit after its connection ended.
const EXEC_GRACE: Duration = Duration::from_secs(5);

/// What each connection is joined to.
#[derive(Clone)]
enum Peer {
    /// Our stdin and stdout, one connection at a time.
    Stdio(Arc<Mutex<(tokio::io::Stdin, tokio::io::Stdout)>>),
    /// A program of its own per connection.
    Exec(Arc<str>),
}

/// Runs `listen`.
pub async fn run(args: &ListenArgs) -> Result<()> {
    let shutdown = crate::signal::shutdown_signal("no new connections");
    let (host, port) = host_port(&args.addr)?;
    if args.udp {
        return datagrams(args, &host, port, shutdown).await;
    }
    let peer = match &args.exec {
        Some(cmd) => Peer::Exec(cmd.as_str().into()),
        None => Peer::Stdio(Arc::new(Mutex::new((
            tokio::io::stdin(),
            tokio::io::stdout(),
        )))),
    };
    // Stdio serves one connection at a time; `--exec` many.
    let max_conns = match peer {
        Peer::Stdio(_) => 1,
        Peer::Exec(_) => args.max_conns.max(1),
    };
    let mut options = ServerOptions {
        max_conns,
        access: args.access.list(),
        ..ServerOptions::with_idle(args.idle_timeout)
    };
    match &args.unix {
        Some(path) => {
            let listener = UnixIncoming::bind(path)?;
            options.tls = args.tls.server_tls(net::UNIX_PEER)?;
            announce(&peer, &listener.path().display().to_string());
            serve(listener, options, args, peer, shutdown).await
        }
        None => {
            let listener = net::bind_tcp(&host, port).await?;
            let addr = listener.local_addr()?;
            // The certificate first: a client told we listen may check it at once.
            options.tls = args.tls.server_tls(addr)?;
            announce(&peer, &addr.to_string());
            if let Some(tls) = &options.tls {
                announce(&peer, &crate::cli::pin_line(tls));
            }
            serve(listener, options, args, peer, shutdown).await
        }
    }
}

/// Prints `listening on WHERE` (or the pin line): on stdout with `--exec`,
/// as every server does; on stderr when stdout carries the connection's
/// bytes (`socklab listen 9000 > file` must hold only what was received).
fn announce(peer: &Peer, line: &str) {
    let line = match line.starts_with("certificate ") {
        true => line.to_string(),
        false => format!("listening on {line}"),
    };
    match peer {
        Peer::Exec(_) => println!("{line}"),
        Peer::Stdio(_) => eprintln!("{line}"),
    }
}

/// `[HOST] PORT` as the user gave them; a lone argument is the port. A
/// bad one is a usage error (exit 2), as clap's own are.
fn host_port(addr: &[String]) -> Result<(String, u16)> {
    const USAGE: &str = "usage: socklab listen [HOST] PORT";
    let (host, port) = match addr {
        [] => return Ok((String::new(), 0)),
        [port] => ("127.0.0.1", port),
        [host, port] => (host.as_str(), port),
        _ => crate::cli::usage_error(USAGE),
    };
    if let Err(err) = net::check_host(host) {
        crate::cli::usage_error(&format!("{err}; {USAGE}"));
    }
    match port.parse() {
        Ok(port) => Ok((host.to_string(), port)),
        Err(_) => crate::cli::usage_error(&format!("invalid port {port:?}; {USAGE}")),
    }
}

/// Serves connections until a signal, or, without `-k`, after the first one.
async fn serve(
    listener: impl IntoListener,
    options: ServerOptions,
    args: &ListenArgs,
    peer: Peer,
    shutdown: crate::signal::ShutdownSignal,
) -> Result<()> {
    let done = CancellationToken::new();
    let stop = {
        let done = done.clone();
        async move {
            tokio::select! {
                () = shutdown => {}
                () = done.cancelled() => {}
            }
        }
    };
    let (once, hex) = (!args.keep_open, args.hex);
    net::serve(listener, options, stop, move |io, info| {
        let (peer, done) = (peer.clone(), done.clone());
        async move {
            let result = match peer {
                Peer::Stdio(stdio) => {
                    let mut stdio = stdio.lock().await;
                    let (stdin, stdout) = &mut *stdio;
                    let options = relay::Options::default();
                    relay::relay(
                        (stdin, stdout),
                        tokio::io::split(io),
                        Dump::sent(hex),
                        Dump::received(hex),
                        &options,
                    )
                    .await
                    .map(drop)
                    .map_err(|err| describe(&err))
                }
                Peer::Exec(cmd) => exec(&cmd, io, info.peer, hex).await,
            };
            if once {
                done.cancel();
            }
            result
        }
    })
    .await?;
    Ok(())
}

/// Runs `cmd` with the connection as its stdin and stdout until both ends
/// have closed, then gives it a moment to exit.
async fn exec<S>(cmd: &str, io: S, peer: SocketAddr, hex: bool) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("SOCKLAB_PEER", peer.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot run {cmd:?}: {}", describe(&err)))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("the program's stdin and stdout are not piped".into());
    };
    // The program is `a`: what it writes is what we send.
    let relayed = relay::relay(
        (stdout, stdin),
        tokio::io::split(io),
        Dump::sent(hex),
        Dump::received(hex),
        &relay::Options::default(),
    )
    .await;
    match tokio::time::timeout(EXEC_GRACE, child.wait()).await {
        Ok(Ok(status)) => debug!("{cmd:?} for {peer} exited: {status}"),
        Ok(Err(err)) => warn!("{cmd:?} for {peer}: {err}"),
        // kill_on_drop ends it.
        Err(_) => warn!("{cmd:?} for {peer} still running after its connection: killed"),
    }
    relayed.map(drop).map_err(|err| describe(&err))
}

/// `listen --udp`: prints each datagram and sends stdin to whoever sent the
/// last one; without `-k` only the first sender is heard. Ends on a signal,
/// or with `--idle-timeout` once nothing has come for that long.
async fn datagrams(
    args: &ListenArgs,
    host: &str,
    port: u16,
    mut shutdown: crate::signal::ShutdownSignal,
) -> Result<()> {
    let socket = udp::bind(host, port).await?;
    // Stdout carries the datagrams.
    eprintln!("listening on {}", socket.local_addr()?);
    let access = args.access.list();
    let idle = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    let (mut sent, mut received) = (Dump::sent(args.hex), Dump::received(args.hex));
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut out = vec![0u8; 65_507];
    let mut into = vec![0u8; MAX_DATAGRAM];
    let mut peer: Option<SocketAddr> = None;
    let mut reading = true;
    loop {
        let quiet = async {
            match idle {
                Some(idle) => tokio::time::sleep(idle).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = quiet => return Ok(()),
            got = socket.recv_from(&mut into) => {
                let (n, from) = match got {
                    Ok(got) => got,
                    // ICMP errors of earlier sends to a peer now gone.
                    Err(err) => { debug!("receive: {}", describe(&err)); continue; }
                };
                if !access.permits(from.ip()) {
                    warn!("refused datagram from {from}: not allowed by --allow/--deny");
                    continue;
                }
                if !args.keep_open && peer.is_some_and(|p| p != from) {
                    debug!("ignored datagram from {from}: serving {peer:?} (use -k)");
                    continue;
                }
                peer = Some(from);
                received.show(&into[..n]);
                stdout.write_all(&into[..n]).await?;
                stdout.flush().await?;
            }
            n = stdin.read(&mut out), if reading && peer.is_some() => match (n?, peer) {
                (0, _) => reading = false,
                (n, Some(to)) => {
                    sent.show(&out[..n]);
                    if let Err(err) = socket.send_to(&out[..n], to).await {
                        warn!("cannot send to {to}: {}", describe(&err));
                    }
                }
                (_, None) => {}
            },
        }
    }
}
