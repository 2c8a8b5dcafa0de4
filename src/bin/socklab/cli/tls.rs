//! TLS on the command line: a server's certificate and client CA, a
//! client's trust (CA file, pin, or none at all) and certificate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use super::parse::parse_duration;
use socklab::tls::{ClientOptions, ClientTls, DevStore, Pin, ServerTls};

/// A server's TLS: `--tls`, with the development certificate unless
/// `--cert/--key` name one.
#[derive(Debug, Clone, Args)]
pub struct TlsServerArgs {
    /// Serve TLS (with the development certificate unless --cert/--key name one)
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain to serve (PEM, leaf first)
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
    /// Require a client certificate signed by a CA in FILE (PEM): mutual TLS
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub client_ca: Option<PathBuf>,
    /// Drop a peer that has not finished its TLS handshake after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION", requires = "tls")]
    pub handshake_timeout: Duration,
}

impl TlsServerArgs {
    /// The server's TLS for a listener bound to `bound` (a development
    /// certificate also names that address), or `None` without `--tls`.
    pub fn server_tls(&self, bound: SocketAddr) -> Result<Option<ServerTls>> {
        if !self.tls {
            return Ok(None);
        }
        let client_ca = self.client_ca.as_deref();
        let server = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => ServerTls::from_files(cert, key, client_ca)?,
            _ => {
                let ip = bound.ip();
                let extra: Vec<String> = (!ip.is_unspecified())
                    .then(|| ip.to_string())
                    .into_iter()
                    .collect();
                ServerTls::development(&DevStore::locate()?, &extra, client_ca)?
            }
        };
        Ok(Some(server.with_handshake_timeout(self.handshake_timeout)))
    }
}

/// A client's TLS: `--tls`, verifying the server unless told otherwise.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsClientArgs {
    /// Speak TLS; the server's certificate is verified (system roots and the development CA)
    #[arg(long)]
    pub tls: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
}

impl TlsClientArgs {
    /// The client's TLS, or `None` without `--tls`.
    pub fn client_tls(&self) -> Result<Option<ClientTls>> {
        if !self.tls {
            if self.trust.any() {
                bail!("--cacert, --pin, --insecure, --cert and --key need --tls");
            }
            return Ok(None);
        }
        Ok(Some(ClientTls::new(&self.trust.options())?))
    }
}

/// The proxy's TLS towards its upstream: `--upstream-tls`, verifying the
/// upstream unless told otherwise (`--tls` is the side facing clients).
#[derive(Debug, Clone, Default, Args)]
pub struct UpstreamTlsArgs {
    /// Speak TLS to UPSTREAM; its certificate is verified (system roots and the development CA)
    #[arg(long)]
    pub upstream_tls: bool,
    /// Trust only the CAs in FILE (PEM) for UPSTREAM
    #[arg(long, value_name = "FILE", requires = "upstream_tls")]
    pub upstream_cacert: Option<PathBuf>,
    /// Trust exactly the UPSTREAM key with this pin
    #[arg(long, value_name = "sha256//BASE64", value_parser = clap::value_parser!(Pin), requires = "upstream_tls")]
    pub upstream_pin: Option<Pin>,
    /// Do not verify UPSTREAM at all (warned on every connection)
    #[arg(long, conflicts_with_all = ["upstream_cacert", "upstream_pin"], requires = "upstream_tls")]
    pub upstream_insecure: bool,
}

impl UpstreamTlsArgs {
    /// The TLS to speak to the upstream, or `None` without `--upstream-tls`.
    pub fn client_tls(&self) -> Result<Option<ClientTls>> {
        if !self.upstream_tls {
            return Ok(None);
        }
        let trust = TrustArgs {
            cacert: self.upstream_cacert.clone(),
            pin: self.upstream_pin,
            insecure: self.upstream_insecure,
            ..TrustArgs::default()
        };
        Ok(Some(ClientTls::new(&trust.options())?))
    }
}

/// How a TLS client trusts servers and shows itself (`--tls` clients, and
/// `http get` for https URLs).
#[derive(Debug, Clone, Default, Args)]
pub struct TrustArgs {
    /// Trust only the CAs in FILE (PEM), as curl's --cacert
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Trust exactly the server key with this pin (curl's --pinnedpubkey form)
    #[arg(long, value_name = "sha256//BASE64", value_parser = clap::value_parser!(Pin))]
    pub pin: Option<Pin>,
    /// Do not verify the server at all (warned on every connection)
    #[arg(long, conflicts_with_all = ["cacert", "pin"])]
    pub insecure: bool,
    /// Client certificate chain for a server that requires one (PEM)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl TrustArgs {
    /// The client options these flags ask for.
    pub fn options(&self) -> ClientOptions {
        // Our own servers' development CA is trusted once it exists, so
        // `--tls` alone verifies them; a --cacert replaces every root.
        let dev_ca = DevStore::locate().map(|store| store.ca_path());
        ClientOptions {
            cacert: self.cacert.clone(),
            also_trust: dev_ca.into_iter().filter(|ca| ca.exists()).collect(),
            pin: self.pin,
            insecure: self.insecure,
            cert: self.cert.clone(),
            key: self.key.clone(),
            ..ClientOptions::default()
        }
    }

    fn any(&self) -> bool {
        self.cacert.is_some() || self.pin.is_some() || self.insecure || self.cert.is_some()
    }
}

/// The line under `listening on` that tells clients what to pin.
pub fn pin_line(server: &ServerTls) -> String {
    format!("certificate {} (pin with --pin)", server.pin())
}
