//! socklab: every client and server of the classic socket-programming texts,
//! on one shared network layer.

pub mod chat;
pub mod cli;
pub mod echo;
pub mod fixed;
pub mod hello;
pub mod logging;
pub mod net;
pub mod run;
pub mod tour;
pub mod upper;
