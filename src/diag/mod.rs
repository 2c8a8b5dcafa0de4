//! The texts' troubleshooting tools: a socket table (`netstat`/`ss`/`lsof`),
//! the stall pair that fills a connection's kernel queues (app-server-test.py
//! and app-client-test.py), and ICMP echo (`ping`).

mod backlog;
pub mod icmp;
pub mod ping;
pub mod sockets;
pub mod stall;
