//! The tracing subscriber: stderr, `-v`/`-q`, `RUST_LOG`, and `--trace`.

use tracing_subscriber::EnvFilter;

use socklab::net::WIRE_TARGET;

/// Installs the global subscriber; call once, from `main`.
pub fn init(verbose: u8, quiet: u8, trace: bool) {
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (_, 0) => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    // rustls logs its side of a failed handshake, which our one line already
    // names: its own words only with -vv or RUST_LOG.
    let ours = if verbose >= 2 {
        level.to_string()
    } else {
        format!("{level},rustls=error")
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(ours));
    if trace && let Ok(directive) = format!("{WIRE_TARGET}=trace").parse() {
        filter = filter.add_directive(directive);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}
