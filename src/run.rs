//! Runs a parsed command: binds what the user asked for and calls the protocol.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use tokio::net::{TcpListener, TcpStream};

use crate::cli::{
    AppCmd, ChatCmd, Command, EchoCmd, FixedCmd, HelloCmd, HttpCmd, ServerArgs, StallCmd, UdpCmd,
    UpperCmd,
};
use crate::net::{self, ConnInfo, Monitored, ServerOptions};
use crate::{app, bench, chat, diag, echo, fixed, hello, http, lookup, tour, udp, upper};

/// Runs one command to completion.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Echo(EchoCmd::Server(args)) => {
            serve_handler(&args, echo::DEFAULT_PORT, echo::DEFAULT_IDLE, echo::handle).await
        }
        Command::Echo(EchoCmd::Client(args)) => echo::client(&args).await,
        Command::Fixed(FixedCmd::Server(args)) => {
            serve_handler(
                &args,
                fixed::DEFAULT_PORT,
                fixed::DEFAULT_IDLE,
                fixed::handle,
            )
            .await
        }
        Command::Fixed(FixedCmd::Client(target)) => fixed::client(&target).await,
        Command::Upper(UpperCmd::Server(args)) => {
            serve_handler(
                &args,
                upper::DEFAULT_PORT,
                upper::DEFAULT_IDLE,
                upper::handle,
            )
            .await
        }
        Command::Upper(UpperCmd::Client(args)) => upper::client(&args).await,
        Command::Hello(HelloCmd::Server(args)) => {
            serve_handler(
                &args,
                hello::DEFAULT_PORT,
                hello::DEFAULT_IDLE,
                hello::handle,
            )
            .await
        }
        Command::Hello(HelloCmd::Client(args)) => hello::client(&args).await,
        Command::Udp(UdpCmd::Server(args)) => udp::server::serve(&args).await,
        Command::Udp(UdpCmd::Client(args)) => udp::client::client(&args).await,
        Command::Udp(UdpCmd::Mtu(args)) => udp::mtu::client(&args).await,
        Command::Http(HttpCmd::Server(args)) => {
            let limits = args.limits();
            serve(
                &args.server,
                http::DEFAULT_PORT,
                http::DEFAULT_IDLE,
                |l, c, s| http::run_with(l, c, &args.body, limits, s),
            )
            .await
        }
        Command::Http(HttpCmd::Get(args)) => http::get(&args).await,
        Command::Lookup(args) => lookup::run(&args).await,
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
            serve(
                &args.server,
                chat::DEFAULT_PORT,
                chat::DEFAULT_IDLE,
                |l, c, s| {
                    chat::serve(
                        l,
                        chat::Options {
                            server: c,
                            ..options
                        },
                        s,
                    )
                },
            )
            .await
        }
        Command::Chat(ChatCmd::Client(args)) => crate::cmd::chat::client(&args).await,
        Command::Tour => tour::run().await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Sockets(args) => diag::sockets::command(&args),
        Command::Stall(StallCmd::Server(args)) => {
            serve(
                &args,
                diag::stall::DEFAULT_PORT,
                diag::stall::DEFAULT_IDLE,
                diag::stall::run,
            )
            .await
        }
        Command::Stall(StallCmd::Client(args)) => diag::stall::client(&args).await,
        Command::Ping(args) => diag::ping::command(&args).await,
    }
}

/// Binds the user's address, prints `listening on`, and serves until a signal.
pub async fn serve<F, Fut>(
    args: &ServerArgs,
    default_port: u16,
    default_idle: Duration,
    server: F,
) -> Result<()>
where
    F: FnOnce(TcpListener, ServerOptions, net::ShutdownSignal) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    // Handlers first: a signal right after `listening on` must not kill us.
    let shutdown = net::shutdown_signal("no new connections, finishing the ones in flight");
    let listener = bind(args, default_port).await?;
    server(listener, args.config(default_idle), shutdown).await?;
    Ok(())
}

/// [`serve`] for a protocol that is only a connection handler on `net::serve`.
async fn serve_handler<H, Fut, E>(
    args: &ServerArgs,
    default_port: u16,
    default_idle: Duration,
    handler: H,
) -> Result<()>
where
    H: Fn(Monitored<TcpStream>, ConnInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    serve(args, default_port, default_idle, |l, c, s| {
        net::serve(l, c, s, handler)
    })
    .await
}

/// Binds the user's address and prints `listening on ADDR`.
pub async fn bind(args: &ServerArgs, default_port: u16) -> Result<TcpListener> {
    let listener = net::bind_tcp(&args.host, args.port.unwrap_or(default_port)).await?;
    net::announce(&listener)?;
    Ok(listener)
}
