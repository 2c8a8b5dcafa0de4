//! TLS for every TCP role: rustls (ring provider, TLS 1.2 and 1.3) through
//! tokio-rustls, a development certificate that works the first time, pins
//! in curl's form, and errors that name the mistake.
//!
//! A server wraps each accepted stream with [`ServerTls::accept`], a client
//! its connected stream with [`ClientTls::connect`]; everything above speaks
//! to the returned stream as to a plain one.
//!
//! ```
//! use socklab::tls::{ClientOptions, ClientTls, DevStore, ServerTls};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let server = ServerTls::development(&DevStore::new(dir.path()), &[], None)?;
//! let client = ClientTls::new(&ClientOptions {
//!     pin: Some(*server.pin()), // as printed by `listening on`'s next line
//!     ..ClientOptions::default()
//! })?;
//! let (ours, theirs) = tokio::io::duplex(16 * 1024);
//! let (accepted, connected) = tokio::join!(server.accept(theirs), client.connect(ours, "localhost"));
//! accepted?;
//! connected?;
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod files;
mod info;
mod pin;
mod server;
mod store;
mod verify;

pub use client::{ClientOptions, ClientTls};
pub use error::{Side, TlsError};
pub use files::{read_certs, read_key, read_roots};
pub use info::{CertInfo, San, SanError};
pub use pin::{Pin, PinError};
pub use server::ServerTls;
pub(crate) use server::tell_stalled;
pub use store::{DATA_DIR_ENV, DEFAULT_SANS, DevCert, DevStore};

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

/// How long a peer may take over its handshake (a slowloris guard).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The one crypto provider, ring, named explicitly so that no process-wide
/// default has to be installed.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
