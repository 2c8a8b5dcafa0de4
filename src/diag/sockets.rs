//! `socklab sockets`: the machine's TCP and UDP sockets, as `ss -tuanp` and
//! `netstat -anp` show them, read from /proc/net/{tcp,tcp6,udp,udp6} through
//! the procfs crate; owners found by matching socket inodes in /proc/*/fd.
//!
//! ```text
//! Proto State  Recv-Q Send-Q Local Address   Peer Address    Process
//! tcp   LISTEN      0   4096 127.0.0.1:65434 0.0.0.0:*       4242/socklab
//! tcp   ESTAB  408300      0 127.0.0.1:65434 127.0.0.1:53225 4242/socklab
//! ```
//! Recv-Q and Send-Q mean what `ss` says they mean: for a connection, bytes
//! received but not read and bytes written but not acknowledged; for a
//! listener, connections waiting in the accept queue and the backlog.
//! `--json` prints the same rows as one array of objects:
//! `{"proto":"tcp","state":"LISTEN","recv_q":0,"send_q":4096,
//!   "local":"127.0.0.1:65434","remote":"0.0.0.0:0","pid":4242,"program":"socklab"}`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;

use procfs::ProcError;
use procfs::net::{TcpState, UdpState};
use procfs::process::FDTarget;
use serde::Serialize;

use super::backlog;

/// A socket's protocol and address family, named as `netstat` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP over IPv4.
    Tcp,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv4.
    Udp,
    /// UDP over IPv6.
    Udp6,
}

impl Proto {
    fn is_tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Tcp6)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
            Proto::Udp => "udp",
            Proto::Udp6 => "udp6",
        })
    }
}

/// One row of the socket table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketEntry {
    /// Protocol and family.
    pub proto: Proto,
    /// State as `ss` names it (LISTEN, ESTAB, TIME-WAIT, UNCONN, …).
    pub state: &'static str,
    /// Unread bytes, or a listener's accept-queue length.
    pub recv_q: u64,
    /// Unacknowledged bytes, or a listener's backlog.
    pub send_q: u64,
    /// Our end (serialised `IP:PORT`, IPv6 as `[IP]:PORT`).
    pub local: SocketAddr,
    /// The other end; port 0 when there is none.
    pub remote: SocketAddr,
    /// The process holding the socket, where /proc lets us see it.
    pub pid: Option<i32>,
    /// That process's name.
    pub program: Option<String>,
    /// The socket's inode, the key between /proc/net and /proc/PID/fd.
    #[serde(skip)]
    pub inode: u64,
}

/// Which sockets to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only sockets with this port at either end.
    pub port: Option<u16>,
    /// Only LISTEN (TCP) and UNCONN (UDP) sockets.
    pub listening: bool,
    /// Only TCP (`Some(true)`) or only UDP (`Some(false)`).
    pub tcp: Option<bool>,
}

impl Filter {
    fn keeps(&self, entry: &SocketEntry) -> bool {
        let port_ok = self
            .port
            .is_none_or(|p| entry.local.port() == p || entry.remote.port() == p);
        let listening_ok = !self.listening || matches!(entry.state, "LISTEN" | "UNCONN");
        let proto_ok = self.tcp.is_none_or(|tcp| entry.proto.is_tcp() == tcp);
        port_ok && listening_ok && proto_ok
    }
}

/// Reads every TCP and UDP socket of this network namespace that `filter`
/// keeps, sorted by protocol, local address and remote address; listeners'
/// backlogs come from sock_diag, owners are left empty (see [`attach_owners`]).
pub fn read(filter: &Filter) -> Result<Vec<SocketEntry>, ProcError> {
    let mut entries = Vec::new();
    if filter.tcp != Some(false) {
        for (proto, rows) in [
            (Proto::Tcp, procfs::net::tcp()),
            (Proto::Tcp6, procfs::net::tcp6()),
        ] {
            entries.extend(optional(rows)?.into_iter().map(|e| {
                let ends = (e.local_address, e.remote_address);
                unowned(
                    proto,
                    tcp_state(&e.state),
                    (e.rx_queue, e.tx_queue),
                    ends,
                    e.inode,
                )
            }));
        }
    }
    if filter.tcp != Some(true) {
        for (proto, rows) in [
            (Proto::Udp, procfs::net::udp()),
            (Proto::Udp6, procfs::net::udp6()),
        ] {
            entries.extend(optional(rows)?.into_iter().map(|e| {
                let ends = (e.local_address, e.remote_address);
                let state = match e.state {
                    UdpState::Established => "ESTAB",
                    UdpState::Close => "UNCONN",
                };
                unowned(proto, state, (e.rx_queue, e.tx_queue), ends, e.inode)
            }));
        }
    }
    entries.retain(|e| filter.keeps(e));
    if entries.iter().any(|e| e.state == "LISTEN") {
        match backlog::listen_backlogs() {
            Ok(backlogs) => {
                for e in entries.iter_mut().filter(|e| e.state == "LISTEN") {
                    e.send_q = backlogs.get(&e.inode).copied().unwrap_or(e.send_q);
                }
            }
            Err(err) => tracing::debug!("cannot read listener backlogs: {err}"),
        }
    }
    entries.sort_by_key(|e| (e.proto, e.local.port(), e.local.ip(), e.remote));
    Ok(entries)
}

/// A row of /proc/net/*: (rx_queue, tx_queue), (local, remote); no owner yet.
fn unowned(
    proto: Proto,
    state: &'static str,
    (recv_q, send_q): (u32, u32),
    (local, remote): (SocketAddr, SocketAddr),
    inode: u64,
) -> SocketEntry {
    SocketEntry {
        proto,
        state,
        recv_q: recv_q.into(),
        send_q: send_q.into(),
        local,
        remote,
        pid: None,
        program: None,
        inode,
    }
}

/// A table that does not exist (IPv6 disabled) is an empty one.
fn optional<T>(rows: Result<Vec<T>, ProcError>) -> Result<Vec<T>, ProcError> {
    match rows {
        Err(ProcError::NotFound(_)) => Ok(Vec::new()),
        other => other,
    }
}

/// The kernel's TCP state as `ss` prints it.
fn tcp_state(state: &TcpState) -> &'static str {
    match state {
        TcpState::Established => "ESTAB",
        TcpState::SynSent => "SYN-SENT",
        // A request socket (NEW_SYN_RECV) is what `ss` shows as SYN-RECV.
        TcpState::SynRecv | TcpState::NewSynRecv => "SYN-RECV",
        TcpState::FinWait1 => "FIN-WAIT-1",
        TcpState::FinWait2 => "FIN-WAIT-2",
        TcpState::TimeWait => "TIME-WAIT",
        TcpState::Close => "UNCONN",
        TcpState::CloseWait => "CLOSE-WAIT",
        TcpState::LastAck => "LAST-ACK",
        TcpState::Listen => "LISTEN",
        TcpState::Closing => "CLOSING",
    }
}

/// Fills in pid and program by scanning /proc/*/fd for the entries' socket
/// inodes. Processes we may not look into (another user's, without root) are
/// skipped, as `ss -p` skips them; a socket shared by several processes is
/// attributed to the lowest pid.
pub fn attach_owners(entries: &mut [SocketEntry]) {
    // TIME-WAIT and request sockets have inode 0: no process holds them.
    let wanted: HashSet<u64> = entries
        .iter()
        .map(|e| e.inode)
        .filter(|&i| i != 0)
        .collect();
    if wanted.is_empty() {
        return;
    }
    let mut owners: HashMap<u64, (i32, Option<String>)> = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return;
    };
    for process in processes.flatten() {
        let Ok(fds) = process.fd() else { continue };
        let mut name = None;
        for fd in fds.flatten() {
            let FDTarget::Socket(inode) = fd.target else {
                continue;
            };
            if !wanted.contains(&inode) || owners.contains_key(&inode) {
                continue;
            }
            let name = name.get_or_insert_with(|| process.stat().ok().map(|s| s.comm));
            owners.insert(inode, (process.pid(), name.clone()));
        }
    }
    for entry in entries {
        if let Some((pid, program)) = owners.get(&entry.inode) {
            entry.pid = Some(*pid);
            entry.program.clone_from(program);
        }
    }
}

/// An address as `ss` prints it: `IP:PORT`, `[IPv6]:PORT`, `*` for port 0.
pub fn ss_address(addr: &SocketAddr) -> String {
    let ip = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    match addr.port() {
        0 => format!("{ip}:*"),
        port => format!("{ip}:{port}"),
    }
}

/// Renders entries as an aligned table: text columns left-aligned, the queue
/// columns right-aligned as `netstat` does.
pub fn table(entries: &[SocketEntry]) -> String {
    let header = [
        "Proto",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address",
        "Peer Address",
        "Process",
    ];
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.proto.to_string(),
                e.state.to_string(),
                e.recv_q.to_string(),
                e.send_q.to_string(),
                ss_address(&e.local),
                ss_address(&e.remote),
                match (e.pid, &e.program) {
                    (Some(pid), Some(name)) => format!("{pid}/{name}"),
                    (Some(pid), None) => pid.to_string(),
                    _ => "-".to_string(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let header = header.map(String::from);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push(' ');
            }
            if i == 2 || i == 3 {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &'static str, local: &str, remote: &str) -> SocketEntry {
        SocketEntry {
            proto: Proto::Tcp,
            state,
            recv_q: 408_300,
            send_q: 0,
            local: local.parse().expect("literal"),
            remote: remote.parse().expect("literal"),
            pid: Some(42),
            program: Some("socklab".into()),
            inode: 1,
        }
    }

    #[test]
    fn addresses_as_ss_prints_them() {
        assert_eq!(
            ss_address(&"0.0.0.0:0".parse().expect("literal")),
            "0.0.0.0:*"
        );
        assert_eq!(
            ss_address(&"[::1]:80".parse().expect("literal")),
            "[::1]:80"
        );
    }

    #[test]
    fn port_matches_either_end() {
        let e = entry("ESTAB", "127.0.0.1:53225", "127.0.0.1:65434");
        let by_port = |port| Filter {
            port: Some(port),
            ..Filter::default()
        };
        assert!(by_port(65434).keeps(&e));
        assert!(by_port(53225).keeps(&e));
        assert!(!by_port(1).keeps(&e));
        assert!(
            !Filter {
                listening: true,
                ..Filter::default()
            }
            .keeps(&e)
        );
        assert!(
            !Filter {
                tcp: Some(false),
                ..Filter::default()
            }
            .keeps(&e)
        );
    }

    #[test]
    fn table_is_aligned() {
        let rows = [
            entry("LISTEN", "127.0.0.1:65434", "0.0.0.0:0"),
            entry("ESTAB", "127.0.0.1:65434", "127.0.0.1:53225"),
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Proto State  Recv-Q Send-Q Local Address   Peer Address    Process"
        );
        assert_eq!(
            lines[1],
            "tcp   LISTEN 408300      0 127.0.0.1:65434 0.0.0.0:*       42/socklab"
        );
    }

    #[test]
    fn json_keys_and_address_spelling() {
        let mut e = entry("LISTEN", "[::1]:80", "[::]:0");
        e.proto = Proto::Tcp6;
        e.program = None;
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"proto":"tcp6","state":"LISTEN","recv_q":408300,"send_q":0,
                "local":"[::1]:80","remote":"[::]:0","pid":42,"program":null})
        );
    }
}
