//! `ClientTls`: the client side of a TLS connection, verifying the server
//! as curl does.
//!
//! | options            | the server is trusted when                         |
//! |--------------------|----------------------------------------------------|
//! | (none)             | a Mozilla root (webpki-roots) signed it, name fits |
//! | `cacert`           | a CA of that file signed it (only those), name fits|
//! | `pin`              | its key has that pin (chain and name not checked)  |
//! | `pin` + `cacert`   | both of the above                                  |
//! | `insecure`         | always (the caller warns on every connection)      |
//! | `insecure` + `pin` | its key has that pin (curl's `-k --pinnedpubkey`)  |
//!
//! `--pin` alone is what a development server's `certificate sha256//...`
//! line is for: the pin names the exact key, so nothing else is needed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::{Side, TlsError};
use super::files;
use super::pin::Pin;
use super::verify::Verifier;
use super::{DEFAULT_HANDSHAKE_TIMEOUT, provider};

/// How a client verifies servers and shows itself.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Trust only the CAs in this PEM file.
    pub cacert: Option<PathBuf>,
    /// Without `cacert`, CA files trusted besides the system roots (the
    /// development CA, so that our own servers verify the first time).
    pub also_trust: Vec<PathBuf>,
    /// Trust the server whose key has this pin.
    pub pin: Option<Pin>,
    /// Skip verification.
    pub insecure: bool,
    /// A client certificate chain (PEM) for servers that require one.
    pub cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub key: Option<PathBuf>,
    /// ALPN protocols to offer, most preferred first.
    pub alpn: Vec<Vec<u8>>,
    /// Give up on a handshake after this long.
    pub handshake_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            cacert: None,
            also_trust: Vec::new(),
            pin: None,
            insecure: false,
            cert: None,
            key: None,
            alpn: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// A TLS client configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    insecure: bool,
    handshake_timeout: Duration,
}

impl ClientTls {
    /// Builds the configuration `options` describe (reading its files).
    pub fn new(options: &ClientOptions) -> Result<ClientTls, TlsError> {
        let provider = provider();
        let algorithms = provider.signature_verification_algorithms;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let roots = |path: &Option<PathBuf>| -> Result<Arc<RootCertStore>, TlsError> {
            Ok(Arc::new(match path {
                Some(path) => files::read_roots(path)?,
                None => {
                    let mut roots =
                        RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                    for path in &options.also_trust {
                        roots.roots.extend(files::read_roots(path)?.roots);
                    }
                    roots
                }
            }))
        };
        let builder = match (options.pin, options.insecure) {
            (Some(pin), insecure) => {
                // The chain is checked too only when the user named a CA.
                let chain = match (&options.cacert, insecure) {
                    (Some(_), false) => Some(
                        WebPkiServerVerifier::builder_with_provider(
                            roots(&options.cacert)?,
                            provider.clone(),
                        )
                        .build()
                        .map_err(TlsError::Verifier)?,
                    ),
                    _ => None,
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Verifier::pinned(
                        pin, chain, algorithms,
                    )))
            }
            (None, true) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Verifier::insecure(algorithms))),
            (None, false) => builder.with_root_certificates(roots(&options.cacert)?),
        };
        let mut config = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(files::read_certs(cert)?, files::read_key(key)?)
                .map_err(TlsError::Config)?,
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(TlsError::CertWithoutKey),
        };
        config.alpn_protocols = options.alpn.clone();
        Ok(ClientTls {
            config: Arc::new(config),
            insecure: options.insecure && options.pin.is_none(),
            handshake_timeout: options.handshake_timeout,
        })
    }

    /// Whether servers go unverified (the caller warns on every connection).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Shakes hands with the server on `io`, which was reached as `host` (a
    /// name, sent as SNI and checked against the certificate's DNS names, or
    /// an address, checked against its IP addresses).
    pub async fn connect<S>(&self, io: S, host: &str) -> Result<TlsStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_string())
            .map_err(|_| TlsError::ServerName(host.to_string()))?;
        let connector = TlsConnector::from(self.config.clone());
        match tokio::time::timeout(self.handshake_timeout, connector.connect(name, io)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(TlsError::from_handshake(err, Side::Client, bare)),
            Err(_) => Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
        }
    }
}
