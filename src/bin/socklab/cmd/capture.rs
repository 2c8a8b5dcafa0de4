//! `socklab capture`: a live capture (or a pcap file) shown as tshark lines,
//! optionally written to pcap, with tcpdump's summary at the end.
//!
//! Lines go through a bounded queue to a printer thread: a slow terminal or
//! pipe never holds up the capture (whose kernel buffer would overflow) nor
//! grows memory; what does not fit is skipped and counted. The pcap file,
//! when asked for, gets every packet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

use crate::cli::CaptureArgs;
use socklab::capture::{
    self, Dissector, Filter, PacketSocket, PcapSink, PcapSource, Proto, SocketOptions,
};

/// The pcap file's write buffer.
const FILE_BUFFER: usize = 256 * 1024;

/// Runs `socklab capture`.
pub async fn run(args: &CaptureArgs) -> Result<()> {
    let filter = filter(args);
    match &args.read {
        Some(path) => {
            let (path, count, max_flows) = (path.clone(), args.count, args.max_flows);
            tokio::task::spawn_blocking(move || read(&path, &filter, count, max_flows))
                .await
                .context("reading the capture file")?
        }
        None => live(args, filter).await,
    }
}

fn filter(args: &CaptureArgs) -> Filter {
    let proto = if args.tcp {
        Some(Proto::Tcp)
    } else if args.udp {
        Some(Proto::Udp)
    } else if args.icmp {
        Some(Proto::Icmp)
    } else {
        None
    };
    Filter {
        port: args.port,
        host: args.host,
        proto,
    }
}

async fn live(args: &CaptureArgs, filter: Filter) -> Result<()> {
    // Handlers first, so a Ctrl-C right after `capturing on` ends us cleanly.
    let mut shutdown = crate::signal::shutdown_signal("stopping the capture");
    let mut socket = PacketSocket::open(&SocketOptions {
        interface: args.interface.clone(),
        filter,
        snaplen: args.snaplen,
        buffer_size: args.buffer_size,
    })?;
    let link = socket.link();
    let mut sink = match &args.write {
        Some(path) => Some(create(path, link, args.snaplen)?),
        None => None,
    };
    // The filter is in place: what happens from now on is captured.
    println!("capturing on {}", args.interface);
    let mut printer = (args.write.is_none() || args.print).then(|| Printer::spawn(args.backlog));
    let mut dissector = Dissector::new(args.max_flows);
    let duration = args.duration;
    let deadline = async move {
        match duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut captured = 0u64;
    while args.count.is_none_or(|count| captured < count) {
        let frame = tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = &mut deadline => break,
            frame = socket.recv() => frame?,
        };
        captured += 1;
        if let Some(sink) = &mut sink {
            sink.write(frame.timestamp, frame.len, frame.data)?;
        }
        if let Some(printer) = &mut printer {
            let packet = capture::decode(link, frame.data, frame.timestamp, frame.len);
            printer.offer(dissector.line(&packet).to_string());
        }
    }
    if let Some(sink) = sink {
        sink.into_inner()
            .flush()
            .context("cannot write the capture file")?;
    }
    let skipped = printer.map_or(0, Printer::finish);
    let stats = socket.stats();
    println!("{captured} packets captured");
    println!("{} packets received by filter", stats.received);
    println!("{} packets dropped by kernel", stats.dropped);
    if skipped > 0 {
        println!("{skipped} lines not shown (stdout too slow)");
    }
    Ok(())
}

fn create(path: &Path, link: capture::LinkType, snaplen: u32) -> Result<PcapSink<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    // Large writes: at bench rates, tens of thousands of small records a second.
    Ok(PcapSink::new(
        BufWriter::with_capacity(FILE_BUFFER, file),
        link,
        snaplen,
    )?)
}

/// Prints a pcap file's packets that pass `filter`, at most `count`.
fn read(path: &Path, filter: &Filter, count: Option<u64>, max_flows: usize) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let source = PcapSource::new(file).with_context(|| path.display().to_string())?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut dissector = Dissector::new(max_flows);
    let mut shown = 0u64;
    for packet in source {
        if count.is_some_and(|count| shown >= count) {
            break;
        }
        let packet = packet.with_context(|| path.display().to_string())?;
        if filter.matches(&packet) {
            writeln!(out, "{}", dissector.line(&packet))?;
            shown += 1;
        }
    }
    out.flush()?;
    Ok(())
}

/// A thread that writes lines to stdout from a bounded queue.
struct Printer {
    queue: SyncSender<String>,
    thread: JoinHandle<()>,
    skipped: u64,
}

impl Printer {
    fn spawn(backlog: u64) -> Self {
        let (queue, lines) =
            mpsc::sync_channel::<String>(usize::try_from(backlog).unwrap_or(usize::MAX));
        let thread = std::thread::spawn(move || {
            let mut out = BufWriter::new(std::io::stdout().lock());
            while let Ok(line) = lines.recv() {
                if writeln!(out, "{line}").is_err() {
                    return;
                }
                // Flush whenever the queue runs dry, so lines show promptly.
                while let Ok(line) = lines.try_recv() {
                    if writeln!(out, "{line}").is_err() {
                        return;
                    }
                }
                if out.flush().is_err() {
                    return;
                }
            }
        });
        Self {
            queue,
            thread,
            skipped: 0,
        }
    }

    /// Queues a line, or counts it as skipped when the queue is full.
    fn offer(&mut self, line: String) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send(line) {
            self.skipped += 1;
        }
    }

    /// Waits for the queued lines to be written; returns how many were skipped.
    fn finish(self) -> u64 {
        drop(self.queue);
        let _ = self.thread.join();
        self.skipped
    }
}

/// Lines kept of one exchange in `tour --capture`; the rest are counted.
const EXCHANGE_LINES: usize = 1000;
/// An exchange's packets are all in once the port has been quiet this long
/// after the client returned: the last ACKs trail it by microseconds, the
/// stall demo's zero window by the sender's persist timer (about 200 ms).
const QUIET: std::time::Duration = std::time::Duration::from_millis(300);

/// A capture of one port in the background, for `socklab tour --capture`.
pub struct Background {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<Result<Vec<String>, capture::CaptureError>>,
}

impl Background {
    /// Starts capturing `port` on `lo`; the filter is in place on return.
    pub fn start(port: u16) -> Result<Self> {
        let mut socket = PacketSocket::open(&SocketOptions {
            interface: capture::DEFAULT_INTERFACE.into(),
            filter: Filter {
                port: Some(port),
                ..Filter::default()
            },
            snaplen: capture::DEFAULT_SNAPLEN,
            buffer_size: capture::DEFAULT_BUFFER_SIZE,
        })?;
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let link = socket.link();
            let mut dissector = Dissector::default();
            let mut lines = Vec::new();
            let mut more = 0u64;
            loop {
                let frame = if stopped.is_cancelled() {
                    match tokio::time::timeout(QUIET, socket.recv()).await {
                        Ok(frame) => frame?,
                        Err(_quiet) => break,
                    }
                } else {
                    tokio::select! {
                        () = stopped.cancelled() => continue,
                        frame = socket.recv() => frame?,
                    }
                };
                let packet = capture::decode(link, frame.data, frame.timestamp, frame.len);
                let line = dissector.line(&packet);
                if lines.len() < EXCHANGE_LINES {
                    lines.push(line.to_string());
                } else {
                    more += 1;
                }
            }
            if more > 0 {
                lines.push(format!("... and {more} more packets"));
            }
            Ok(lines)
        });
        Ok(Self { stop, task })
    }

    /// Waits for the port to go quiet and returns the lines captured.
    pub async fn finish(self) -> Result<Vec<String>> {
        self.stop.cancel();
        Ok(self.task.await.context("the capture task")??)
    }
}
