//! socklab: every client and server of the classic socket-programming texts,
//! on one shared network layer.
//!
//! Each protocol module has the same shape: an `Options` whose `Default` is
//! the documented default, `serve(listener, options, shutdown)` for its
//! server (over any [`net::Listener`]; a `tokio::net::TcpListener` will do),
//! and typed clients that return what they received. Nothing here prints or
//! exits the process; errors are typed, logs go through `tracing`.
//!
//! ```
//! use socklab::{echo, net};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = net::bind_tcp("127.0.0.1", 0).await?;
//! let port = listener.local_addr()?.port();
//! let stop = CancellationToken::new();
//! let shutdown = stop.clone().cancelled_owned();
//! let serving = tokio::spawn(echo::serve(listener, echo::Options::default(), shutdown));
//!
//! let server_at = net::Endpoint::new("127.0.0.1", port); // .tls = Some(..) for TLS
//! let echoed = echo::client(&server_at, b"Hello, world").await?;
//! assert_eq!(echoed, b"Hello, world");
//!
//! stop.cancel(); // in-flight exchanges finish within the grace period
//! serving.await??;
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod bench;
pub mod capture;
pub mod chat;
pub mod diag;
pub mod echo;
pub mod fixed;
pub mod hello;
pub mod http;
pub mod lookup;
pub mod net;
pub mod proxy;
pub mod relay;
pub mod tls;
pub mod udp;
pub mod upper;
