//! `socklab http`: options in, the library called, its results shown.

use anyhow::Result;

use crate::cli::HttpServerArgs;
use crate::{http, run};

/// `http server`: binds, announces and serves until a signal.
pub async fn server(args: HttpServerArgs) -> Result<()> {
    let limits = http::Limits {
        max_header_bytes: args.max_header_bytes,
        max_headers: usize::from(args.max_headers),
        header_timeout: args.header_timeout,
        max_body_bytes: args.max_body_bytes,
    };
    run::serve(
        &args.server,
        http::DEFAULT_PORT,
        http::DEFAULT_IDLE,
        |listener, server, shutdown| {
            let options = http::Options {
                body: args.body,
                limits,
                server,
            };
            http::serve(listener, options, shutdown)
        },
    )
    .await
}
