//! TLS for `http get`: a rustls client configuration (ring provider) that
//! trusts the webpki roots, or only the CAs of a `--cacert` PEM file, and
//! certificate errors worded for a user.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};

/// Why no TLS client configuration could be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file cannot be read.
    #[error("cannot read CA file {0}: {1}")]
    ReadCa(String, io::Error),
    /// The CA file is not PEM.
    #[error("bad PEM in {0}: {1}")]
    Pem(String, rustls::pki_types::pem::Error),
    /// A certificate in the CA file is not a usable CA.
    #[error("bad CA certificate in {0}: {1}")]
    BadCa(String, rustls::Error),
    /// The CA file holds no certificate.
    #[error("no certificates in CA file {0}")]
    NoCerts(String),
    /// rustls refused the protocol versions.
    #[error("setting up TLS: {0}")]
    Setup(rustls::Error),
}

/// A client configuration trusting `cacert`'s certificates if given (and then
/// only those, as curl's `--cacert` does), else the Mozilla roots.
pub fn client_config(cacert: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match cacert {
        Some(path) => {
            let file = || path.display().to_string();
            let pem = std::fs::read(path).map_err(|err| TlsError::ReadCa(file(), err))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|err| TlsError::Pem(file(), err))?;
                roots
                    .add(cert)
                    .map_err(|err| TlsError::BadCa(file(), err))?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCerts(file()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Words a failed handshake: certificate problems as
/// `certificate verify failed: ...`, anything else as a TLS failure.
pub fn handshake_error(err: &io::Error, host: &str) -> String {
    let rustls_err = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_err {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            let why = match cert {
                CertificateError::UnknownIssuer => {
                    "unknown issuer (no trusted CA signed it; trust one with --cacert FILE)"
                        .to_string()
                }
                CertificateError::NotValidForName => format!("not valid for {host}"),
                CertificateError::Expired => "expired".to_string(),
                other => other.to_string(),
            };
            format!("certificate verify failed for {host}: {why}")
        }
        Some(other) => format!("TLS handshake with {host} failed: {other}"),
        None => format!(
            "TLS handshake with {host} failed: {}",
            crate::net::describe(err)
        ),
    }
}
