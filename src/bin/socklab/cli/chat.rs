//! `socklab chat`: the room and the line client.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse::parse_duration;
use super::server::{ServerArgs, Target};

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
    #[arg(long, default_value_t = socklab::chat::DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// Bytes of pending lines a client may fall behind by before it is disconnected
    #[arg(long, default_value_t = socklab::chat::DEFAULT_MAX_QUEUE, value_name = "BYTES")]
    pub max_queue: usize,
    /// Kernel send buffer (SO_SNDBUF) per client, in bytes
    #[arg(long, default_value_t = socklab::chat::DEFAULT_SEND_BUFFER, value_name = "BYTES")]
    pub send_buffer: usize,
    #[command(flatten)]
    pub redis: RedisArgs,
}

/// Sharing one room among several chat servers through Redis.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "One room across several servers (Redis)")]
pub struct RedisArgs {
    /// Share the room with every server on this Redis: redis://HOST:PORT[/DB]
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// The room's name: servers with the same Redis and room share it
    #[arg(long, default_value = socklab::chat::shared::DEFAULT_ROOM, value_name = "NAME", requires = "redis")]
    pub room: String,
    /// This server's name among the room's servers [default: node-RANDOM]
    #[arg(long, value_name = "ID", requires = "redis")]
    pub node_id: Option<String>,
    /// How long a silent server's members stay listed before they are announced as left
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION", requires = "redis")]
    pub presence_ttl: Duration,
    /// Lines Redis keeps for the room (how far behind a server may fall and still resume)
    #[arg(long, default_value_t = socklab::chat::shared::DEFAULT_HISTORY, value_name = "LINES", requires = "redis")]
    pub history: usize,
    /// Bytes of lines on their way to Redis before senders wait
    #[arg(long, default_value_t = socklab::chat::shared::DEFAULT_MAX_PENDING, value_name = "BYTES", requires = "redis")]
    pub max_pending: usize,
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
