//! `bench app`: search requests of the framed app protocol (SPEC §7).

use anyhow::{Result, bail};

use super::report::Report;
use crate::cli::BenchAppArgs;

/// Runs `bench app`.
pub async fn run(_args: &BenchAppArgs) -> Result<Report> {
    bail!("bench app needs the app codec, which is not built yet")
}
