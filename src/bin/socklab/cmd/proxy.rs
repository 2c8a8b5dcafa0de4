//! `socklab proxy`: LISTEN relayed to UPSTREAM through toxics (TCP) or
//! netem's faults (--udp), or toxiproxy's HTTP API with `--api`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::watch;

use crate::cli::ProxyArgs;
use socklab::net::{self, Endpoint, ServerOptions};
use socklab::proxy::{self, Defaults, ProxyConfig, Registry, Toxic, netem::DirectedFault};
use socklab::udp;

/// Runs `proxy`.
pub async fn run(args: &ProxyArgs) -> Result<()> {
    let shutdown = crate::signal::shutdown_signal("no new connections");
    if let Some(api) = &args.api {
        return with_api(args, api, shutdown).await;
    }
    let ((listen_host, listen_port), (up_host, up_port)) = addresses(&args.addrs)?;
    if args.udp {
        return datagrams(
            args,
            (&listen_host, listen_port),
            (&up_host, up_port),
            shutdown,
        )
        .await;
    }
    let toxics = toxics(args)?;
    let (_keep, watched) = watch::channel(Arc::new(toxics));
    let listener = net::bind_tcp(&listen_host, listen_port).await?;
    let addr = listener.local_addr()?;
    // The certificate first: a client told we listen may check it at once.
    let server = ServerOptions {
        tls: args.tls.server_tls(addr)?,
        ..server_options(args)
    };
    crate::signal::announce(Ok(addr))?;
    if let Some(tls) = &server.tls {
        println!("{}", crate::cli::pin_line(tls));
    }
    let options = proxy::tcp::Options {
        upstream: Endpoint {
            connect_timeout: args.connect_timeout,
            tls: args.upstream_tls.client_tls()?,
            ..Endpoint::new(up_host, up_port)
        },
        toxics: watched,
        seed: args.seed,
        server,
        relay: Default::default(),
    };
    // After the last line printed: a closed stdout now is nobody's business.
    crate::signal::ignore_sigpipe();
    proxy::tcp::serve(listener, options, shutdown).await?;
    Ok(())
}

/// The `--toxic` flags, their names unique.
fn toxics(args: &ProxyArgs) -> Result<Vec<Toxic>> {
    let toxics = args
        .toxics
        .iter()
        .map(|spec| Toxic::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((_, twice)) = toxics
        .iter()
        .enumerate()
        .find(|(i, t)| toxics[..*i].iter().any(|o| o.name == t.name))
    {
        bail!(
            "two toxics named {:?}: give one a name=... of its own",
            twice.name
        );
    }
    Ok(toxics)
}

fn server_options(args: &ProxyArgs) -> ServerOptions {
    ServerOptions {
        max_conns: args.max_conns.max(1),
        access: args.access.list(),
        ..ServerOptions::with_idle(args.idle_timeout)
    }
}

/// `proxy --api ADDR [LISTEN UPSTREAM]`: toxiproxy's API, and the proxy
/// the command line names (called `--name`) if it names one.
async fn with_api(
    args: &ProxyArgs,
    api: &str,
    shutdown: crate::signal::ShutdownSignal,
) -> Result<()> {
    let registry = Registry::new(Defaults {
        server: server_options(args),
        connect_timeout: args.connect_timeout,
        seed: args.seed,
    });
    if !args.addrs.is_empty() {
        let ((lh, lp), (uh, up)) = addresses(&args.addrs)?;
        let join = |host: &str, port| match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        let config = ProxyConfig {
            name: args.name.clone(),
            listen: join(&lh, lp),
            upstream: join(&uh, up),
            enabled: true,
        };
        let made = registry.create(config, toxics(args)?).await?;
        println!("listening on {}", made.config.listen);
    }
    let (host, port) = net::split_host_port(api).map_err(|why| anyhow::anyhow!(why))?;
    let port = port.with_context(|| format!("--api {api:?} has no port (HOST:PORT)"))?;
    let listener = net::bind_tcp(&host, port).await?;
    let addr = listener.local_addr()?;
    match args.addrs.is_empty() {
        true => println!("listening on {addr}"),
        false => println!("api listening on {addr}"),
    }
    let options = ServerOptions::with_idle(Duration::from_secs(60));
    crate::signal::ignore_sigpipe();
    net::serve(listener, options, shutdown, move |io, _| {
        proxy::api::connection(io, registry.clone())
    })
    .await?;
    Ok(())
}

/// `proxy --udp`: datagrams relayed through netem's faults.
async fn datagrams(
    args: &ProxyArgs,
    (listen_host, listen_port): (&str, u16),
    (up_host, up_port): (&str, u16),
    shutdown: crate::signal::ShutdownSignal,
) -> Result<()> {
    let faults = args
        .toxics
        .iter()
        .map(|spec| DirectedFault::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let upstream = *net::resolve(up_host, up_port)
        .await?
        .first()
        .context("the upstream name has no address")?;
    let socket = udp::bind(listen_host, listen_port).await?;
    crate::signal::announce(socket.local_addr())?;
    let options = proxy::udp::Options {
        faults,
        seed: args.seed,
        max_clients: args.max_conns.max(1),
        idle: args.idle_timeout,
        access: args.access.list(),
        ..proxy::udp::Options::new(upstream)
    };
    proxy::udp::serve(socket, options, shutdown).await?;
    Ok(())
}

/// A host and a port.
type HostPort = (String, u16);

/// LISTEN UPSTREAM as `HOST:PORT HOST:PORT` or `HOST PORT HOST PORT`; a
/// bad one is a usage error (exit 2), as clap's own are.
fn addresses(addrs: &[String]) -> Result<(HostPort, HostPort)> {
    const USAGE: &str =
        "usage: socklab proxy LISTEN UPSTREAM (each HOST:PORT), or HOST PORT HOST PORT";
    let host = |host: &str| {
        if let Err(err) = net::check_host(host) {
            crate::cli::usage_error(&format!("{err}; {USAGE}"));
        }
        host.to_string()
    };
    let port = |text: &str, port: Option<&str>| match port.map(str::parse::<u16>) {
        Some(Ok(port)) => port,
        _ => crate::cli::usage_error(&format!("{text:?} has no valid port; {USAGE}")),
    };
    let one = |text: &str| match net::split_host_port(text) {
        Ok((h, Some(p))) => (host(&h), p),
        Ok(_) => crate::cli::usage_error(&format!("{text:?} has no port; {USAGE}")),
        Err(why) => crate::cli::usage_error(&format!("{why}; {USAGE}")),
    };
    match addrs {
        [listen, upstream] => Ok((one(listen), one(upstream))),
        [lh, lp, uh, up] => Ok((
            (host(lh), port(lp, Some(lp))),
            (host(uh), port(up, Some(up))),
        )),
        _ => crate::cli::usage_error(USAGE),
    }
}
