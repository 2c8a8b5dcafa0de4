//! Access control: which peers a server serves, as ncat's `--allow` and
//! `--deny` decide it.
//!
//! ```text
//! CIDR     ADDRESS | ADDRESS/BITS       127.0.0.0/8, ::1/128, 10.1.2.3 (= /32), ::1 (= /128)
//! verdict  denied if any deny rule holds the peer (deny wins);
//!          else allowed if the allow list is empty or a rule in it holds the peer
//! ```
//!
//! Every address is compared as an IPv6 one, IPv4 `a.b.c.d` being
//! `::ffff:a.b.c.d`: so the IPv4-mapped peers a dual-stack `::` listener
//! reports match IPv4 rules, `0.0.0.0/0` means every IPv4 peer and `::/0`
//! every peer at all. Host bits below the prefix are ignored, as ncat ignores
//! them (`192.168.0.5/24` is `192.168.0.0/24`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Where IPv4 sits in the IPv6 space: `::ffff:0:0/96`.
const MAPPED_PREFIX: u8 = 96;
const MAPPED_NET: u128 = 0xffff << 32;

/// A network: an address and how many of its leading bits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    // The network in the IPv6 space (IPv4 mapped), host bits cleared.
    net: u128,
    // Leading bits that count, 0 to 128 (an IPv4 /n is 96 + n).
    prefix: u8,
}

/// Why a string is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before the `/` is not an IP address.
    #[error("`{0}` is not an IP address (a CIDR is ADDRESS or ADDRESS/BITS, e.g. 127.0.0.0/8)")]
    Address(String),
    /// The part after the `/` is not a number.
    #[error("`/{0}` is not a prefix length (a number of bits, e.g. /24)")]
    Prefix(String),
    /// The prefix has more bits than the address.
    #[error("prefix /{prefix} is longer than the {max} bits of an {family} address")]
    PrefixTooLong {
        /// The prefix as written.
        prefix: String,
        /// The address's length in bits.
        max: u8,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
}

impl Cidr {
    /// The network of `addr`'s first `prefix` bits (host bits are cleared);
    /// `None` when `prefix` is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let prefix = match addr {
            IpAddr::V4(_) if prefix <= 32 => MAPPED_PREFIX + prefix,
            IpAddr::V6(_) if prefix <= 128 => prefix,
            _ => return None,
        };
        Some(Self {
            net: bits(addr) & mask(prefix),
            prefix,
        })
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.holds(bits(ip))
    }

    fn holds(&self, ip: u128) -> bool {
        (ip ^ self.net) & mask(self.prefix) == 0
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let addr: IpAddr = address
            .parse()
            .map_err(|_| CidrError::Address(address.to_string()))?;
        let (max, family) = match addr {
            IpAddr::V4(_) => (32, "IPv4"),
            IpAddr::V6(_) => (128, "IPv6"),
        };
        let Some(bits) = bits else {
            return Ok(Self::new(addr, max).expect("a full-length prefix fits its address"));
        };
        // Digits only: u8's parser would also take `+8`.
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Prefix(bits.to_string()));
        }
        let too_long = || CidrError::PrefixTooLong {
            prefix: bits.to_string(),
            max,
            family,
        };
        // A number too large for a u8 is too long for any address.
        let prefix: u8 = bits.parse().map_err(|_| too_long())?;
        Self::new(addr, prefix).ok_or_else(too_long)
    }
}

/// IPv4 networks (those inside `::ffff:0:0/96`) are written as IPv4.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix >= MAPPED_PREFIX && self.net & mask(MAPPED_PREFIX) == MAPPED_NET {
            // The low 32 bits are the IPv4 address.
            let v4 = Ipv4Addr::from(self.net as u32);
            write!(f, "{v4}/{}", self.prefix - MAPPED_PREFIX)
        } else {
            write!(f, "{}/{}", Ipv6Addr::from(self.net), self.prefix)
        }
    }
}

/// The peers a server serves: everyone by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    /// When not empty, only peers in one of these networks are served.
    pub allow: Vec<Cidr>,
    /// Peers in one of these networks are refused, even when allowed.
    pub deny: Vec<Cidr>,
}

impl AccessList {
    /// Whether a peer at `ip` may be served: not denied, and allowed (an
    /// empty allow list allows everyone). Allocates nothing.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = bits(ip);
        !self.deny.iter().any(|cidr| cidr.holds(ip))
            && (self.allow.is_empty() || self.allow.iter().any(|cidr| cidr.holds(ip)))
    }
}

/// An address in the IPv6 space, IPv4 as `::ffff:a.b.c.d`, so that a mapped
/// peer and its IPv4 form are the same number.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => MAPPED_NET | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The leading `prefix` bits set (`prefix` is at most 128).
fn mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse()
            .unwrap_or_else(|err| panic!("{text:?} should parse: {err}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address literal")
    }

    fn list(allow: &[&str], deny: &[&str]) -> AccessList {
        AccessList {
            allow: allow.iter().map(|c| cidr(c)).collect(),
            deny: deny.iter().map(|c| cidr(c)).collect(),
        }
    }

    #[test]
    fn parses_networks_and_bare_addresses() {
        assert_eq!(cidr("127.0.0.0/8").to_string(), "127.0.0.0/8");
        assert_eq!(cidr("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::1").to_string(), "::1/128");
        assert_eq!(cidr("::1/128"), cidr("::1"));
        assert_eq!(cidr("fe80::/10").to_string(), "fe80::/10");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("10.0.0.0/08"), cidr("10.0.0.0/8"));
    }

    #[test]
    fn host_bits_are_masked_as_ncat_does() {
        assert_eq!(cidr("192.168.0.5/24").to_string(), "192.168.0.0/24");
        assert_eq!(cidr("2001:db8::ff/64").to_string(), "2001:db8::/64");
        assert!(cidr("192.168.0.5/24").contains(ip("192.168.0.200")));
    }

    #[test]
    fn mapped_rules_are_ipv4_rules() {
        assert_eq!(cidr("::ffff:127.0.0.1").to_string(), "127.0.0.1/32");
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert_eq!(cidr("::ffff:0:0/96"), cidr("0.0.0.0/0"));
    }

    #[test]
    fn refuses_bad_input_in_one_line() {
        let err = |text: &str| text.parse::<Cidr>().expect_err(text).to_string();
        assert_eq!(
            err("1.2.3.4/33"),
            "prefix /33 is longer than the 32 bits of an IPv4 address"
        );
        assert_eq!(
            err("::1/129"),
            "prefix /129 is longer than the 128 bits of an IPv6 address"
        );
        assert_eq!(
            err("10.0.0.0/99999999999"),
            "prefix /99999999999 is longer than the 32 bits of an IPv4 address"
        );
        assert_eq!(
            err("127.0.0.0/x"),
            "`/x` is not a prefix length (a number of bits, e.g. /24)"
        );
        for bits in ["", "+8", "-1", " 8"] {
            let text = format!("10.0.0.0/{bits}");
            assert_eq!(
                text.parse::<Cidr>(),
                Err(CidrError::Prefix(bits.to_string()))
            );
        }
        // Not host names, and not the shorthand forms SPEC §1 keeps from the resolver.
        for address in [
            "",
            "localhost",
            "127.1",
            "0x7f000001",
            "1000000",
            "[::1]",
            "fe80::1%lo",
        ] {
            assert_eq!(
                address.parse::<Cidr>(),
                Err(CidrError::Address(address.to_string())),
                "{address:?}"
            );
        }
        assert!(err("nope/8").starts_with("`nope` is not an IP address"));
        assert!(!err("nope/8").contains('\n'));
    }

    #[test]
    fn contains_by_prefix() {
        let loopback = cidr("127.0.0.0/8");
        assert!(loopback.contains(ip("127.0.0.1")));
        assert!(loopback.contains(ip("127.255.255.255")));
        assert!(!loopback.contains(ip("128.0.0.1")));
        assert!(!loopback.contains(ip("::1")));
        assert!(cidr("::1").contains(ip("::1")));
        assert!(!cidr("::1").contains(ip("::2")));
        assert!(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
        // Every address is inside ::/0, IPv4 ones too.
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(cidr("::/0").contains(ip("127.0.0.1")));
    }

    #[test]
    fn mapped_peers_match_ipv4_rules() {
        let rules = list(&["127.0.0.0/8"], &["127.0.0.2"]);
        assert!(rules.permits(ip("::ffff:127.0.0.1")));
        assert!(!rules.permits(ip("::ffff:127.0.0.2")));
        assert!(!rules.permits(ip("::ffff:10.0.0.1")));
        assert!(cidr("::ffff:127.0.0.2").contains(ip("127.0.0.2")));
    }

    #[test]
    fn deny_wins_over_allow() {
        let rules = list(&["127.0.0.0/8"], &["127.0.0.2/32"]);
        assert!(rules.permits(ip("127.0.0.1")));
        assert!(!rules.permits(ip("127.0.0.2")));
        assert!(!rules.permits(ip("10.0.0.1")));
        let both = list(&["127.0.0.2"], &["127.0.0.2"]);
        assert!(!both.permits(ip("127.0.0.2")));
    }

    #[test]
    fn an_empty_allow_list_allows_all_but_the_denied() {
        assert!(AccessList::default().permits(ip("127.0.0.2")));
        assert!(AccessList::default().permits(ip("::1")));
        let deny = list(&[], &["127.0.0.2/32"]);
        assert!(deny.permits(ip("127.0.0.1")));
        assert!(deny.permits(ip("::1")));
        assert!(!deny.permits(ip("127.0.0.2")));
    }

    #[test]
    fn a_non_empty_allow_list_allows_only_its_members() {
        let rules = list(&["127.0.0.1/32", "::1"], &[]);
        assert!(rules.permits(ip("127.0.0.1")));
        assert!(rules.permits(ip("::1")));
        assert!(!rules.permits(ip("127.0.0.2")));
        assert!(!rules.permits(ip("::2")));
    }
}
