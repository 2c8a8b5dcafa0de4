//! Listener backlogs, which /proc/net/tcp does not carry (its tx_queue is 0
//! for a listener): asked of the kernel over NETLINK_SOCK_DIAG as `ss` asks,
//! so that a LISTEN row's Send-Q means what it means in `ss`.
//!
//! ```text
//! request:  nlmsghdr{len, type=SOCK_DIAG_BY_FAMILY, flags=REQUEST|DUMP, seq, pid}
//!           inet_diag_req_v2{family, protocol=TCP, ext=0, pad=0, states=1<<LISTEN, id=0}
//! replies:  nlmsghdr + inet_diag_msg{family, state, timer, retrans, id[48],
//!           expires, rqueue, wqueue (= the backlog), uid, inode} ... NLMSG_DONE
//! ```

use std::collections::HashMap;
use std::io::{self, Read};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

const NLMSG_HEADER: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCP_LISTEN: u32 = 10;
/// Offsets inside inet_diag_msg (linux/inet_diag.h).
const WQUEUE_AT: usize = 60;
const INODE_AT: usize = 68;
const DIAG_MSG_LEN: usize = 72;

/// The backlog of every TCP listener in this network namespace, by socket inode.
pub fn listen_backlogs() -> io::Result<HashMap<u64, u64>> {
    let mut backlogs = HashMap::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        dump_listeners(family, &mut backlogs)?;
    }
    Ok(backlogs)
}

fn dump_listeners(family: i32, backlogs: &mut HashMap<u64, u64>) -> io::Result<()> {
    let socket = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
    )?;
    // The kernel answers at once; a bound on the wait keeps a surprise from hanging us.
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    socket.send(&request(family))?;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = (&socket).read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let mut at = 0;
        while at + NLMSG_HEADER <= n {
            let len = read_u32(&buf, at) as usize;
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            if len < NLMSG_HEADER || at + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad netlink message",
                ));
            }
            match kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(field(&buf, at + NLMSG_HEADER));
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                SOCK_DIAG_BY_FAMILY if len >= NLMSG_HEADER + DIAG_MSG_LEN => {
                    let msg = at + NLMSG_HEADER;
                    let inode = u64::from(read_u32(&buf, msg + INODE_AT));
                    backlogs.insert(inode, u64::from(read_u32(&buf, msg + WQUEUE_AT)));
                }
                _ => {}
            }
            // Messages are padded to four bytes (NLMSG_ALIGN).
            at += (len + 3) & !3;
        }
    }
}

/// A dump request for the family's TCP listeners.
fn request(family: i32) -> Vec<u8> {
    const REQ_LEN: u32 = 56;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let mut req = Vec::with_capacity(NLMSG_HEADER + REQ_LEN as usize);
    req.extend_from_slice(&(NLMSG_HEADER as u32 + REQ_LEN).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    // Both families fit in a byte (AF_INET 2, AF_INET6 10).
    req.extend_from_slice(&[family as u8, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req.resize(NLMSG_HEADER + REQ_LEN as usize, 0); // inet_diag_sockid: any socket
    req
}

fn field(buf: &[u8], at: usize) -> [u8; 4] {
    let mut bytes = [0u8; 4];
    if let Some(src) = buf.get(at..at + 4) {
        bytes.copy_from_slice(src);
    }
    bytes
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(field(buf, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_backlog_of_a_listener_of_ours() {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("literal");
        listener.bind(&addr.into()).expect("bind");
        listener.listen(7).expect("listen");
        let inode = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&listener)
        ))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("socket inode");
        let backlogs = listen_backlogs().expect("sock_diag answers");
        assert_eq!(backlogs.get(&inode), Some(&7));
    }
}
