//! The command line: one subcommand per protocol, roles under each.

use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::net::{DEFAULT_CONNECT_TIMEOUT, ServerConfig};

/// Every client and server of the classic socket-programming texts.
#[derive(Debug, Parser)]
#[command(name = "socklab", version, propagate_version = true)]
#[command(after_help = "Example: socklab echo server & socklab echo client")]
pub struct Cli {
    /// Show more log output (-v debug, -vv everything)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Show less log output (-q warnings only, -qq errors only)
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log every read and write with its byte count and an escaped preview
    #[arg(long, global = true)]
    pub trace: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Echo every byte back (echo-server.py, multiconn-server.py); port 65432
    #[command(subcommand)]
    Echo(EchoCmd),
    /// The 16-octet exchange (tcp_sixteen.py); port 1060
    #[command(subcommand)]
    Fixed(FixedCmd),
    /// The uppercasing stream (tcp_deadlock.py); port 1061
    #[command(subcommand)]
    Upper(UpperCmd),
    /// The "Welcome!" / "Hello, NAME!" server; port 9999
    #[command(subcommand)]
    Hello(HelloCmd),
    /// The group chat room (ChatServer / ChatClient); port 9998
    #[command(subcommand)]
    Chat(ChatCmd),
    /// Run every pair on loopback and show the exchanges
    #[command(after_help = "Example: socklab tour")]
    Tour,
}

/// Roles of the echo protocol.
#[derive(Debug, Subcommand)]
pub enum EchoCmd {
    /// Echo every byte back until the peer closes
    #[command(after_help = "Example: socklab echo server 127.0.0.1 65432")]
    Server(ServerArgs),
    /// Send a message (or N connections' messages) and check the echo
    #[command(after_help = "Example: socklab echo client 127.0.0.1 65432 --conns 2")]
    Client(EchoClientArgs),
}

/// Roles of the 16-octet protocol.
#[derive(Debug, Subcommand)]
pub enum FixedCmd {
    /// Read exactly 16 bytes, answer `Farewell, client`, close
    #[command(after_help = "Example: socklab fixed server '' 1060")]
    Server(ServerArgs),
    /// Send `Hi there, server` and read exactly 16 bytes back
    #[command(after_help = "Example: socklab fixed client 127.0.0.1 1060")]
    Client(Target),
}

/// Roles of the uppercasing protocol.
#[derive(Debug, Subcommand)]
pub enum UpperCmd {
    /// Send back everything received with ASCII letters uppercased
    #[command(after_help = "Example: socklab upper server 127.0.0.1 1061")]
    Server(ServerArgs),
    /// Stream BYTES of `capitalize this!` and verify what comes back
    #[command(after_help = "Example: socklab upper client 127.0.0.1 1061 1073741824")]
    Client(UpperClientArgs),
}

/// Roles of the hello protocol.
#[derive(Debug, Subcommand)]
pub enum HelloCmd {
    /// Greet with `Welcome!`, answer each name with `Hello, NAME!`, stop at `exit`
    #[command(after_help = "Example: socklab hello server 127.0.0.1 9999")]
    Server(ServerArgs),
    /// Send each name, print each answer, then `exit`
    #[command(after_help = "Example: socklab hello client 127.0.0.1 9999 Michael Tracy Sarah")]
    Client(HelloClientArgs),
}

/// Roles of the chat protocol.
#[derive(Debug, Subcommand)]
pub enum ChatCmd {
    /// Relay every line to everyone, with /nick, /who and quit
    #[command(after_help = "Example: socklab chat server 127.0.0.1 9998 --max-queue 1048576")]
    Server(ChatServerArgs),
    /// Send stdin lines to the room while printing what the room says
    #[command(after_help = "Example: socklab chat client 127.0.0.1 9998 --nick alice")]
    Client(ChatClientArgs),
}

/// Options of `chat server`.
#[derive(Debug, Clone, Args)]
pub struct ChatServerArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Longest line accepted, in bytes; longer ones are refused with a notice
    #[arg(long, default_value_t = crate::chat::DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// Bytes of pending lines a client may fall behind by before it is disconnected
    #[arg(long, default_value_t = crate::chat::DEFAULT_MAX_QUEUE, value_name = "BYTES")]
    pub max_queue: usize,
    /// Kernel send buffer (SO_SNDBUF) per client, in bytes
    #[arg(long, default_value_t = crate::chat::DEFAULT_SEND_BUFFER, value_name = "BYTES")]
    pub send_buffer: usize,
}

/// Options of `chat client`.
#[derive(Debug, Clone, Args)]
pub struct ChatClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Take this nickname on joining (sends `/nick NAME`)
    #[arg(long, value_name = "NAME")]
    pub nick: Option<String>,
}

/// Where a server listens and the limits every server has.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Interface to listen on: '' or 0.0.0.0 for all IPv4 ones, :: for all IPv6 ones
    #[arg(default_value = "127.0.0.1")]
    pub host: String,
    /// Port; 0 picks a free one [default: the protocol's own]
    pub port: Option<u16>,
    /// Connections served at once; further ones are accepted and closed
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_conns: usize,
    /// Drop a connection after this long without progress (30s, 500ms; 0 = never) [default: the protocol's own]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// After Ctrl-C or SIGTERM, how long connections in flight may take to finish
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub grace: Duration,
}

impl ServerArgs {
    /// The server limits, with the protocol's idle timeout unless one was given.
    pub fn config(&self, default_idle: Duration) -> ServerConfig {
        let idle = self.idle_timeout.unwrap_or(default_idle);
        ServerConfig {
            max_conns: self.max_conns.max(1),
            idle_timeout: (!idle.is_zero()).then_some(idle),
            grace: self.grace,
        }
    }
}

/// The server a client talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Server host name or address
    #[arg(default_value = "127.0.0.1")]
    pub host: String,
    /// Server port [default: the protocol's own]
    pub port: Option<u16>,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
}

impl Target {
    /// A target on `host:port` with the default connect timeout.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port: Some(port),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Options of `echo client`.
#[derive(Debug, Clone, Args)]
pub struct EchoClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Text to send [default: `Hello, world`; with --conns the texts' two messages]
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// Open N connections at once, as multiconn-client.py does
    #[arg(long, value_name = "N")]
    pub conns: Option<usize>,
}

/// Options of `upper client`.
#[derive(Debug, Clone, Args)]
pub struct UpperClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Bytes to send, rounded up to a multiple of 16
    #[arg(default_value_t = 16)]
    pub bytes: u64,
    /// Send everything before reading anything, as the texts' naive client does
    #[arg(long)]
    pub lockstep: bool,
    /// Report a stall (a deadlock with --lockstep) when nothing moves for this long
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
    pub stall_timeout: Duration,
}

/// Options of `hello client`.
#[derive(Debug, Clone, Args)]
pub struct HelloClientArgs {
    #[command(flatten)]
    pub target: Target,
    /// Names to greet
    #[arg(default_values_t = ["Michael".to_string(), "Tracy".to_string(), "Sarah".to_string()])]
    pub names: Vec<String>,
}

/// Parses `1.5`, `1.5s`, `250ms`, `2m` or `1h` into a duration; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (try 10s, 250ms, 1.5)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale)
        .map_err(|err| format!("invalid duration {text:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn global_flags_stand_anywhere() {
        let cli = Cli::try_parse_from(["socklab", "echo", "client", "-v", "--trace", "::1", "7"])
            .expect("parses");
        assert_eq!(cli.verbose, 1);
        assert!(cli.trace);
        let Command::Echo(EchoCmd::Client(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.target.host, "::1");
        assert_eq!(args.target.port, Some(7));
    }
}
