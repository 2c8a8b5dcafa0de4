//! `socklab fixed`: options in, the library called, its results shown.

use anyhow::{Context, Result};

use crate::cli::Target;
use socklab::fixed;
use socklab::net::{self, escape_bytes};

/// Runs `fixed client`: the socket name as soon as it is known, then the reply.
pub async fn client(target: &Target) -> Result<()> {
    let port = target.port.unwrap_or(fixed::DEFAULT_PORT);
    let io = net::connect(&target.host, port, target.connect_timeout).await?;
    let local = io
        .get_ref()
        .local_addr()
        .context("reading the socket name")?;
    println!("Client has been assigned socket name {local}");
    let reply = fixed::exchange(io).await?;
    println!("The server said {}", escape_bytes(&reply, usize::MAX));
    Ok(())
}
