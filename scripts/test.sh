#!/usr/bin/env bash
# Runs the whole test suite, first installing the real peers the tests talk to
# (nc, ncat, socat, curl, wrk, openssl, python3, ip, ping, tcpdump, setpriv, the
# services database, redis-server, iperf3).
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A needs=(
  [nc]=netcat-openbsd [ncat]=ncat [socat]=socat [curl]=curl [wrk]=wrk [openssl]=openssl
  [python3]=python3 [ip]=iproute2 [ping]=iputils-ping [ss]=iproute2
  [tcpdump]=tcpdump [setpriv]=util-linux [redis-server]=redis-server [iperf3]=iperf3
)
# tests/bench.rs renders a --plot SVG with rsvg-convert.
needs[rsvg-convert]=librsvg2-bin
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
[ -f /etc/services ] || missing+=(netbase)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test peers: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# tests/bench.rs checks the latency spectrum with HdrHistogram's Python
# implementation (module hdrh); it skips, saying so, when pip cannot install it.
python3 -c 'import hdrh' 2>/dev/null ||
  python3 -m pip install -q hdrhistogram 2>/dev/null ||
  echo "warning: could not pip-install hdrhistogram; the spectrum test will skip"

# tests/examples.rs runs the examples as programs: build them as such first
# (`--all-targets` builds them as test harnesses, under other names).
cargo build --examples
cargo test --all-targets "$@"
cargo test --doc "$@"
