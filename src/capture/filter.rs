//! What to capture: the `--port/--host/--tcp/--udp/--icmp` filter, as data.
//!
//! The same filter runs twice in different forms: compiled to a classic BPF
//! program for a live capture (`bpf.rs`, so the kernel drops what is not
//! wanted before copying it), and as [`Filter::matches`] over decoded packets
//! when reading a file (`-r`), where there is no kernel to do it.

use std::net::IpAddr;

use super::decode::{Net, Packet, Transport};

/// Which transport protocol to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// ICMP and ICMPv6 only.
    Icmp,
}

/// Packets to keep; every given condition must hold (an empty filter keeps all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// TCP or UDP source or destination port.
    pub port: Option<u16>,
    /// IPv4 or IPv6 source or destination address.
    pub host: Option<IpAddr>,
    /// Transport protocol.
    pub proto: Option<Proto>,
}

impl Filter {
    /// Whether the filter keeps every frame, IP or not.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether a decoded packet passes, with the BPF program's meaning.
    pub fn matches(&self, packet: &Packet) -> bool {
        if self.is_empty() {
            return true;
        }
        let Net::Ip {
            src,
            dst,
            transport,
            ..
        } = &packet.net
        else {
            return false;
        };
        if let Some(host) = self.host
            && host != *src
            && host != *dst
        {
            return false;
        }
        let proto_ok = match self.proto {
            None => true,
            Some(Proto::Tcp) => matches!(transport, Transport::Tcp(_)),
            Some(Proto::Udp) => matches!(transport, Transport::Udp { .. }),
            Some(Proto::Icmp) => matches!(transport, Transport::Icmp { .. }),
        };
        let port_ok = match self.port {
            None => true,
            Some(port) => transport
                .ports()
                .is_some_and(|(a, b)| a == port || b == port),
        };
        proto_ok && port_ok
    }
}
