//! `socklab bench`: the command line's load in, the bench run, its report
//! printed; any failure counted makes the command an error (exit 1).

use anyhow::{Result, bail};

use crate::cli::{BenchCmd, LoadArgs, TlsClientArgs};
use socklab::bench::{self, Load, Report};

/// Runs one bench command and prints its report (`--json`: one object).
pub async fn run(cmd: BenchCmd) -> Result<()> {
    let (report, json) = match cmd {
        BenchCmd::Echo(args) => {
            let options = bench::EchoOptions {
                load: tls_load(&args.load, &args.tls)?,
                bulk: args.bulk,
            };
            (bench::echo(&options).await?, args.load.json)
        }
        BenchCmd::Http(args) => {
            let options = bench::HttpOptions {
                load: tls_load(&args.load, &args.tls)?,
                path: args.path,
            };
            (bench::http(&options).await?, args.load.json)
        }
        BenchCmd::Udp(args) => (bench::udp(&load(&args)).await?, args.json),
        BenchCmd::Chat(args) => {
            let options = bench::ChatOptions {
                load: tls_load(&args.load, &args.tls)?,
                senders: args.senders,
            };
            (bench::chat(&options).await?, args.load.json)
        }
        BenchCmd::App(args) => {
            let options = bench::AppOptions {
                load: tls_load(&args.load, &args.tls)?,
                keep_alive: args.keep_alive,
                value: args.value,
            };
            (bench::app(&options).await?, args.load.json)
        }
    };
    finish(&report, json)
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
    }
}

/// The load, over TLS with `--tls`.
fn tls_load(args: &LoadArgs, tls: &TlsClientArgs) -> Result<Load> {
    Ok(Load {
        tls: tls.client_tls()?,
        ..load(args)
    })
}

/// Prints the report and turns counted failures into the command's error.
fn finish(report: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    let errors = report.tally.errors.total();
    if errors > 0 {
        let first = report.tally.first_error.as_deref().unwrap_or("unknown");
        bail!("{errors} error(s) during the bench; the first: {first}");
    }
    Ok(())
}
