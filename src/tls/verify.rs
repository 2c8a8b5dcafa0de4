//! Server certificate verifiers beyond rustls' WebPKI one: a public-key pin
//! (alone, or on top of chain and name verification), and `--insecure`.
//! Both still check the handshake signature, so the peer must hold the key
//! of the certificate it shows.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::error::PinMismatch;
use super::pin::Pin;

/// What a server's certificate must satisfy beyond the handshake signature.
#[derive(Debug)]
enum Rule {
    /// Its key has this pin; with a WebPKI verifier, that must pass too.
    Pinned(Pin, Option<Arc<WebPkiServerVerifier>>),
    /// Nothing (`--insecure`).
    Anything,
}

/// A verifier for `--pin` or `--insecure`.
#[derive(Debug)]
pub(crate) struct Verifier {
    rule: Rule,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Verifier {
    /// Trusts the key pinned by `pin`, after `chain` verification if given.
    pub(crate) fn pinned(
        pin: Pin,
        chain: Option<Arc<WebPkiServerVerifier>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Verifier {
        Verifier {
            rule: Rule::Pinned(pin, chain),
            algorithms,
        }
    }

    /// Trusts any certificate.
    pub(crate) fn insecure(algorithms: WebPkiSupportedAlgorithms) -> Verifier {
        Verifier {
            rule: Rule::Anything,
            algorithms,
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Rule::Pinned(expected, chain) = &self.rule else {
            return Ok(ServerCertVerified::assertion());
        };
        if let Some(chain) = chain {
            chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        let got = Pin::of_cert(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if got != *expected {
            let mismatch = PinMismatch {
                expected: *expected,
                got,
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(mismatch)),
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
