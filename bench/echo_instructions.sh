#!/usr/bin/env bash
# User-space instructions per echo round trip, ours against the tokio echo
# anchor, counted by callgrind: steadier than CPU time on a shared machine
# (hardware counters are not available in these VMs). Each server runs twice
# under callgrind, for LOW and HIGH round trips on CONNS connections; the
# difference divided by the extra round trips leaves out start-up.
#
#   bench/echo_instructions.sh                # sizes 64 and 16384
#   SIZES=64 CONNS=10 bench/echo_instructions.sh
#   OURS_ARGS="--idle-timeout 0" bench/echo_instructions.sh   # without the idle timer
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"64 16384"}
CONNS=${CONNS:-10}
LOW=${LOW:-200}
HIGH=${HIGH:-1200}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q
(cd bench/anchors/tokio-echo && cargo build --release -q)
# shellcheck disable=SC2206 # OURS_ARGS is split into words on purpose
OURS=(target/release/socklab -q echo server 127.0.0.1 0 ${OURS_ARGS:-})
ANCHOR=(bench/anchors/tokio-echo/target/release/tokio-echo-anchor 127.0.0.1:0)
# shellcheck source=bench/callgrind.sh
. bench/callgrind.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Prints the instructions counted while `round_trips N SIZE` ran against $@.
counted() {
  local n=$1 size=$2; shift 2
  callgrind_start "$TMP" "$@"
  python3 - "$CG_PORT" "$n" "$size" "$CONNS" <<'PY'
import socket, sys
port, n, size, conns = (int(a) for a in sys.argv[1:])
msg = bytes(i % 251 for i in range(size))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
for s in socks:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(n):
    for s in socks:
        s.sendall(msg)
    for s in socks:
        got = b""
        while len(got) < size:
            chunk = s.recv(size - len(got))
            if not chunk:
                sys.exit("the server closed")
            got += chunk
        assert got == msg
PY
  callgrind_stop "$TMP"
}

for size in $SIZES; do
  for who in anchor ours; do
    if [ "$who" = anchor ]; then cmd=("${ANCHOR[@]}"); else cmd=("${OURS[@]}"); fi
    low=$(counted "$LOW" "$size" "${cmd[@]}")
    high=$(counted "$HIGH" "$size" "${cmd[@]}")
    echo "$size B, $who: $(( (high - low) / ((HIGH - LOW) * CONNS) )) instructions per round trip"
  done
done
