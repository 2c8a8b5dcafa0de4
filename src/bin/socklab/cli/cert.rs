//! `socklab cert`: the development certificate's command line.

use clap::{Args, Subcommand};

/// What to do with the development certificate.
#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Show the development certificate (made if missing): subject, names, validity, pin
    #[command(after_help = "Example: socklab cert show --san myhost.local")]
    Show(CertArgs),
    /// Make a new development certificate with a new key, hence a new pin
    #[command(after_help = "Example: socklab cert new")]
    New(CertArgs),
    /// Print the path of the development CA's certificate (made if missing)
    #[command(after_help = "Example: curl --cacert \"$(socklab cert ca)\" https://localhost:8001/")]
    Ca(CaArgs),
}

/// Options of `cert show` and `cert new`.
#[derive(Debug, Clone, Args)]
pub struct CertArgs {
    /// A DNS name or address the certificate must also be valid for (repeatable)
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
}

/// Options of `cert ca`.
#[derive(Debug, Clone, Args)]
pub struct CaArgs {
    /// Print the CA certificate itself (PEM) instead of its path
    #[arg(long)]
    pub pem: bool,
}
