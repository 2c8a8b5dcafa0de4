//! `socklab udp`: the lucky-number server, the retransmitting client, mtu.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::{HostArg, parse_duration, parse_positive_duration, parse_probability};
use super::server::AccessArgs;

/// Roles of the UDP lucky-number protocol.
#[derive(Debug, Subcommand)]
pub enum UdpCmd {
    /// Answer each datagram with `Here's your lucky number: X`, optionally dropping some
    #[command(after_help = "Example: socklab udp server 127.0.0.1 60000 --drop 0.7 --seed 1")]
    Server(UdpServerArgs),
    /// Ask for a lucky number, retransmitting with exponential backoff (or --broadcast)
    #[command(
        after_help = "Examples: socklab udp client 127.0.0.1 60000 --start 0.1s --max-wait 5s\n          \
                      socklab udp client --broadcast 192.168.1.255 60000 --wait 2s"
    )]
    Client(UdpClientArgs),
    /// Print the path MTU to HOST and show a datagram larger than it being refused
    #[command(after_help = "Example: socklab udp mtu 127.0.0.1")]
    Mtu(UdpMtuArgs),
}

/// Options of `udp server`.
#[derive(Debug, Clone, Args)]
pub struct UdpServerArgs {
    /// Interface to listen on: '' or 0.0.0.0 for all IPv4 ones, :: for all IPv6 ones
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Port; 0 picks a free one [default: 60000]
    pub port: Option<u16>,
    /// Pretend to lose each request with this probability (0 to 1)
    #[arg(long = "drop", value_parser = parse_probability, default_value_t = 0.0, value_name = "P")]
    pub drop_rate: f64,
    /// Seed the random numbers (drops and lucky numbers) so a run can be repeated
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Options of `udp client`.
#[derive(Debug, Clone, Args)]
pub struct UdpClientArgs {
    /// Server host name or address (with --broadcast: the broadcast address)
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Server port [default: 60000]
    pub port: Option<u16>,
    /// Text to send
    #[arg(long, default_value = socklab::udp::DEFAULT_MESSAGE, value_name = "TEXT")]
    pub message: String,
    /// First wait for a reply; each retransmission doubles it
    #[arg(long, value_parser = parse_positive_duration, default_value = "0.1s", value_name = "DURATION")]
    pub start: Duration,
    /// Give up when the next wait would be longer than this
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub max_wait: Duration,
    /// Send once to a broadcast address (SO_BROADCAST) and print every reply
    #[arg(long, conflicts_with_all = ["start", "max_wait"])]
    pub broadcast: bool,
    /// With --broadcast: how long to collect replies
    #[arg(long, requires = "broadcast", value_parser = parse_duration, default_value = "2s", value_name = "DURATION")]
    pub wait: Duration,
}

/// Options of `udp mtu`.
#[derive(Debug, Clone, Args)]
pub struct UdpMtuArgs {
    /// Destination host name or address
    #[arg(value_parser = HostArg::Host)]
    pub host: String,
    /// Destination port (nothing is delivered there) [default: 60000]
    pub port: Option<u16>,
}
