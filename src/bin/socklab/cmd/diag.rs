//! `socklab sockets`, `stall` and `ping`: options in, the library called,
//! its rows, reports and replies printed as the tools print them.

use std::io::Write as _;

use anyhow::{Context, Result, bail};

use crate::cli::{PingArgs, SocketsArgs, StallClientArgs};
use socklab::diag::{ping, sockets, stall};

/// `sockets`: the table, or the JSON array.
pub fn sockets(args: &SocketsArgs) -> Result<()> {
    let filter = sockets::Filter {
        port: args.port,
        listening: args.listening,
        tcp: match (args.tcp, args.udp) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let mut entries =
        sockets::read(&filter).context("cannot read the socket tables in /proc/net")?;
    sockets::attach_owners(&mut entries);
    let mut out = if args.json {
        serde_json::to_string_pretty(&entries)?
    } else {
        sockets::table(&entries)
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // `socklab sockets | head` closing the pipe early is not an error.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// `stall client`: fill the queues, report, optionally hold.
pub async fn stall_client(args: &StallClientArgs) -> Result<()> {
    let target = args.target.endpoint(stall::DEFAULT_PORT)?;
    let mut server = None;
    let (report, stream) = stall::client(&target, |event| match event {
        stall::Event::Connected { peer, local } => {
            println!("connected to {peer} from {local}");
            server = Some(peer);
        }
        stall::Event::Filled(written) => println!(
            "wrote {written} bytes, then send() would block (EAGAIN: resource temporarily unavailable)"
        ),
    })
    .await?;
    // The client reports Connected before anything else.
    let peer = server.context("the stall client did not report its connection")?;
    print!("{}", stall::explain(&report, peer));
    if !args.hold.is_zero() {
        println!(
            "holding the connection for {}s (see it with: socklab sockets --port {})",
            args.hold.as_secs_f64(),
            peer.port()
        );
        tokio::select! {
            () = tokio::time::sleep(args.hold) => {}
            () = crate::signal::shutdown_signal("closing the held connection") => {}
        }
    }
    drop(stream);
    Ok(())
}

/// `ping`: a line per reply as it comes, ping's summary at the end; fails
/// (exit 1) when no reply came back.
pub async fn ping(args: &PingArgs) -> Result<()> {
    let pinger = ping::Pinger::open(&args.host).await?;
    let target = pinger.target();
    println!(
        "PING {} ({target}) {}({}) bytes of data.",
        args.host,
        ping::PAYLOAD_LEN,
        ping::PACKET_LEN
    );
    let options = ping::Options {
        count: args.count,
        interval: args.interval,
        timeout: args.timeout,
    };
    let shutdown = crate::signal::shutdown_signal("no more echo requests");
    let stats = pinger.run(&options, shutdown, show_reply).await?;
    println!("\n--- {} ping statistics ---", args.host);
    print!("{}", stats.summary());
    if stats.received == 0 {
        bail!("no reply from {target}");
    }
    Ok(())
}

/// One reply in ping's words.
fn show_reply(reply: &ping::Reply) {
    match reply {
        ping::Reply::Echo {
            bytes,
            source,
            seq,
            ttl,
            rtt,
            wrong_data,
        } => {
            let ttl = ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            let wrong = if *wrong_data { " (wrong data)" } else { "" };
            println!(
                "{bytes} bytes from {source}: icmp_seq={seq}{ttl} time={:.3} ms{wrong}",
                rtt.as_secs_f64() * 1000.0
            );
        }
        ping::Reply::Error {
            source,
            seq,
            description,
        } => println!("From {source} icmp_seq={seq} {description}"),
        ping::Reply::SendFailed { seq, target, error } => {
            eprintln!("ping: cannot send icmp_seq={seq} to {target}: {error}");
        }
    }
}
