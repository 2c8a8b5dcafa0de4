//! The `Options` and `serve` of a protocol whose server needs nothing but the
//! accept loop's options (echo, upper, fixed, hello): one definition, so the
//! four stay alike and `socklab`'s `serve_plain!` can run any of them.

/// Defines `Options { server }` (its `Default` with the protocol's idle
/// timeout) and `serve(listener, options, shutdown)` running `handler` on
/// every connection.
macro_rules! plain_server {
    ($name:literal, $idle:expr, $handler:expr) => {
        #[doc = concat!("What a ", $name, " server is run with.")]
        #[derive(Debug, Clone)]
        pub struct Options {
            /// Limits and timeouts of the accept loop.
            pub server: $crate::net::ServerOptions,
        }

        impl Default for Options {
            fn default() -> Self {
                Self {
                    server: $crate::net::ServerOptions::with_idle($idle),
                }
            }
        }

        #[doc = concat!("Serves ", $name, " on `listener` until `shutdown` resolves.")]
        pub async fn serve(
            listener: impl $crate::net::IntoListener,
            options: Options,
            shutdown: impl ::std::future::Future<Output = ()>,
        ) -> ::std::io::Result<()> {
            $crate::net::serve(listener, options.server, shutdown, $handler).await
        }
    };
}

pub(crate) use plain_server;
