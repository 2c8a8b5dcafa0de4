#!/usr/bin/env bash
# socklab proxy (no toxics) against a direct connection and against
# `socat TCP-LISTEN:...,fork TCP:...`, on loopback:
#   bulk     iperf3 throughput, direct / socklab proxy / socat (medians of RUNS, interleaved)
#   latency  one-byte round trips to an echo server: p50 and p99 added by each relay
#   conns    RSS per proxied connection with N idle connections open (socklab bench idle)
#
#   bench/proxy.sh                   # RUNS=3 DUR=5 N=10000
#   RUNS=5 DUR=5 bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DUR=${DUR:-5}
# Each proxied connection holds two sockets in the proxy: 10,000 of them
# need more than a 20,000-descriptor cap allows, so N stays under it.
fd_cap=$(ulimit -Hn)
case $fd_cap in
  unlimited) fit=10000 ;;
  *) fit=$(( fd_cap > 20100 ? 10000 : (fd_cap - 50) / 2 )) ;;
esac
N=${N:-$fit}
for cmd in iperf3 socat python3; do
  command -v "$cmd" >/dev/null || { echo "$cmd is needed (apt-get install $cmd)" >&2; exit 1; }
done
cargo build --release -q
BIN=target/release/socklab
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# A free loopback port (for the programs that cannot report theirs).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts socklab with $@ in the background; sets PORT (from its `listening
# on` line) and PID. Not in $(...): the pid must reach the cleanup's list.
start_socklab() {
  local out; out=$(mktemp)
  "$BIN" -q "$@" >"$out" 2>/dev/null &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.05; done
  PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
}
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

IPERF=$(free_port)
iperf3 -s -p "$IPERF" -D >/dev/null 2>&1; sleep 0.3
pids+=("$(pgrep -n -f "iperf3 -s -p $IPERF")")
start_socklab proxy 127.0.0.1:0 "127.0.0.1:$IPERF"; PROXY=$PORT
SOCAT=$(free_port)
socat "TCP-LISTEN:$SOCAT,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$IPERF" & pids+=($!)
wait_port "$SOCAT"

# iperf3's server takes one test at a time and may still be closing the last
# one: a "busy" answer is tried again.
gbits() {
  for _ in 1 2 3 4 5; do
    iperf3 -c 127.0.0.1 -p "$1" -t "$DUR" -J | python3 -c '
import json, sys
r = json.load(sys.stdin)
if "error" in r: sys.exit(r["error"])
print(r["end"]["sum_received"]["bits_per_second"] / 1e9)' && return
    sleep 1
  done
  return 1
}
: >/tmp/proxy_bench_direct; : >/tmp/proxy_bench_socklab; : >/tmp/proxy_bench_socat
for _ in $(seq "$RUNS"); do
  gbits "$IPERF" >>/tmp/proxy_bench_direct
  gbits "$PROXY" >>/tmp/proxy_bench_socklab
  gbits "$SOCAT" >>/tmp/proxy_bench_socat
done
d=$(median </tmp/proxy_bench_direct); s=$(median </tmp/proxy_bench_socklab); c=$(median </tmp/proxy_bench_socat)
echo "bulk (iperf3, Gbit/s, median of $RUNS x ${DUR}s): direct $d, socklab proxy $s, socat fork $c"
python3 -c "print(f'  socklab/direct {$s/$d:.2f}x (goal >= 0.8), socklab/socat {$s/$c:.2f}x (goal >= 1.5)')"

# Round trips of one byte to an echo server, direct and through each relay.
start_socklab echo server 127.0.0.1 0; ECHO=$PORT
start_socklab proxy 127.0.0.1:0 "127.0.0.1:$ECHO"; EPROXY=$PORT; EPROXY_PID=$PID
ESOCAT=$(free_port)
socat "TCP-LISTEN:$ESOCAT,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$ECHO" & pids+=($!)
wait_port "$ESOCAT"
python3 - "$ECHO" "$EPROXY" "$ESOCAT" <<'PY'
import socket, sys, time
def rtts(port, n=5000):
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    for _ in range(n):
        t = time.perf_counter(); s.sendall(b"x"); s.recv(1); out.append((time.perf_counter() - t) * 1e6)
    s.close(); out.sort(); return out[len(out) // 2], out[int(len(out) * 0.99)]
direct, ours, socat = (rtts(int(p)) for p in sys.argv[1:])
print(f"round trip (us, 5000 one-byte echoes): direct p50 {direct[0]:.0f} p99 {direct[1]:.0f}")
for name, (p50, p99) in (("socklab proxy", ours), ("socat fork", socat)):
    print(f"  {name}: p50 {p50:.0f} p99 {p99:.0f}, added p50 {p50 - direct[0]:.0f} p99 {p99 - direct[1]:.0f}")
PY

# Idle proxied connections: the proxy's RSS per connection (each holds its
# client's and its upstream's socket).
per=$("$BIN" bench idle "127.0.0.1:$EPROXY" --conns "$N" --step "$N" --server-pid "$EPROXY_PID" --json |
  python3 -c 'import json, sys; print(round(json.load(sys.stdin)["steps"][-1]["rss_per_conn_bytes"]))')
echo "connections: $N idle through the proxy (open-files cap $fd_cap), RSS $per bytes per connection"
