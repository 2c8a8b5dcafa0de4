//! Public-key pins in curl's `--pinnedpubkey` form: `sha256//` followed by
//! the base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo (DER).
//!
//! ```text
//! sha256//NsFzzhPr5mCZuWTOpiatnxxP9ReB4sR91QWYNCbbHCM=
//! ```
//! The same value as
//! `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{SHA256, SHA256_OUTPUT_LEN, digest};
use rustls::pki_types::CertificateDer;

/// The prefix that names the hash, as curl writes it.
const PREFIX: &str = "sha256//";

/// The SHA-256 of a certificate's public key (SubjectPublicKeyInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pin([u8; SHA256_OUTPUT_LEN]);

/// Why a string or a certificate gives no pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Not `sha256//BASE64` with 32 bytes of hash.
    #[error(
        "invalid pin {0:?}: expected sha256//BASE64 (the SHA-256 of the public key, as `socklab cert show` prints)"
    )]
    Syntax(String),
    /// The certificate is not X.509 DER.
    #[error("cannot read the certificate's public key: {0}")]
    BadCertificate(String),
}

impl Pin {
    /// The pin of a DER-encoded SubjectPublicKeyInfo.
    pub fn of_spki(spki: &[u8]) -> Pin {
        let hash = digest(&SHA256, spki);
        let mut bytes = [0; SHA256_OUTPUT_LEN];
        bytes.copy_from_slice(hash.as_ref());
        Pin(bytes)
    }

    /// The pin of a certificate's public key.
    pub fn of_cert(cert: &CertificateDer<'_>) -> Result<Pin, PinError> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|err| PinError::BadCertificate(err.to_string()))?;
        Ok(Pin::of_spki(parsed.public_key().raw))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", STANDARD.encode(self.0))
    }
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(text: &str) -> Result<Pin, PinError> {
        let syntax = || PinError::Syntax(text.to_string());
        let encoded = text.trim().strip_prefix(PREFIX).ok_or_else(syntax)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| syntax())?;
        let hash = bytes.try_into().map_err(|_| syntax())?;
        Ok(Pin(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let pin = Pin::of_spki(b"not really a key");
        let text = pin.to_string();
        assert!(
            text.starts_with("sha256//") && text.ends_with('='),
            "{text}"
        );
        assert_eq!(text.parse::<Pin>(), Ok(pin));
    }

    #[test]
    fn sha256_of_empty_input() {
        // The well-known SHA-256 of nothing, base64-encoded.
        assert_eq!(
            Pin::of_spki(b"").to_string(),
            "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            "",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha256//not base64!",
            "sha256//AAAA",
        ] {
            let err = bad.parse::<Pin>().expect_err(bad);
            assert!(err.to_string().contains("expected sha256//BASE64"), "{err}");
        }
    }
}
