//! `socklab chat`: the room and the line client.

use clap::{Args, Subcommand};

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
