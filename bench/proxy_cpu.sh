#!/usr/bin/env bash
# Where the CPU goes when iperf3 runs direct and through `socklab proxy` (no
# toxics): CPU seconds per GB moved for iperf3's client, the proxy and
# iperf3's server, the machine's idle share, and the throughput the proxied
# path could reach with every core busy at that cost per GB.
#
#   bench/proxy_cpu.sh              # RUNS=3 DUR=4
#   PIN=1 bench/proxy_cpu.sh        # iperf3 on CPU 0, the proxy on CPU 1
#
# PIN=1 gives iperf3's client and server the same one core in both runs and
# the proxy a core of its own, as a proxy on its own host or spare core would
# have: the ratio then shows what the proxy costs the stream, not what it
# takes from a load generator it shares two cores with.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DUR=${DUR:-4}
PIN=${PIN:-0}
LOAD=(); ALONE=()
if [ "$PIN" = 1 ]; then LOAD=(taskset -c 0); ALONE=(taskset -c 1); fi
for cmd in iperf3 python3 taskset; do
  command -v "$cmd" >/dev/null || { echo "$cmd is needed (apt-get install $cmd)" >&2; exit 1; }
done
cargo build --release -q
BIN=target/release/socklab
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IPERF=$(free_port)
${LOAD[@]+"${LOAD[@]}"} iperf3 -s -B 127.0.0.1 -p "$IPERF" >/dev/null 2>&1 &
SERVER=$!; pids+=("$SERVER")
${ALONE[@]+"${ALONE[@]}"} "$BIN" -q proxy 127.0.0.1:0 "127.0.0.1:$IPERF" >"$TMP/proxy" 2>/dev/null &
PROXY=$!; pids+=("$PROXY")
for _ in $(seq 100); do grep -q '^listening on' "$TMP/proxy" && break; sleep 0.05; done
PPORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$TMP/proxy" | head -1)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$IPERF") 2>/dev/null && break; sleep 0.05; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# All CPUs' busy and idle ticks.
machine() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; }
hz=$(getconf CLK_TCK)
cores=$(nproc)

# run PORT: one iperf3 test; prints "Gbit/s client_s proxy_s server_s busy idle".
run() {
  local p1 s1 p2 s2 b1 i1 b2 i2 gbits
  p1=$(ticks "$PROXY"); s1=$(ticks "$SERVER"); read -r b1 i1 < <(machine)
  # bash's own `time`: the client's user and system seconds.
  local TIMEFORMAT='%U %S'
  { time ${LOAD[@]+"${LOAD[@]}"} iperf3 -c 127.0.0.1 -p "$1" -t "$DUR" -J >"$TMP/json" 2>/dev/null; } 2>"$TMP/client"
  p2=$(ticks "$PROXY"); s2=$(ticks "$SERVER"); read -r b2 i2 < <(machine)
  gbits=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9)' "$TMP/json")
  echo "$gbits $(awk '{print $1 + $2}' "$TMP/client") $(( p2 - p1 )) $(( s2 - s1 )) $(( b2 - b1 )) $(( i2 - i1 ))"
}

: >"$TMP/direct"; : >"$TMP/proxied"
for _ in $(seq "$RUNS"); do
  run "$IPERF" >>"$TMP/direct"
  run "$PPORT" >>"$TMP/proxied"
done
python3 - "$TMP/direct" "$TMP/proxied" "$hz" "$cores" "$DUR" "$PIN" <<'PY'
import statistics, sys
hz, cores, dur, pinned = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == "1"
def summary(path):
    rows = [list(map(float, line.split())) for line in open(path)]
    out = []
    for gbits, client, proxy, server, busy, idle in rows:
        gb = gbits * dur / 8
        out.append((gbits, client / gb, proxy / hz / gb, server / hz / gb, idle / (busy + idle)))
    return [statistics.median(col) for col in zip(*out)]
d, p = summary(sys.argv[1]), summary(sys.argv[2])
for name, (gbits, c, x, s, idle) in (("direct", d), ("proxied", p)):
    print(f"{name:8} {gbits:6.2f} Gbit/s  CPU s per GB: client {c:.3f} proxy {x:.3f} server {s:.3f}"
          f" = {c + x + s:.3f}; machine idle {idle:.0%}")
if pinned:
    print(f"proxied/direct {p[0] / d[0]:.2f}x; iperf3 pinned to CPU 0, the proxy to CPU 1")
    sys.exit()
ceiling = cores / (p[1] + p[2] + p[3]) * 8
print(f"proxied/direct {p[0] / d[0]:.2f}x; with all {cores} cores busy at the proxied cost per GB:"
      f" {ceiling:.1f} Gbit/s = {ceiling / d[0]:.2f}x direct")
PY
