//! Reading PEM certificate chains, private keys and CA bundles, with errors
//! that name the file.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::error::TlsError;

/// The file's bytes, or an error naming it.
fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|cause| TlsError::Read {
        path: path.to_path_buf(),
        cause,
    })
}

/// Every certificate in a PEM file (a chain, leaf first, or a CA bundle).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|cause| TlsError::Pem {
            path: path.to_path_buf(),
            cause,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|cause| match cause {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(path.to_path_buf()),
        cause => TlsError::Pem {
            path: path.to_path_buf(),
            cause,
        },
    })
}

/// The CA certificates of a PEM bundle, as trust anchors.
pub fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots.add(cert).map_err(|cause| TlsError::BadCa {
            path: path.to_path_buf(),
            cause,
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = read_certs(&missing).expect_err("missing file");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just text\n").expect("write");
        let err = read_certs(&empty).expect_err("no certificate");
        assert_eq!(
            err.to_string(),
            format!("no certificate in {}", empty.display())
        );
        let err = read_key(&empty).expect_err("no key");
        assert_eq!(
            err.to_string(),
            format!("no private key in {}", empty.display())
        );
    }
}
