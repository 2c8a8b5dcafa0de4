//! `socklab lookup`: the texts' name and service lookups.
//!
//! ```text
//! lookup HOST [PORT]   getaddrinfo(HOST, PORT): every (family, type, protocol, address)
//! lookup --service ssh getservbyname("ssh", tcp|udp)  -> ssh 22/tcp
//! lookup --port 22     getservbyport(22, tcp|udp)     -> ssh 22/tcp
//! ```
//! Like Python's `socket.getaddrinfo`, a host lookup without a type filter
//! lists each address once per socket type the resolver offers.

use std::ffi::{CStr, CString, c_char, c_int};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Mutex;

use crate::net;

/// One entry of a getaddrinfo answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// `AF_INET` or `AF_INET6`.
    pub family: c_int,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`.
    pub socktype: c_int,
    /// `IPPROTO_TCP`, `IPPROTO_UDP`, or 0.
    pub protocol: c_int,
    /// The address and port.
    pub addr: SocketAddr,
}

/// A failed getaddrinfo, worded for a user.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {reason}")]
pub struct ResolveError {
    /// The name asked about.
    pub host: String,
    /// The resolver's explanation, lowercased.
    pub reason: String,
}

/// One entry of the services database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Official name (`ssh`).
    pub name: String,
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// Other names.
    pub aliases: Vec<String>,
}

/// A transport protocol to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP (SOCK_STREAM).
    Tcp,
    /// UDP (SOCK_DGRAM).
    Udp,
}

impl Transport {
    /// The protocol's name in the services database.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// The socket type getaddrinfo filters on.
    pub fn socktype(self) -> c_int {
        match self {
            Transport::Tcp => libc::SOCK_STREAM,
            Transport::Udp => libc::SOCK_DGRAM,
        }
    }
}

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// getaddrinfo failed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The services database has no such name.
    #[error("unknown service {0:?} (not in the services database, /etc/services)")]
    UnknownService(String),
    /// The services database has nothing on that port.
    #[error("no service on port {0} in the services database (/etc/services)")]
    NoServiceOnPort(u16),
    /// A name given holds a NUL byte, which C strings cannot.
    #[error("{what} contains NUL: {cause}")]
    Nul {
        /// What was given.
        what: &'static str,
        /// Where the NUL is.
        cause: std::ffi::NulError,
    },
    /// The blocking resolver's thread died.
    #[error("the resolver thread failed: {0}")]
    Thread(tokio::task::JoinError),
}

/// Every address `host` (with `port`, a number or a service name) resolves
/// to, as getaddrinfo lists them, on a blocking thread.
pub async fn addresses(
    host: &str,
    port: Option<&str>,
    transport: Option<Transport>,
) -> Result<Vec<AddrInfo>, Error> {
    let name = net::normalize_host(host).to_string();
    let port = port.map(str::to_string);
    let socktype = transport.map(Transport::socktype);
    let entries =
        tokio::task::spawn_blocking(move || getaddrinfo(&name, port.as_deref(), socktype))
            .await
            .map_err(Error::Thread)??;
    Ok(entries)
}

/// The services called `name`, over `transport` or both, each once.
pub fn services_named(name: &str, transport: Option<Transport>) -> Result<Vec<Service>, Error> {
    let found = services(transport, |proto| service_by_name(name, proto))?;
    if found.is_empty() {
        return Err(Error::UnknownService(name.to_string()));
    }
    Ok(found)
}

/// The services on `port`, over `transport` or both, each once.
pub fn services_on_port(port: u16, transport: Option<Transport>) -> Result<Vec<Service>, Error> {
    let found = services(transport, |proto| service_by_port(port, proto))?;
    if found.is_empty() {
        return Err(Error::NoServiceOnPort(port));
    }
    Ok(found)
}

/// Looks a service up once per protocol, keeping the distinct answers.
fn services(
    transport: Option<Transport>,
    mut lookup: impl FnMut(&str) -> Result<Option<Service>, Error>,
) -> Result<Vec<Service>, Error> {
    let protos = match transport {
        Some(transport) => vec![transport],
        None => vec![Transport::Tcp, Transport::Udp],
    };
    let mut found: Vec<Service> = Vec::new();
    for proto in protos {
        if let Some(service) = lookup(proto.name())?
            && !found.contains(&service)
        {
            found.push(service);
        }
    }
    Ok(found)
}

/// Resolves `host` (and `service`, a port number or name) with getaddrinfo.
pub fn getaddrinfo(
    host: &str,
    service: Option<&str>,
    socktype: Option<c_int>,
) -> Result<Vec<AddrInfo>, ResolveError> {
    let fail = |source: io::Error| ResolveError {
        host: host.to_string(),
        reason: net::describe(&source),
    };
    let c_host = CString::new(host).map_err(|_| fail(io::Error::other("name contains NUL")))?;
    let c_service = service
        .map(CString::new)
        .transpose()
        .map_err(|_| fail(io::Error::other("port contains NUL")))?;
    // SAFETY: addrinfo is a plain C struct; all-zero is its documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = socktype.unwrap_or(0);
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    let service_ptr = c_service
        .as_ref()
        .map_or(std::ptr::null(), |service| service.as_ptr());
    // SAFETY: the strings are NUL-terminated and outlive the call; `list` is
    // written by getaddrinfo and freed below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), service_ptr, &hints, &mut list) };
    if rc != 0 {
        let source = if rc == libc::EAI_SYSTEM {
            io::Error::last_os_error()
        } else {
            // SAFETY: gai_strerror returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
            io::Error::other(text.to_string_lossy().into_owned())
        };
        return Err(fail(source));
    }
    let mut entries = Vec::new();
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` walks the list getaddrinfo returned, not yet freed.
        let info = unsafe { &*cursor };
        // SAFETY: ai_addr points to ai_addrlen bytes of a sockaddr of ai_family.
        if let Some(addr) = unsafe { socket_addr(info.ai_addr, info.ai_addrlen) } {
            entries.push(AddrInfo {
                family: info.ai_family,
                socktype: info.ai_socktype,
                protocol: info.ai_protocol,
                addr,
            });
        }
        cursor = info.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(entries)
}

/// Converts a C socket address of the IP families.
///
/// # Safety
/// `addr` must be null or point to `len` readable bytes of a sockaddr.
unsafe fn socket_addr(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    let len = len as usize;
    // SAFETY (all reads): the caller guarantees `len` bytes; each read is
    // preceded by a length check and done unaligned.
    match c_int::from(unsafe { (*addr).sa_family }) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            let sin = unsafe { addr.cast::<libc::sockaddr_in>().read_unaligned() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            let sin6 = unsafe { addr.cast::<libc::sockaddr_in6>().read_unaligned() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}

/// getservbyname/getservbyport share one static result buffer per process.
static SERVICES_DB: Mutex<()> = Mutex::new(());

/// The services-database entry for `name` over `proto` (`tcp`/`udp`), if any.
pub fn service_by_name(name: &str, proto: &str) -> Result<Option<Service>, Error> {
    let c_name = c_string(name, "service name")?;
    let c_proto = c_string(proto, "protocol")?;
    let _db = SERVICES_DB
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // SAFETY: NUL-terminated arguments; the result is copied out under the lock.
    Ok(unsafe { copy_servent(libc::getservbyname(c_name.as_ptr(), c_proto.as_ptr())) })
}

/// The services-database entry for `port` over `proto` (`tcp`/`udp`), if any.
pub fn service_by_port(port: u16, proto: &str) -> Result<Option<Service>, Error> {
    let c_proto = c_string(proto, "protocol")?;
    let _db = SERVICES_DB
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // getservbyport takes the port in network byte order, widened to int.
    let net_port = c_int::from(port.to_be());
    // SAFETY: as above.
    Ok(unsafe { copy_servent(libc::getservbyport(net_port, c_proto.as_ptr())) })
}

fn c_string(text: &str, what: &'static str) -> Result<CString, Error> {
    CString::new(text).map_err(|cause| Error::Nul { what, cause })
}

/// Copies a servent out of libc's static buffer.
///
/// # Safety
/// `entry` must be null or a servent from getservby*, read before the next call.
unsafe fn copy_servent(entry: *const libc::servent) -> Option<Service> {
    if entry.is_null() {
        return None;
    }
    // SAFETY: non-null servent with NUL-terminated strings and a NULL-ended alias list.
    let entry = unsafe { &*entry };
    let text = |ptr: *const c_char| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    };
    let mut aliases = Vec::new();
    let mut alias = entry.s_aliases;
    while !alias.is_null() && !unsafe { *alias }.is_null() {
        aliases.push(text(unsafe { *alias }));
        alias = unsafe { alias.add(1) };
    }
    Some(Service {
        name: text(entry.s_name),
        // s_port holds the 16-bit port in network byte order in an int.
        port: u16::from_be(entry.s_port as u16),
        proto: text(entry.s_proto),
        aliases,
    })
}

/// `AF_INET`, `AF_INET6`, or the number.
pub fn family_name(family: c_int) -> String {
    match family {
        libc::AF_INET => "AF_INET".into(),
        libc::AF_INET6 => "AF_INET6".into(),
        other => format!("AF_{other}"),
    }
}

/// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`, or the number.
pub fn socktype_name(socktype: c_int) -> String {
    match socktype {
        libc::SOCK_STREAM => "SOCK_STREAM".into(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".into(),
        libc::SOCK_RAW => "SOCK_RAW".into(),
        other => format!("SOCK_{other}"),
    }
}

/// `tcp`, `udp`, `any` (0), or `other`.
pub fn protocol_name(protocol: c_int) -> &'static str {
    match protocol {
        libc::IPPROTO_TCP => "tcp",
        libc::IPPROTO_UDP => "udp",
        0 => "any",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_hosts_resolve_without_a_resolver() {
        let entries =
            getaddrinfo("127.0.0.1", Some("80"), Some(libc::SOCK_STREAM)).expect("resolves");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].addr, "127.0.0.1:80".parse().expect("literal"));
        assert_eq!(entries[0].protocol, libc::IPPROTO_TCP);
        let entries = getaddrinfo("::1", Some("53"), Some(libc::SOCK_DGRAM)).expect("resolves");
        assert_eq!(entries[0].addr, "[::1]:53".parse().expect("literal"));
        assert_eq!(family_name(entries[0].family), "AF_INET6");
    }

    #[test]
    fn bad_port_is_an_error() {
        let err = getaddrinfo(
            "127.0.0.1",
            Some("no-such-service-x"),
            Some(libc::SOCK_STREAM),
        )
        .expect_err("unknown service");
        assert!(
            err.to_string().starts_with("cannot resolve 127.0.0.1: "),
            "{err}"
        );
    }
}
