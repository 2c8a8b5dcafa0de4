//! `socklab fixed`: options in, the library called, its results shown.

use anyhow::{Context, Result};

use crate::cli::Target;
use socklab::fixed;
use socklab::net::escape_bytes;

/// Runs `fixed client`: the socket name as soon as it is known, then the reply.
pub async fn client(target: &Target) -> Result<()> {
    let io = target.endpoint(fixed::DEFAULT_PORT)?.connect().await?;
    let local = io
        .get_ref()
        .get_ref()
        .local_addr()
        .context("reading the socket name")?;
    println!("Client has been assigned socket name {local}");
    let reply = fixed::exchange(io).await?;
    println!("The server said {}", escape_bytes(&reply, usize::MAX));
    Ok(())
}
