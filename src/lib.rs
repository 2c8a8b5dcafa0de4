//! socklab: every client and server of the classic socket-programming texts,
//! on one shared network layer.

pub mod app;
pub mod bench;
pub mod chat;
pub mod cli;
pub mod cmd;
pub mod diag;
pub mod echo;
pub mod fixed;
pub mod hello;
pub mod http;
pub mod logging;
pub mod lookup;
pub mod net;
pub mod run;
pub mod tour;
pub mod udp;
pub mod upper;
