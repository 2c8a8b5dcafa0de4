//! `TlsError`: every way setting up or shaking hands can fail, worded in one
//! line for a user, and the translation of rustls' errors into it (rustls'
//! own words name record types and alerts, not the mistake that caused them).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError};

use super::info::SanError;
use super::pin::{Pin, PinError};

/// Why TLS could not be set up, or a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file cannot be read.
    #[error("cannot read {}: {cause}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        cause: io::Error,
    },
    /// A file is not PEM, or holds something else than was asked for.
    #[error("bad PEM in {}: {cause}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        cause: rustls::pki_types::pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("no certificate in {}", .0.display())]
    NoCertificate(PathBuf),
    /// A key file holds no private key.
    #[error("no private key in {}", .0.display())]
    NoKey(PathBuf),
    /// A certificate in a CA file is not usable as a trust anchor.
    #[error("bad CA certificate in {}: {cause}", .path.display())]
    BadCa {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        cause: rustls::Error,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("--cert and --key go together (a client certificate needs its key)")]
    CertWithoutKey,
    /// The CA certificates cannot make a verifier.
    #[error("cannot use the CA certificates: {0}")]
    Verifier(rustls::client::VerifierBuilderError),
    /// rustls refused the certificate, key or CA list.
    #[error("cannot use the certificate: {0}")]
    Config(rustls::Error),
    /// A certificate cannot be parsed.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// A name asked for in the development certificate is not one.
    #[error(transparent)]
    San(#[from] SanError),
    /// No directory for the development certificate.
    #[error("no data directory for the development certificate (set SOCKLAB_DATA_DIR or HOME)")]
    NoDataDir,
    /// The development certificate store cannot be written.
    #[error("cannot write {}: {cause}", .path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        cause: io::Error,
    },
    /// A stored development CA file is damaged.
    #[error("damaged {}: {why} (delete it to make a new CA)", .path.display())]
    DamagedStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// rcgen could not make a key or certificate.
    #[error("cannot make the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The host cannot be a TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The server did not finish the handshake in time.
    #[error("TLS handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The client did not finish the handshake in time: a stalling peer, or
    /// a plain-text client that sent less than a record header and waits.
    #[error(
        "the client did not finish a TLS handshake within {0:?} (a stalled peer, or a plain-text client waiting for an answer)"
    )]
    ClientStalled(Duration),
    /// Our TLS server got bytes that are not a TLS record.
    #[error("the client sent plain text, not TLS (is it a TLS client? use --tls)")]
    PlainTextClient,
    /// Our TLS client got bytes that are not a TLS record.
    #[error("the server answered in plain text, not TLS (is it a TLS server?)")]
    PlainTextServer,
    /// The server closed the connection before the handshake finished.
    #[error("the server closed the connection during the TLS handshake (is it a TLS server?)")]
    ServerClosed,
    /// The client closed the connection before the handshake finished.
    #[error("the client closed the connection during the TLS handshake")]
    ClientClosed,
    /// The server's key is not the pinned one.
    #[error("certificate verify failed for {host}: pin mismatch: expected {expected}, got {got}")]
    PinMismatch {
        /// The name or address connected to.
        host: String,
        /// The pin asked for.
        expected: Pin,
        /// The pin of the key the server showed.
        got: Pin,
    },
    /// The server's certificate has expired.
    #[error("certificate verify failed for {host}: expired on {}", when(.not_after))]
    Expired {
        /// The name or address connected to.
        host: String,
        /// When it stopped being valid, if rustls said.
        not_after: Option<UnixTime>,
    },
    /// The server's certificate is not valid yet.
    #[error("certificate verify failed for {host}: not valid before {}", when(.not_before))]
    NotYetValid {
        /// The name or address connected to.
        host: String,
        /// When it starts being valid, if rustls said.
        not_before: Option<UnixTime>,
    },
    /// The server's certificate is for other names.
    #[error("certificate verify failed for {host}: not valid for {host}{}", presented_list(.presented))]
    WrongName {
        /// The name or address connected to.
        host: String,
        /// The names the certificate is for, as rustls reports them.
        presented: Vec<String>,
    },
    /// No trusted CA signed the server's certificate.
    #[error(
        "certificate verify failed for {host}: unknown issuer (no trusted CA signed it; trust one with --cacert FILE)"
    )]
    UnknownIssuer {
        /// The name or address connected to.
        host: String,
    },
    /// Another certificate problem.
    #[error("certificate verify failed for {host}: {cause}")]
    Certificate {
        /// The name or address connected to.
        host: String,
        /// What rustls said.
        cause: CertificateError,
    },
    /// Our server requires a client certificate and got none.
    #[error("the client sent no certificate (this server requires one signed by its --client-ca)")]
    ClientCertMissing,
    /// Our server refused the client's certificate.
    #[error("the client's certificate is not trusted: {0}")]
    ClientCertRejected(CertificateError),
    /// The server requires a client certificate and we sent none.
    #[error("the server requires a client certificate (give one with --cert FILE --key FILE)")]
    ClientCertRequired,
    /// The server refused the handshake with an alert.
    #[error("the server refused the TLS handshake ({})", alert_words(.0))]
    ServerRefused(AlertDescription),
    /// The client refused the handshake with an alert (often: our CA is not
    /// one it trusts).
    #[error("the client refused the TLS handshake ({}{})", alert_words(.0), trust_hint(.0))]
    ClientRefused(AlertDescription),
    /// Any other TLS failure.
    #[error("TLS handshake failed: {0}")]
    Handshake(rustls::Error),
    /// The connection failed under the handshake.
    #[error("TLS handshake failed: {}", crate::net::describe(.0))]
    Io(io::Error),
}

/// Which end of the connection we are, for wording the other end's mistakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// We accepted; the peer is a client.
    Server,
    /// We connected to `host`; the peer is a server.
    Client,
}

impl TlsError {
    /// Words a handshake failure that tokio-rustls reported as `err`; `host`
    /// is the name connected to (empty on the server side).
    pub(crate) fn from_handshake(err: io::Error, side: Side, host: &str) -> TlsError {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            return match side {
                Side::Server => TlsError::ClientClosed,
                Side::Client => TlsError::ServerClosed,
            };
        }
        let Some(tls) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        else {
            return TlsError::Io(err);
        };
        from_rustls(tls.clone(), side, host)
    }

    /// The TLS error inside an I/O error met after the handshake, if any:
    /// under TLS 1.3 a server refuses a missing client certificate only after
    /// the client has finished its handshake, so the client's first read is
    /// where it hears of it.
    pub fn from_io(err: &io::Error, side: Side) -> Option<TlsError> {
        let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some(from_rustls(tls.clone(), side, ""))
    }
}

/// Translates a rustls error seen on `side`.
fn from_rustls(err: rustls::Error, side: Side, host: &str) -> TlsError {
    let host = host.to_string();
    match (err, side) {
        // Not a TLS record at all: the peer speaks plain text (or another
        // protocol). A plain server echoing our ClientHello back is the
        // inappropriate-message case.
        (
            rustls::Error::InvalidMessage(_)
            | rustls::Error::PeerSentOversizedRecord
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
            Side::Server,
        ) => TlsError::PlainTextClient,
        (
            rustls::Error::InvalidMessage(_)
            | rustls::Error::PeerSentOversizedRecord
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
            Side::Client,
        ) => TlsError::PlainTextServer,
        (rustls::Error::NoCertificatesPresented, Side::Server) => TlsError::ClientCertMissing,
        (rustls::Error::InvalidCertificate(cause), Side::Server) => {
            TlsError::ClientCertRejected(cause)
        }
        (rustls::Error::InvalidCertificate(cause), Side::Client) => certificate(cause, host),
        (rustls::Error::AlertReceived(AlertDescription::CertificateRequired), Side::Client) => {
            TlsError::ClientCertRequired
        }
        (rustls::Error::AlertReceived(alert), Side::Client) => TlsError::ServerRefused(alert),
        (rustls::Error::AlertReceived(alert), Side::Server) => TlsError::ClientRefused(alert),
        (other, _) => TlsError::Handshake(other),
    }
}

/// Words a server certificate that failed verification.
fn certificate(cause: CertificateError, host: String) -> TlsError {
    match cause {
        CertificateError::UnknownIssuer => TlsError::UnknownIssuer { host },
        CertificateError::Expired => TlsError::Expired {
            host,
            not_after: None,
        },
        CertificateError::ExpiredContext { not_after, .. } => TlsError::Expired {
            host,
            not_after: Some(not_after),
        },
        CertificateError::NotValidYet => TlsError::NotYetValid {
            host,
            not_before: None,
        },
        CertificateError::NotValidYetContext { not_before, .. } => TlsError::NotYetValid {
            host,
            not_before: Some(not_before),
        },
        CertificateError::NotValidForName => TlsError::WrongName {
            host,
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext { presented, .. } => {
            TlsError::WrongName { host, presented }
        }
        CertificateError::Other(other) => match other.0.downcast_ref::<PinMismatch>() {
            Some(PinMismatch { expected, got }) => TlsError::PinMismatch {
                host,
                expected: *expected,
                got: *got,
            },
            None => TlsError::Certificate {
                host,
                cause: CertificateError::Other(other),
            },
        },
        cause => TlsError::Certificate { host, cause },
    }
}

/// The pin check's failure, carried through rustls as a certificate error.
#[derive(Debug, thiserror::Error)]
#[error("pin mismatch: expected {expected}, got {got}")]
pub(crate) struct PinMismatch {
    /// The pin asked for.
    pub(crate) expected: Pin,
    /// The pin of the key presented.
    pub(crate) got: Pin,
}

/// A certificate time as a UTC date, or "an unknown date".
fn when(time: &Option<UnixTime>) -> String {
    time.and_then(|t| i64::try_from(t.as_secs()).ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || "an unknown date".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// ` (it is for: a, b)`, or nothing when the names are unknown.
fn presented_list(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let names: Vec<String> = names.iter().map(|name| bare_name(name)).collect();
    format!(" (it is for: {})", names.join(", "))
}

/// A name as a user writes it: webpki presents `DnsName("localhost")` and
/// `IpAddress(0::1)`.
fn bare_name(presented: &str) -> String {
    if let Some(dns) = presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
    {
        return dns.to_string();
    }
    if let Some(ip) = presented
        .strip_prefix("IpAddress(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return ip
            .parse::<std::net::IpAddr>()
            .map_or_else(|_| ip.to_string(), |ip| ip.to_string());
    }
    presented.to_string()
}

/// The hint for a client's unknown-CA alert; other alerts (a pin, a name,
/// a date the client refused) are not about trusting our CA.
fn trust_hint(alert: &AlertDescription) -> &'static str {
    match alert {
        AlertDescription::UnknownCA => "; does it trust our CA? see `socklab cert ca`",
        _ => "",
    }
}

/// An alert in words: rustls' names are CamelCase (`UnknownCA`).
fn alert_words(alert: &AlertDescription) -> String {
    match alert {
        AlertDescription::UnknownCA => "unknown CA".to_string(),
        AlertDescription::BadCertificate => "bad certificate".to_string(),
        AlertDescription::CertificateUnknown => "certificate unknown".to_string(),
        AlertDescription::CertificateExpired => "certificate expired".to_string(),
        AlertDescription::HandshakeFailure => "handshake failure".to_string(),
        AlertDescription::ProtocolVersion => "no TLS version in common".to_string(),
        AlertDescription::DecodeError => "decode error".to_string(),
        other => format!("alert {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_read_as_written() {
        let presented = [
            "DnsName(\"localhost\")",
            "IpAddress(127.0.0.1)",
            "IpAddress(0::1)",
            "URI",
        ];
        assert_eq!(
            presented_list(&presented.map(String::from)),
            " (it is for: localhost, 127.0.0.1, ::1, URI)"
        );
        assert_eq!(presented_list(&[]), "");
    }
}
