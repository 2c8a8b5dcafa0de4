//! Host and address parsing with the texts' conventions.

use std::net::{IpAddr, SocketAddr};

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

/// Resolves a host (literal or name) and port to every socket address it names,
/// literals first-class so that no resolver is asked about `127.0.0.1`.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
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

/// Splits `HOST:PORT`, `[V6]:PORT` or a bare host (which takes `default_port`).
///
/// A bare IPv6 literal such as `::1` has colons but no port; it is taken whole.
pub fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad_port = |p: &str| format!("invalid port {p:?} in {s:?}");
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in {s:?}"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.to_string(), p.parse().map_err(|_| bad_port(p))?)),
            None if after.is_empty() => Ok((host.to_string(), default_port)),
            None => Err(format!("unexpected {after:?} after ']' in {s:?}")),
        };
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_string(), default_port));
    }
    match s.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), p.parse().map_err(|_| bad_port(p))?)),
        None => Ok((s.to_string(), default_port)),
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
            split_host_port("127.0.0.1:80", 1),
            Ok(("127.0.0.1".into(), 80))
        );
        assert_eq!(split_host_port("[::1]:80", 1), Ok(("::1".into(), 80)));
        assert_eq!(split_host_port("::1", 7), Ok(("::1".into(), 7)));
        assert_eq!(split_host_port("[::1]", 7), Ok(("::1".into(), 7)));
        assert_eq!(split_host_port("localhost", 7), Ok(("localhost".into(), 7)));
        assert!(split_host_port("host:x", 7).is_err());
    }

    #[tokio::test]
    async fn literals_resolve_without_a_lookup() {
        let addrs = resolve("", 5).await.expect("'' resolves");
        assert_eq!(addrs, vec!["0.0.0.0:5".parse().expect("literal")]);
        let addrs = resolve("[::1]", 5).await.expect("v6 resolves");
        assert_eq!(addrs, vec!["[::1]:5".parse().expect("literal")]);
    }
}
