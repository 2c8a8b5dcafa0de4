//! What the binary does with a parsed command: turns the command line's
//! options into the library's, calls it, and renders what it returns as the
//! texts' lines. (Moves into the binary crate with `cli` once no library
//! module needs either.)

pub mod app;
pub mod bench;
pub mod capture;
pub mod cert;
pub mod chat;
pub mod connect;
pub mod diag;
mod dump;
pub mod echo;
pub mod fixed;
pub mod hello;
pub mod http;
pub mod listen;
pub mod lookup;
pub mod proxy;
pub mod udp;
pub mod upper;
