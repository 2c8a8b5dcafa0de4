//! `socklab bench`: the command line's load in, the bench run (or, with
//! `--vs`, the interleaved runs against two servers), its report printed;
//! any failure counted makes the command an error (exit 1).

use anyhow::{Context, Result, bail};

use crate::cli::{BenchCmd, BenchIdleArgs, LoadArgs, TlsClientArgs};
use socklab::bench::versus::{self, Side};
use socklab::bench::{self, Load, Report, plot, spectrum};

/// Runs one bench command and prints its report (`--json`: one object).
pub async fn run(cmd: BenchCmd) -> Result<()> {
    if let BenchCmd::Idle(idle) = &cmd {
        return run_idle(idle).await;
    }
    let Some(args) = cmd.load().cloned() else {
        bail!("this bench has no load options");
    };
    if let Some(vs) = &args.vs {
        let comparison = versus::compare(args.runs, |side| {
            let (addr, pid) = match side {
                Side::A => (args.addr.clone(), args.server_pid),
                Side::B => (vs.clone(), args.vs_pid),
            };
            once(&cmd, addr, pid)
        })
        .await?;
        if args.json {
            println!("{}", comparison.to_json());
        } else {
            print!("{}", comparison.to_text());
        }
        return failed(comparison.errors(), comparison.first_error());
    }
    let report = once(&cmd, args.addr.clone(), args.server_pid).await?;
    finish(&report, &args)
}

/// Runs the bench once against `addr`, sampling `pid` if given.
async fn once(cmd: &BenchCmd, addr: String, pid: Option<u32>) -> Result<Report> {
    let aim = |load: Load| Load {
        addr: addr.clone(),
        server_pid: pid,
        ..load
    };
    Ok(match cmd {
        BenchCmd::Echo(args) => {
            let options = bench::EchoOptions {
                load: aim(tls_load(&args.load, &args.tls)?),
                bulk: args.bulk,
            };
            bench::echo(&options).await?
        }
        BenchCmd::Http(args) => {
            let options = bench::HttpOptions {
                load: aim(tls_load(&args.load, &args.tls)?),
                path: args.path.clone(),
            };
            bench::http(&options).await?
        }
        BenchCmd::Udp(args) => bench::udp(&aim(load(args))).await?,
        BenchCmd::Chat(args) => {
            let options = bench::ChatOptions {
                load: aim(tls_load(&args.load, &args.tls)?),
                senders: args.senders,
            };
            bench::chat(&options).await?
        }
        BenchCmd::App(args) => {
            let options = bench::AppOptions {
                load: aim(tls_load(&args.load, &args.tls)?),
                keep_alive: args.keep_alive,
                value: args.value.clone(),
            };
            bench::app(&options).await?
        }
        BenchCmd::Idle(_) => bail!("bench idle opens idle connections: it has no load to run"),
    })
}

/// Runs `bench idle` and prints its table (`--json`: one object); stopping
/// short of `--conns` is an error.
async fn run_idle(args: &BenchIdleArgs) -> Result<()> {
    let options = bench::IdleOptions {
        load: Load {
            addr: args.addr.clone(),
            addr_port: args.addr_port,
            conns: args.conns,
            ramp: args.ramp,
            connect_timeout: args.connect_timeout,
            allow_remote: args.allow_remote,
            server_pid: args.server_pid,
            ..Load::default()
        },
        step: args.step,
        settle: args.settle,
    };
    let report = bench::idle(&options).await?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if let Some(path) = &args.plot {
        let svg = plot::idle_svg(&report)?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    match &report.stopped {
        Some(why) => bail!(
            "stopped at {} of {} connections: {why}",
            report.opened(),
            args.conns
        ),
        None => Ok(()),
    }
}

/// The library's load from the command line's.
fn load(args: &LoadArgs) -> Load {
    Load {
        addr: args.addr.clone(),
        addr_port: args.addr_port,
        conns: args.conns,
        size: args.size,
        duration: args.duration,
        warmup: args.warmup,
        pipeline: args.pipeline,
        rate: args.rate,
        ramp: args.ramp,
        timeout: args.timeout,
        connect_timeout: args.connect_timeout,
        allow_remote: args.allow_remote,
        tls: None,
        server_pid: args.server_pid,
    }
}

/// The load, over TLS with `--tls`.
fn tls_load(args: &LoadArgs, tls: &TlsClientArgs) -> Result<Load> {
    Ok(Load {
        tls: tls.client_tls()?,
        ..load(args)
    })
}

/// Prints the report (with the spectrum, and the plot written, if asked)
/// and turns counted failures into the command's error.
fn finish(report: &Report, args: &LoadArgs) -> Result<()> {
    let latency = &report.tally.latency;
    if args.json {
        let mut json = report.to_json();
        if args.latency_spectrum {
            json["latency_spectrum"] = spectrum::text(latency).into();
            json["latency_hdr"] = spectrum::encoded(latency).into();
        }
        println!("{json}");
    } else {
        print!("{}", report.to_text());
        if args.latency_spectrum {
            println!("\nDetailed percentile spectrum (msec):");
            print!("{}", spectrum::text(latency));
        }
    }
    if let Some(path) = &args.plot {
        let svg = plot::svg(report)?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    failed(
        report.tally.errors.total(),
        report.tally.first_error.as_deref(),
    )
}

/// The command's error when any failure was counted.
fn failed(errors: u64, first: Option<&str>) -> Result<()> {
    if errors > 0 {
        bail!(
            "{errors} error(s) during the bench; the first: {}",
            first.unwrap_or("unknown")
        );
    }
    Ok(())
}
