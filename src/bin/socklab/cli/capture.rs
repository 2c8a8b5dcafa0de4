//! `socklab capture`: the texts' `tshark -i lo0 'tcp port 65432'`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::parse::parse_positive_duration;

/// Options of `capture`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("proto").args(["tcp", "udp", "icmp"]))]
pub struct CaptureArgs {
    /// Interface to capture on (live capture needs root or CAP_NET_RAW)
    #[arg(short, long, default_value = socklab::capture::DEFAULT_INTERFACE, value_name = "IFACE",
          conflicts_with = "read")]
    pub interface: String,
    /// Only TCP or UDP packets with this source or destination port
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Only packets from or to this IPv4 or IPv6 address
    #[arg(long, value_name = "ADDR")]
    pub host: Option<IpAddr>,
    /// Only TCP
    #[arg(long)]
    pub tcp: bool,
    /// Only UDP
    #[arg(long)]
    pub udp: bool,
    /// Only ICMP and ICMPv6
    #[arg(long)]
    pub icmp: bool,
    /// Stop after N packets [default: until Ctrl-C]
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long
    #[arg(long, value_parser = parse_positive_duration, value_name = "D", conflicts_with = "read")]
    pub duration: Option<Duration>,
    /// Write the packets to a pcap file (lines are then shown only with --print)
    #[arg(short, long, value_name = "FILE", conflicts_with = "read")]
    pub write: Option<PathBuf>,
    /// Show the lines even when writing a file, as tcpdump's --print
    #[arg(long, requires = "write")]
    pub print: bool,
    /// Read packets from a pcap file instead of an interface
    #[arg(short, long, value_name = "FILE")]
    pub read: Option<PathBuf>,
    /// Bytes kept of each packet
    #[arg(long, default_value_t = socklab::capture::DEFAULT_SNAPLEN, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,
    /// Receive ring shared with the kernel, in 1 MiB blocks (at least 2): what absorbs a burst before the kernel drops
    #[arg(long, default_value_t = socklab::capture::DEFAULT_BUFFER_SIZE, value_name = "BYTES")]
    pub buffer_size: usize,
    /// Lines waiting for a slow stdout; past this they are skipped and counted
    #[arg(long, default_value_t = 4096, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub backlog: u64,
    /// TCP flows tracked for relative numbers and analysis; past this the oldest is forgotten
    #[arg(long, default_value_t = socklab::capture::DEFAULT_MAX_FLOWS, value_name = "N")]
    pub max_flows: usize,
}
