#!/usr/bin/env bash
# socklab capture -w versus tcpdump -w on the same load: a socklab echo
# server under `socklab bench echo -c 50` for DUR seconds (after 1 s of
# warm-up), one capture at a time, filtered to the server's port. Prints the
# packets each captured, the drops each reported, and each capture's CPU
# time (utime + stime from /proc/PID/stat). Needs root; installs tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
command -v tcpdump >/dev/null || { apt-get update -qq && apt-get install -y -qq tcpdump >/dev/null; }
cargo build --release --quiet
B=target/release/socklab
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
wait_for() { for _ in $(seq 100); do grep -q "$1" "$2" && return; sleep 0.1; done; echo "no '$1' in $2" >&2; exit 1; }

$B echo server 127.0.0.1 0 >"$out/server" 2>/dev/null &
server=$!
wait_for "listening on" "$out/server"
port=$(head -1 "$out/server" | sed 's/.*://')
for tool in socklab tcpdump; do
  if [ $tool = socklab ]; then
    $B capture --port "$port" -w "$out/x.pcap" >"$out/capture" 2>&1 &
    pid=$!
    wait_for "capturing on" "$out/capture"
  else
    # -B in KiB: the same 4 MiB ring as ours (tcpdump's default is 2 MiB).
    tcpdump -i lo -B 4096 -w "$out/y.pcap" "tcp port $port" >"$out/capture" 2>&1 &
    pid=$!
    wait_for "listening on" "$out/capture"
  fi
  $B bench echo "127.0.0.1:$port" -c 50 -d "${DUR}s" --warmup 1s >"$out/bench"
  used=$(cpu $pid)
  kill -INT $pid
  wait $pid || true
  captured=$(grep -m1 "packets captured" "$out/capture" | awk '{print $1}')
  dropped=$(grep -m1 "dropped by kernel" "$out/capture" | awk '{print $1}')
  rate=$(grep -m1 "round trips per second" "$out/bench" | awk '{print $3}')
  echo "$tool: $captured packets ($((captured / (DUR + 1))) /s), $dropped dropped, CPU ${used} s over $((DUR + 1)) s, load $rate round trips/s"
done
kill -INT $server
wait $server || true
