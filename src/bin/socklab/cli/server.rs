//! Where a server listens, and the server a client talks to.

use std::time::Duration;

use clap::Args;

use socklab::net::{AccessList, Cidr, DEFAULT_CONNECT_TIMEOUT, Endpoint, ServerOptions};

use super::parse::{HostArg, parse_duration};
use super::{TlsClientArgs, TlsServerArgs};

/// Where a server listens and the limits every server has.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Interface to listen on: '' or 0.0.0.0 for all IPv4 ones, :: for all IPv6 ones
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
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
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub tls: TlsServerArgs,
}

impl ServerArgs {
    /// The server limits, with the protocol's idle timeout unless one was given.
    pub fn config(&self, default_idle: Duration) -> ServerOptions {
        ServerOptions {
            max_conns: self.max_conns.max(1),
            grace: self.grace,
            access: self.access.list(),
            ..ServerOptions::with_idle(self.idle_timeout.unwrap_or(default_idle))
        }
    }
}

/// The peers a server serves (ncat's `--allow` and `--deny`), TCP or UDP.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Serve only peers in this network (repeatable; 127.0.0.0/8, ::1, 10.1.2.3) [default: everyone]
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<Cidr>,
    /// Refuse peers in this network, even ones --allow lets in (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<Cidr>,
}

impl AccessArgs {
    /// The access list the flags describe.
    pub fn list(&self) -> AccessList {
        AccessList {
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        }
    }
}

/// The server a client talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Server host name or address
    #[arg(default_value = "127.0.0.1", value_parser = HostArg::Host)]
    pub host: String,
    /// Server port [default: the protocol's own]
    pub port: Option<u16>,
    /// Give up connecting after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

impl Target {
    /// Where the client connects: the protocol's own port unless one was given.
    pub fn endpoint(&self, default_port: u16) -> anyhow::Result<Endpoint> {
        Ok(Endpoint {
            connect_timeout: self.connect_timeout,
            tls: self.tls.client_tls()?,
            ..Endpoint::new(&self.host, self.port.unwrap_or(default_port))
        })
    }

    /// A target on `host:port` with the default connect timeout.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port: Some(port),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: TlsClientArgs::default(),
        }
    }
}
