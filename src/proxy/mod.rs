//! proxy: a relay that injects faults, with toxiproxy's TCP toxics and
//! netem's UDP faults, driven from the command line or toxiproxy's HTTP API.
//!
//! ```text
//! client ──▶ LISTEN ──(upstream toxics)──▶ UPSTREAM server
//! client ◀── LISTEN ◀──(downstream toxics)── UPSTREAM server
//! ```
//! Toxics act on live traffic and every buffer stays bounded: a bandwidth
//! or latency toxic holds its direction's reads back, so the sender is
//! pushed back by TCP instead of the stream queueing in the proxy.

pub mod api;
pub mod netem;
pub mod registry;
mod splice;
pub mod stage;
pub mod tcp;
pub mod toxic;
pub mod udp;

pub use registry::{ApiError, Defaults, ProxyConfig, ProxyView, Registry};
pub use stage::{ToxicStage, Toxics};
pub use toxic::{Direction, Kind, Toxic, ToxicError};
