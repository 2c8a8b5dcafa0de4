//! Host and address parsing with the texts' conventions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::NetError;

/// Maps the texts' host spellings to one the resolver takes: `''` means every
/// IPv4 interface, and brackets around an IPv6 literal are dropped.
pub fn normalize_host(host: &str) -> &str {
    let host = host.trim();
    if host.is_empty() {
        return "0.0.0.0";
    }
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Why a HOST argument was refused before any lookup or connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// A number the resolver would read as an IPv4 address (`1000000`,
    /// `0x7f000001`, `127.1`, `017700000001`): never what was meant.
    #[error("'{host}' is not a host (a bare number would be read as the address {addr})")]
    Number { host: String, addr: Ipv4Addr },
    /// Neither an address nor a name: no letter, or a character no name has.
    #[error(
        "'{host}' is not a host (a host is a dotted-quad IPv4 address, an IPv6 literal or a name with a letter)"
    )]
    Invalid { host: String },
}

/// Checks that `host` is a HOST as SPEC §1 defines it: `''` (all IPv4
/// interfaces), a dotted-quad IPv4 address, an IPv6 literal (bracketed or not),
/// or a name that contains a letter and is not a number in disguise.
///
/// The resolver (glibc's inet_aton) reads `1000000` as 0.15.66.64 and
/// `127.1` as 127.0.0.1, so a byte count typed where the HOST goes would send
/// traffic to a machine nobody meant to reach; this runs before it ever can.
pub fn check_host(host: &str) -> Result<(), HostError> {
    let name = normalize_host(host);
    let invalid = || HostError::Invalid {
        host: host.to_string(),
    };
    if host.trim().starts_with('[') {
        // Brackets only ever hold an IPv6 literal.
        return match name.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => Ok(()),
            _ => Err(invalid()),
        };
    }
    if name.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some(addr) = inet_aton(name) {
        return Err(HostError::Number {
            host: host.to_string(),
            addr,
        });
    }
    let plausible = name.chars().any(|c| c.is_alphabetic())
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible { Ok(()) } else { Err(invalid()) }
}

/// What glibc's inet_aton makes of `text`: one to four parts, each decimal,
/// octal (a leading 0) or hex (0x), the last one filling the remaining bytes.
fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let values: Vec<u32> = parts
        .iter()
        .map(|part| c_number(part))
        .collect::<Option<_>>()?;
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|&v| v > 0xff) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 32 && *last >> last_bits != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, &v)| acc | v << (24 - 8 * i as u32));
    Some(Ipv4Addr::from(high | last))
}

/// One part as C's `strtoul(part, _, 0)` reads it, or `None` if it is not
/// wholly a number that fits in 32 bits.
fn c_number(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Resolves a host (literal or name) and port to every socket address it names,
/// literals first-class so that no resolver is asked about `127.0.0.1`, and
/// never a [`check_host`] reject.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    check_host(host)?;
    let name = normalize_host(host);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|cause| NetError::Resolve {
            host: name.to_string(),
            cause,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::Resolve {
            host: name.to_string(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
        });
    }
    Ok(addrs)
}

/// Splits `HOST:PORT`, `[V6]:PORT` or a bare host (whose port is `None`).
///
/// A bare IPv6 literal such as `::1` has colons but no port; it is taken whole.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("invalid port {p:?} in {s:?}");
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in {s:?}"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
            None if after.is_empty() => Ok((host.to_string(), None)),
            None => Err(format!("unexpected {after:?} after ']' in {s:?}")),
        };
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_string(), None));
    }
    match s.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((s.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_host_means_all_ipv4_interfaces() {
        assert_eq!(normalize_host(""), "0.0.0.0");
        assert_eq!(normalize_host("[::1]"), "::1");
        assert_eq!(normalize_host("localhost"), "localhost");
    }

    #[test]
    fn splits_every_spelling() {
        assert_eq!(
            split_host_port("127.0.0.1:80"),
            Ok(("127.0.0.1".into(), Some(80)))
        );
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1".into(), Some(80))));
        assert_eq!(split_host_port("::1"), Ok(("::1".into(), None)));
        assert_eq!(split_host_port("[::1]"), Ok(("::1".into(), None)));
        assert_eq!(split_host_port("localhost"), Ok(("localhost".into(), None)));
        assert!(split_host_port("host:x").is_err());
    }

    #[test]
    fn hosts_that_are_hosts() {
        for host in [
            "",
            "  ",
            "localhost",
            "127.0.0.1",
            "0.0.0.0",
            "::",
            "::1",
            "[::1]",
            "fe80::1",
            "example.com",
            "my-host",
            "a1",
            "1e5",
            "host.123",
            "bücher.de",
        ] {
            assert_eq!(check_host(host), Ok(()), "{host:?}");
        }
    }

    #[test]
    fn numbers_are_not_hosts_and_say_what_they_would_reach() {
        for (host, addr) in [
            ("1000000", "0.15.66.64"),
            ("0x7f000001", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("017700000001", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("10.1.2", "10.1.0.2"),
            ("010.0.0.1", "8.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("4294967295", "255.255.255.255"),
        ] {
            let addr = addr.parse().expect("literal");
            assert_eq!(
                check_host(host),
                Err(HostError::Number {
                    host: host.into(),
                    addr
                }),
                "{host:?}"
            );
        }
        let err = check_host("1000000").expect_err("a number");
        assert_eq!(
            err.to_string(),
            "'1000000' is not a host (a bare number would be read as the address 0.15.66.64)"
        );
    }

    #[test]
    fn other_non_hosts_are_refused_too() {
        for host in [
            "4294967296",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2",
            "127.0.0.1.",
            "09",
            "-1",
            "[localhost]",
            "[1.2.3.4]",
            "local host",
            "a\tb",
        ] {
            assert!(
                matches!(check_host(host), Err(HostError::Invalid { .. })),
                "{host:?}: {:?}",
                check_host(host)
            );
        }
    }

    #[tokio::test]
    async fn resolve_refuses_a_number_before_any_lookup() {
        let err = resolve("1000000", 80).await.expect_err("refused");
        assert!(matches!(err, NetError::Host(HostError::Number { .. })));
    }

    #[tokio::test]
    async fn literals_resolve_without_a_lookup() {
        let addrs = resolve("", 5).await.expect("'' resolves");
        assert_eq!(addrs, vec!["0.0.0.0:5".parse().expect("literal")]);
        let addrs = resolve("[::1]", 5).await.expect("v6 resolves");
        assert_eq!(addrs, vec!["[::1]:5".parse().expect("literal")]);
    }
}
