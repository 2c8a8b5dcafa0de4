//! `ServerTls`: the server side of a TLS connection, built once from a
//! certificate (files, or the development store) and shared by every
//! accepted connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::error::{Side, TlsError};
use super::files;
use super::info::CertInfo;
use super::pin::Pin;
use super::store::DevStore;
use super::{DEFAULT_HANDSHAKE_TIMEOUT, provider};

/// A fatal handshake_failure alert in a TLS 1.2 record, as sent before any
/// key is agreed: what a client that stalled its handshake is told.
const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

/// A TLS server configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    certificate: Arc<CertInfo>,
    handshake_timeout: Duration,
}

impl ServerTls {
    /// Serves the chain in `cert` with the key in `key` (PEM files); with
    /// `client_ca`, clients must show a certificate that one of its CAs signed.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, TlsError> {
        let chain = files::read_certs(cert)?;
        let key = files::read_key(key)?;
        ServerTls::new(chain, key, client_ca)
    }

    /// Serves the development leaf of `store`, for its default names plus
    /// `extra_sans` (the bound address), made or renewed as needed.
    pub fn development(
        store: &DevStore,
        extra_sans: &[String],
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, TlsError> {
        let leaf = store.leaf(extra_sans)?;
        ServerTls::new(leaf.chain, leaf.key, client_ca)
    }

    /// Serves `chain` (leaf first) with `key`.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, TlsError> {
        let leaf = chain
            .first()
            .ok_or_else(|| TlsError::Config(rustls::Error::NoCertificatesPresented))?;
        let certificate = Arc::new(CertInfo::parse(leaf)?);
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = match client_ca {
            Some(path) => {
                let roots = Arc::new(files::read_roots(path)?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(TlsError::Verifier)?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(TlsError::Config)?;
        // Stateless resumption (as nginx's default session tickets): a
        // returning client skips the signature, and the server keeps no
        // per-session state (rustls' default is a 256-entry locked cache).
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(TlsError::Config)?;
        Ok(ServerTls {
            config: Arc::new(config),
            certificate,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// Offers these ALPN protocols (`b"http/1.1"` for the HTTP server); a
    /// client asking only for others is refused.
    pub fn with_alpn(mut self, protocols: Vec<Vec<u8>>) -> ServerTls {
        let mut config = (*self.config).clone();
        config.alpn_protocols = protocols;
        self.config = Arc::new(config);
        self
    }

    /// Drops a peer that has not finished its handshake after `timeout`.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> ServerTls {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a peer may take over its handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The pin of the certificate served.
    pub fn pin(&self) -> &Pin {
        &self.certificate.pin
    }

    /// What the certificate served says (its `Display` is one log line).
    pub fn certificate(&self) -> &CertInfo {
        &self.certificate
    }

    /// Shakes hands with the client on `io`, within the handshake timeout.
    pub async fn accept<S>(&self, io: S) -> Result<TlsStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_until(io, Instant::now() + self.handshake_timeout)
            .await
    }

    /// Shakes hands with the client on `io` unless `deadline` passes first
    /// (a caller that already waited for the client's first byte).
    pub async fn accept_until<S>(&self, io: S, deadline: Instant) -> Result<TlsStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.config.clone());
        let mut accept = acceptor.accept(io);
        match tokio::time::timeout_at(deadline, &mut accept).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(TlsError::from_handshake(err, Side::Server, "")),
            Err(_) => {
                if let Some(io) = accept.get_mut() {
                    tell_stalled(io);
                }
                Err(TlsError::ClientStalled(self.handshake_timeout))
            }
        }
    }
}

/// Tells a client that did not finish its handshake in time why it is
/// dropped. A plain-text client of a protocol where the server speaks first
/// (hello, fixed) sends nothing and waits: a bare close would leave it
/// guessing, an alert lets it name a TLS server. One poll only: nothing was
/// sent before, so the socket is ready.
pub(crate) fn tell_stalled<S: AsyncWrite + Unpin>(io: &mut S) {
    let _ = io.write_all(&HANDSHAKE_FAILURE_ALERT).now_or_never();
}
