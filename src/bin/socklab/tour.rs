//! `socklab tour`: every server in-process on a free loopback port, its client
//! run against it, the exchange printed under a short heading. Each client
//! runs as the command value the shown command line parses to, not as argv.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{
    AppClientArgs, AppCmd, Command, EchoClientArgs, EchoCmd, FixedCmd, HelloClientArgs, HelloCmd,
    HttpCmd, HttpGetArgs, LookupArgs, StallClientArgs, StallCmd, Target, TlsClientArgs, TourArgs,
    TrustArgs, UdpClientArgs, UdpCmd, UdpMtuArgs, UpperClientArgs, UpperCmd,
};
use socklab::net::{self, ServerOptions};
use socklab::tls::{DevStore, ServerTls};
use socklab::{app, chat, diag, echo, fixed, hello, http, udp, upper};

/// Runs the tour; with `--tls` every TCP pair speaks TLS, the servers with
/// the development certificate and the clients verifying it; with
/// `--capture`, each exchange's packets follow it.
pub async fn run(args: &TourArgs) -> Result<()> {
    let tls = match args.tls {
        true => Some(ServerTls::development(&DevStore::locate()?, &[], None)?),
        false => None,
    };
    let mut tour = Tour {
        stop: CancellationToken::new(),
        servers: Vec::new(),
        tls,
        capture: args.capture,
        port: 0,
    };
    let addr = tour
        .start(|l, server, s| echo::serve(l, echo::Options { server }, s))
        .await?;
    tour.show(
        "echo",
        "every byte comes back (echo-server.py)",
        &tour.tcp(&["echo", "client", &ip(addr), &port(addr)]),
        Command::Echo(EchoCmd::Client(EchoClientArgs {
            target: tour.target(addr),
            message: None,
            conns: None,
        })),
    )
    .await?;
    tour.show(
        "echo, two connections",
        "multiconn-client.py: two messages on each of two connections",
        &tour.tcp(&["echo", "client", &ip(addr), &port(addr), "--conns", "2"]),
        Command::Echo(EchoCmd::Client(EchoClientArgs {
            target: tour.target(addr),
            message: None,
            conns: Some(2),
        })),
    )
    .await?;

    let addr = tour
        .start(|l, server, s| fixed::serve(l, fixed::Options { server }, s))
        .await?;
    tour.show(
        "fixed",
        "exactly sixteen octets each way (tcp_sixteen.py)",
        &tour.tcp(&["fixed", "client", &ip(addr), &port(addr)]),
        Command::Fixed(FixedCmd::Client(tour.target(addr))),
    )
    .await?;

    let addr = tour
        .start(|l, server, s| upper::serve(l, upper::Options { server }, s))
        .await?;
    tour.show(
        "upper",
        "a stream uppercased, sent and received at once (tcp_deadlock.py, without the deadlock)",
        &tour.tcp(&["upper", "client", &ip(addr), &port(addr), "1048576"]),
        Command::Upper(UpperCmd::Client(UpperClientArgs {
            target: tour.target(addr),
            bytes: 1_048_576,
            lockstep: false,
            stall_timeout: Duration::from_secs(5),
        })),
    )
    .await?;

    let addr = tour
        .start(|l, server, s| hello::serve(l, hello::Options { server }, s))
        .await?;
    tour.show(
        "hello",
        "Welcome!, then Hello, NAME! per name, then exit",
        &tour.tcp(&["hello", "client", &ip(addr), &port(addr)]),
        Command::Hello(HelloCmd::Client(HelloClientArgs {
            target: tour.target(addr),
            names: ["Michael", "Tracy", "Sarah"].map(String::from).to_vec(),
        })),
    )
    .await?;

    let addr = tour
        .start(|l, c, s| {
            app::serve(
                l,
                app::Options {
                    server: c,
                    ..app::Options::default()
                },
                s,
            )
        })
        .await?;
    for (about, action, value) in [
        ("a framed JSON search (app-client.py)", "search", "morpheus"),
        ("non-ASCII stays UTF-8 on the wire", "search", "🐶"),
        ("any other action is a binary request", "binary", "😃"),
    ] {
        tour.show(
            "app",
            about,
            &tour.tcp(&["app", "client", &ip(addr), &port(addr), action, value]),
            Command::App(AppCmd::Client(AppClientArgs {
                host: ip(addr),
                port: addr.port(),
                action: action.to_string(),
                value: value.to_string(),
                json: false,
                connect_timeout: net::DEFAULT_CONNECT_TIMEOUT,
                timeout: Duration::from_secs(30),
                tls: tour.client_tls(),
            })),
        )
        .await?;
    }
    let addr = tour
        .start(|l, c, s| {
            chat::serve(
                l,
                chat::Options {
                    server: c,
                    ..chat::Options::default()
                },
                s,
            )
        })
        .await?;
    println!("\n== chat: every line goes to everyone, the sender included; /nick, /who, quit");
    println!(
        "$ socklab chat client {} {}{} --nick alice    # and bob, the same way",
        ip(addr),
        port(addr),
        if tour.tls.is_some() { " --tls" } else { "" }
    );
    crate::cmd::chat::conversation(&tour.target(addr).endpoint(chat::DEFAULT_PORT)?).await?;

    let addr = tour.start_udp(udp::Options::default()).await?;
    tour.show(
        "udp",
        "one datagram each way, on a connected socket (RetransmissionUDPClient.py)",
        &["udp", "client", &ip(addr), &port(addr)],
        udp_client(addr),
    )
    .await?;
    // Seed 6 drops the first two requests: the client's backoff shows.
    let lossy = udp::Options {
        drop_rate: 0.7,
        seed: Some(6),
        ..udp::Options::default()
    };
    let addr = tour.start_udp(lossy).await?;
    tour.show(
        "udp, lossy server",
        "the server drops 70% (UnstableUDPServer.py); the client waits 0.1 s, 0.2 s, …",
        &["udp", "client", &ip(addr), &port(addr)],
        udp_client(addr),
    )
    .await?;
    tour.show(
        "udp mtu",
        "the path MTU and a datagram too large for it (IP_MTU)",
        &["udp", "mtu", "127.0.0.1"],
        Command::Udp(UdpCmd::Mtu(UdpMtuArgs {
            host: "127.0.0.1".into(),
            port: None,
        })),
    )
    .await?;
    let addr = tour
        .start(|l, server, s| diag::stall::serve(l, diag::stall::Options { server }, s))
        .await?;
    tour.show(
        "stall",
        "a server that never reads: where the written bytes wait (app-server-test.py)",
        &tour.tcp(&["stall", "client", &ip(addr), &port(addr)]),
        Command::Stall(StallCmd::Client(StallClientArgs {
            target: tour.target(addr),
            hold: Duration::ZERO,
        })),
    )
    .await?;

    let addr = tour
        .start(|l, server, s| {
            let options = http::Options {
                server,
                ..http::Options::default()
            };
            http::serve(l, options, s)
        })
        .await?;
    // Over TLS, http get trusts the development CA as every client does.
    let scheme = if tour.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}/");
    tour.show(
        "http",
        "the minimal HTTP server, fetched by the raw-socket client (head on stderr, body on stdout)",
        &["http", "get", &url],
        Command::Http(HttpCmd::Get(HttpGetArgs {
            url: url.clone(),
            output: None,
            raw: false,
            trust: TrustArgs::default(),
            connect_timeout: net::DEFAULT_CONNECT_TIMEOUT,
            timeout: Duration::from_secs(30),
        })),
    )
    .await?;
    println!(); // the body has no newline of its own

    tour.show(
        "lookup",
        "every address getaddrinfo gives for a name, as socket.getaddrinfo lists them",
        &["lookup", "localhost", "80"],
        Command::Lookup(LookupArgs {
            host: Some("localhost".into()),
            target_port: Some("80".into()),
            service: None,
            port: None,
            proto: None,
        }),
    )
    .await?;
    tour.stop().await;
    println!("\nThe tour is over: every exchange above ran on real sockets.");
    Ok(())
}

/// `socklab udp client IP PORT` with its defaults.
fn udp_client(addr: SocketAddr) -> Command {
    Command::Udp(UdpCmd::Client(UdpClientArgs {
        host: ip(addr),
        port: Some(addr.port()),
        message: udp::DEFAULT_MESSAGE.into(),
        start: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
        broadcast: false,
        wait: Duration::from_secs(2),
    }))
}

fn ip(addr: SocketAddr) -> String {
    addr.ip().to_string()
}

fn port(addr: SocketAddr) -> String {
    addr.port().to_string()
}

/// The servers the tour started, stopped together at the end.
struct Tour {
    stop: CancellationToken,
    servers: Vec<JoinHandle<io::Result<()>>>,
    /// With `--tls`: what every TCP server serves.
    tls: Option<ServerTls>,
    /// `--capture`: show the packets of the last started server's port.
    capture: bool,
    port: u16,
}

impl Tour {
    /// A client's target for the server at `addr`, over TLS when the tour is.
    fn target(&self, addr: SocketAddr) -> Target {
        Target {
            tls: self.client_tls(),
            ..Target::new(&ip(addr), addr.port())
        }
    }

    /// A client's TLS flags: `--tls` alone, which trusts the development CA.
    fn client_tls(&self) -> TlsClientArgs {
        TlsClientArgs {
            tls: self.tls.is_some(),
            ..TlsClientArgs::default()
        }
    }

    /// A TCP client's command line as shown, `--tls` added when it applies.
    fn tcp<'a>(&self, parts: &[&'a str]) -> Vec<&'a str> {
        let mut line = parts.to_vec();
        if self.tls.is_some() {
            line.push("--tls");
        }
        line
    }

    /// Starts a server on a free loopback port and returns its address.
    async fn start<F, Fut>(&mut self, server: F) -> Result<SocketAddr>
    where
        F: FnOnce(
            TcpListener,
            ServerOptions,
            tokio_util::sync::WaitForCancellationFutureOwned,
        ) -> Fut,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        let listener = net::bind_tcp("127.0.0.1", 0).await?;
        let addr = listener
            .local_addr()
            .context("reading the listener's address")?;
        let config = ServerOptions {
            tls: self.tls.clone(),
            ..ServerOptions::default()
        };
        self.port = addr.port();
        self.servers.push(tokio::spawn(server(
            listener,
            config,
            self.stop.clone().cancelled_owned(),
        )));
        Ok(addr)
    }

    /// Starts a UDP lucky-number server on a free loopback port.
    async fn start_udp(&mut self, options: udp::Options) -> Result<SocketAddr> {
        let socket = udp::bind("127.0.0.1", 0).await?;
        let addr = socket
            .local_addr()
            .context("reading the socket's address")?;
        let stop = self.stop.clone().cancelled_owned();
        self.port = addr.port();
        self.servers
            .push(tokio::spawn(udp::run(socket, options, stop)));
        Ok(addr)
    }

    /// Prints a heading and the command line it shows (`shown`), then runs
    /// that command, given as the value the command line would parse to.
    async fn show(&self, title: &str, about: &str, shown: &[&str], command: Command) -> Result<()> {
        println!("\n== {title}: {about}");
        println!("$ socklab {}", shown.join(" "));
        // Captured: exchanges with the last started server, named by its port.
        let port = self.port.to_string();
        if !self.capture || !shown.iter().any(|arg| arg.contains(&port)) {
            return Box::pin(crate::run::run(command)).await;
        }
        let capture = crate::cmd::capture::Background::start(self.port)?;
        Box::pin(crate::run::run(command)).await?;
        println!("\n-- its packets (socklab capture --port {port}):");
        capture
            .finish()
            .await?
            .iter()
            .for_each(|line| println!("{line}"));
        Ok(())
    }

    async fn stop(self) {
        self.stop.cancel();
        for server in self.servers {
            let _ = server.await;
        }
    }
}
