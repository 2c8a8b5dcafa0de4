//! TLS for `http get`: a rustls client configuration (ring provider) that
//! trusts the webpki roots, or only the CAs of a `--cacert` PEM file, and
//! certificate errors worded for a user.

use std::io;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};

/// A client configuration trusting `cacert`'s certificates if given (and then
/// only those, as curl's `--cacert` does), else the Mozilla roots.
pub fn client_config(cacert: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    match cacert {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("bad CA certificate in {}", path.display()))?;
            }
            if roots.is_empty() {
                bail!("no certificates in CA file {}", path.display());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
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
