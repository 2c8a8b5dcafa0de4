//! `socklab upper`: options in, the library called, its results shown, with
//! a progress bar for large transfers.

use anyhow::Result;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::cli::UpperClientArgs;
use socklab::net::{PREVIEW_LIMIT, escape_bytes};
use socklab::upper::{self, Transfer};

/// Transfers at least this large get a progress bar (on a terminal).
const PROGRESS_FROM: u64 = 8 * 1024 * 1024;

/// Runs `upper client`.
pub async fn client(args: &UpperClientArgs) -> Result<()> {
    let transfer = Transfer {
        bytes: args.bytes,
        lockstep: args.lockstep,
        stall_timeout: args.stall_timeout,
    };
    let total = transfer.total();
    let server = args.target.endpoint(upper::DEFAULT_PORT)?;
    println!(
        "Sending {total} bytes of data, {} repeated",
        escape_bytes(upper::MESSAGE, PREVIEW_LIMIT)
    );
    let bar = (total >= PROGRESS_FROM).then(|| {
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} received, {bytes_per_sec} {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let show = |sent, received| {
        if let Some(bar) = &bar {
            bar.set_position(received);
            bar.set_message(format!("({} sent)", HumanBytes(sent)));
        }
    };
    let result = upper::client(&server, &transfer, show).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    println!("  {} bytes sent", report.sent);
    println!("Receiving all the data the server sends back");
    println!(
        "  The first data received says {}",
        escape_bytes(&report.first, PREVIEW_LIMIT)
    );
    let secs = report.elapsed.as_secs_f64();
    println!(
        "  {} bytes received and verified in {secs:.2}s ({:.1} MiB/s)",
        report.received,
        report.received as f64 / (1024.0 * 1024.0) / secs.max(1e-9)
    );
    Ok(())
}
