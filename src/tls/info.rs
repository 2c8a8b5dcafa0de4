//! What a certificate says about itself: subject, subject alternative names,
//! validity and public-key pin, read with x509-parser (for `cert show`, the
//! server's log line, and deciding whether a stored certificate can be kept).

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rustls::pki_types::{CertificateDer, DnsName};
use x509_parser::extensions::GeneralName;

use super::pin::{Pin, PinError};

/// A subject alternative name: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    /// A DNS name, lowercase.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// A SAN that is neither an address nor a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a DNS name")]
pub struct SanError(pub String);

impl San {
    /// An IP address if `name` is one (the brackets of `[::1]` dropped),
    /// else a DNS name, lowercased.
    pub fn parse(name: &str) -> Result<San, SanError> {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let dns = DnsName::try_from(name).map_err(|_| SanError(name.to_string()))?;
        Ok(San::Dns(dns.as_ref().to_ascii_lowercase()))
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The parts of a certificate a user checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject, as `CN=localhost, O=socklab`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// The DNS names and addresses it is valid for.
    pub sans: Vec<San>,
    /// Valid from.
    pub not_before: DateTime<Utc>,
    /// Valid until.
    pub not_after: DateTime<Utc>,
    /// The pin of its public key.
    pub pin: Pin,
}

impl CertInfo {
    /// Reads a DER certificate.
    pub fn parse(cert: &CertificateDer<'_>) -> Result<CertInfo, PinError> {
        let bad = |why: String| PinError::BadCertificate(why);
        let (_, x509) =
            x509_parser::parse_x509_certificate(cert).map_err(|e| bad(e.to_string()))?;
        let mut sans = Vec::new();
        if let Some(ext) = x509
            .subject_alternative_name()
            .map_err(|e| bad(e.to_string()))?
        {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => sans.push(San::Dns(dns.to_ascii_lowercase())),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            sans.push(San::Ip(IpAddr::from(v4)));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            sans.push(San::Ip(IpAddr::from(v6)));
                        }
                    }
                    _ => {}
                }
            }
        }
        let time = |t: x509_parser::time::ASN1Time| {
            DateTime::from_timestamp(t.timestamp(), 0)
                .ok_or_else(|| bad("validity out of range".into()))
        };
        Ok(CertInfo {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            sans,
            not_before: time(x509.validity().not_before)?,
            not_after: time(x509.validity().not_after)?,
            pin: Pin::of_spki(x509.public_key().raw),
        })
    }

    /// Whether it names `san`.
    pub fn covers(&self, san: &San) -> bool {
        self.sans.contains(san)
    }

    /// The SANs joined with `, `.
    pub fn san_list(&self) -> String {
        let names: Vec<String> = self.sans.iter().map(San::to_string).collect();
        names.join(", ")
    }
}

impl fmt::Display for CertInfo {
    /// One line for a server's log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for {} until {} ({})",
            self.subject,
            self.san_list(),
            self.not_after.format("%Y-%m-%d"),
            self.pin
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_parse_tells_names_from_addresses() {
        assert_eq!(San::parse("LocalHost"), Ok(San::Dns("localhost".into())));
        assert_eq!(San::parse("127.0.0.1"), Ok(San::Ip([127, 0, 0, 1].into())));
        assert_eq!(San::parse("[::1]"), Ok(San::Ip("::1".parse().expect("v6"))));
        assert_eq!(
            San::parse("::1").map(|san| san.to_string()),
            Ok("::1".into())
        );
        let err = San::parse("bad name!").expect_err("not a name");
        assert_eq!(
            err.to_string(),
            "\"bad name!\" is neither an IP address nor a DNS name"
        );
    }
}
