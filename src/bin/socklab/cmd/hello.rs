//! `socklab hello`: options in, the library called, its results shown.

use anyhow::Result;

use crate::cli::HelloClientArgs;
use socklab::hello::{self, Client};

/// Runs `hello client`: prints the welcome, greets each name, sends `exit`.
pub async fn client(args: &HelloClientArgs) -> Result<()> {
    let mut client = Client::connect(&args.target.endpoint(hello::DEFAULT_PORT)?).await?;
    println!("{}", client.welcome().await?.trim_end());
    for name in &args.names {
        println!("{}", client.greet(name).await?.trim_end());
    }
    client.exit().await?;
    Ok(())
}
