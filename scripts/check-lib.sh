#!/usr/bin/env bash
# The library checks of SPEC §13: the crate builds without its command line,
# then depends on none of the command line's crates, and its docs build clean.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo check --lib --no-default-features --quiet
tree=$(cargo tree --no-default-features -e normal --prefix none --format '{p}')
cli_only=$(grep -E '^(clap|clap_builder|clap_derive|indicatif|tracing-subscriber|anyhow) ' <<<"$tree" || true)
if [ -n "$cli_only" ]; then
  echo "the library without default features still depends on:" >&2
  echo "$cli_only" >&2
  exit 1
fi
# The library's documentation (its intra-doc links above all) stays whole.
RUSTDOCFLAGS=-Dwarnings cargo doc --lib --no-deps --no-default-features --quiet
echo "library checks: builds without default features; no clap, indicatif, tracing-subscriber or anyhow; docs without warnings"
