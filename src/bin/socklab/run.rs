//! Runs a parsed command: binds what the user asked for and calls the protocol.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use tokio::net::TcpListener;

use crate::cli::{
    AppCmd, ChatCmd, Command, EchoCmd, FixedCmd, HelloCmd, HttpCmd, ServerArgs, StallCmd, UdpCmd,
    UpperCmd,
};
use crate::{cmd, tour};
use socklab::net::{self, ServerOptions};
use socklab::{app, chat};

/// Serves a protocol whose `Options` are only the accept loop's, on the
/// user's address, with the protocol's own port and idle timeout.
macro_rules! serve_plain {
    ($args:expr, $protocol:path) => {{
        use $protocol as protocol;
        serve(
            $args,
            protocol::DEFAULT_PORT,
            protocol::DEFAULT_IDLE,
            |l, server, s| protocol::serve(l, protocol::Options { server }, s),
        )
        .await
    }};
}

/// Runs one command to completion.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Echo(EchoCmd::Server(args)) => serve_plain!(&args, socklab::echo),
        Command::Echo(EchoCmd::Client(args)) => cmd::echo::client(&args).await,
        Command::Fixed(FixedCmd::Server(args)) => serve_plain!(&args, socklab::fixed),
        Command::Fixed(FixedCmd::Client(target)) => cmd::fixed::client(&target).await,
        Command::Upper(UpperCmd::Server(args)) => serve_plain!(&args, socklab::upper),
        Command::Upper(UpperCmd::Client(args)) => cmd::upper::client(&args).await,
        Command::Hello(HelloCmd::Server(args)) => serve_plain!(&args, socklab::hello),
        Command::Hello(HelloCmd::Client(args)) => cmd::hello::client(&args).await,
        Command::Udp(UdpCmd::Server(args)) => cmd::udp::server(&args).await,
        Command::Udp(UdpCmd::Client(args)) => cmd::udp::client(&args).await,
        Command::Udp(UdpCmd::Mtu(args)) => cmd::udp::mtu(&args).await,
        Command::Http(HttpCmd::Server(args)) => cmd::http::server(args).await,
        Command::Http(HttpCmd::Get(args)) => cmd::http::get(&args).await,
        Command::Lookup(args) => cmd::lookup::run(&args).await,
        Command::App(AppCmd::Server(args)) => {
            let options = crate::cmd::app::options(&args)?;
            serve(
                &args.server,
                app::DEFAULT_PORT,
                app::DEFAULT_IDLE,
                |l, c, s| {
                    app::serve(
                        l,
                        app::Options {
                            server: c,
                            ..options
                        },
                        s,
                    )
                },
            )
            .await
        }
        Command::App(AppCmd::Client(args)) => crate::cmd::app::client(&args).await,
        Command::Chat(ChatCmd::Server(args)) => {
            let options = crate::cmd::chat::options(&args);
            let shared = crate::cmd::chat::shared(&args)?;
            let room = |options| match shared {
                Some(redis) => {
                    // Under `listening on`, which scripts wait for first.
                    println!(
                        "room {} on {} as node {}",
                        redis.room, redis.url, redis.node_id
                    );
                    chat::Room::shared(options, redis).map_err(std::io::Error::other)
                }
                None => Ok(chat::Room::new(options)),
            };
            serve(
                &args.server,
                chat::DEFAULT_PORT,
                chat::DEFAULT_IDLE,
                |l, c, s| async move {
                    let server = ServerOptions {
                        send_buffer: Some(args.send_buffer),
                        ..c
                    };
                    room(chat::Options { server, ..options })?.serve(l, s).await
                },
            )
            .await
        }
        Command::Chat(ChatCmd::Client(args)) => crate::cmd::chat::client(&args).await,
        Command::Tour(args) => tour::run(&args).await,
        Command::Bench(command) => cmd::bench::run(command).await,
        Command::Sockets(args) => cmd::diag::sockets(&args),
        Command::Stall(StallCmd::Server(args)) => serve_plain!(&args, socklab::diag::stall),
        Command::Stall(StallCmd::Client(args)) => cmd::diag::stall_client(&args).await,
        Command::Ping(args) => cmd::diag::ping(&args).await,
        Command::Cert(command) => cmd::cert::run(&command),
        Command::Capture(args) => cmd::capture::run(&args).await,
        Command::Connect(args) => cmd::connect::run(&args).await,
        Command::Listen(args) => cmd::listen::run(&args).await,
        Command::Proxy(args) => cmd::proxy::run(&args).await,
    }
}

/// Binds the user's address, prints `listening on` (and, with TLS, the
/// certificate's pin under it), and serves until a signal.
pub async fn serve<F, Fut>(
    args: &ServerArgs,
    default_port: u16,
    default_idle: Duration,
    server: F,
) -> Result<()>
where
    F: FnOnce(TcpListener, ServerOptions, crate::signal::ShutdownSignal) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    // Handlers first: a signal right after `listening on` must not kill us.
    let shutdown =
        crate::signal::shutdown_signal("no new connections, finishing the ones in flight");
    let listener = net::bind_tcp(&args.host, args.port.unwrap_or(default_port)).await?;
    let addr = listener.local_addr()?;
    let options = ServerOptions {
        tls: args.tls.server_tls(addr)?,
        ..args.config(default_idle)
    };
    crate::signal::announce(Ok(addr))?;
    if let Some(tls) = &options.tls {
        println!("{}", crate::cli::pin_line(tls));
    }
    server(listener, options, shutdown).await?;
    Ok(())
}
