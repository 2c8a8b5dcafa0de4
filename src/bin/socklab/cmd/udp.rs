//! `socklab udp`: options in, the library called, its results shown.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tracing::info;

use crate::cli::{UdpClientArgs, UdpMtuArgs, UdpServerArgs};
use socklab::net::{describe, resolve};
use socklab::udp::{self, Backoff, DEFAULT_PORT, quoted};

/// Runs `udp server`: binds the user's address, prints `listening on`, and
/// answers until SIGINT or SIGTERM.
pub async fn server(args: &UdpServerArgs) -> Result<()> {
    // Handlers first: a signal right after `listening on` must not kill us.
    let shutdown = crate::signal::shutdown_signal("no more datagrams");
    let socket = udp::bind(&args.host, args.port.unwrap_or(DEFAULT_PORT)).await?;
    crate::signal::announce(socket.local_addr())?;
    let options = udp::Options {
        drop_rate: args.drop_rate,
        seed: args.seed,
        access: args.access.list(),
    };
    udp::serve(socket, options, shutdown).await?;
    Ok(())
}

/// Runs `udp client`: the retransmitting client, or the broadcast one.
pub async fn client(args: &UdpClientArgs) -> Result<()> {
    let port = args.port.unwrap_or(DEFAULT_PORT);
    let addrs = resolve(&args.host, port).await?;
    // resolve() never returns an empty list.
    let target = *addrs.first().context("the name has no address")?;
    if args.broadcast {
        let show = |sender, data: &[u8]| println!("{sender} replied {}", quoted(data));
        let count = udp::broadcast(target, args.message.as_bytes(), args.wait, show)
            .await
            .with_context(|| format!("cannot broadcast to {target}"))?;
        if count == 0 {
            bail!(
                "no reply to the broadcast to {target} within {:?}",
                args.wait
            );
        }
        return Ok(());
    }
    let socket = udp::connect(target)
        .await
        .with_context(|| format!("cannot send to {target}"))?;
    info!("requesting from {}", socket.local_addr()?);
    let backoff = Backoff {
        start: args.start,
        max_wait: args.max_wait,
    };
    let print_wait =
        |wait: Duration| println!("Waiting up to {} seconds for a reply", wait.as_secs_f64());
    let reply = udp::request(
        &socket,
        target,
        args.message.as_bytes(),
        backoff,
        print_wait,
    )
    .await?;
    println!("The server replied {}", quoted(&reply.data));
    Ok(())
}

/// Runs `udp mtu`.
pub async fn mtu(args: &UdpMtuArgs) -> Result<()> {
    let port = args.port.unwrap_or(DEFAULT_PORT);
    let addrs = resolve(&args.host, port).await?;
    // resolve() never returns an empty list.
    let peer = *addrs.first().context("the name has no address")?;
    let report = udp::probe(peer)
        .await
        .map_err(|err| anyhow::anyhow!("cannot find the path MTU to {peer}: {}", describe(&err)))?;
    let family = if peer.is_ipv6() { "IPV6_MTU" } else { "IP_MTU" };
    println!(
        "path MTU to {peer}: {} bytes ({family}, fragmentation off)",
        report.mtu
    );
    println!(
        "largest UDP payload in one datagram: {} bytes",
        report.max_payload
    );
    let size = report.max_payload + 1;
    match report.oversized {
        Err(err) if err.raw_os_error() == Some(libc::EMSGSIZE) => println!(
            "sending {size} bytes: {} (EMSGSIZE): the kernel refuses a datagram larger than the path MTU",
            describe(&err)
        ),
        Err(err) => println!("sending {size} bytes: {} (not EMSGSIZE)", describe(&err)),
        Ok(sent) => {
            println!("sending {size} bytes: {sent} bytes went out (no EMSGSIZE on this path)")
        }
    }
    Ok(())
}
