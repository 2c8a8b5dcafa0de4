#!/usr/bin/env bash
# Runs the real `socklab udp client` RUNS times against one `udp server --drop P`
# and compares the success rate and mean tries with what P predicts for six
# tries: success 1 - P^6, mean tries (1 - P^6) / (1 - P).
# Usage: bench/udp_drop.sh [RUNS=200] [P=0.7] [SEED=1]   (loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200} p=${2:-0.7} seed=${3:-1}
cargo build -q
bin=target/debug/socklab
out=$(mktemp)
"$bin" -q udp server 127.0.0.1 0 --drop "$p" --seed "$seed" >"$out" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
until [ -s "$out" ]; do sleep 0.05; done
port=$(head -1 "$out" | sed 's/.*://')
ok=0 tries=0
for _ in $(seq "$runs"); do
  # Waits of 5, 10 … 160 ms: the texts' six tries, 20 times faster.
  if lines=$("$bin" -q udp client 127.0.0.1 "$port" --start 5ms --max-wait 160ms 2>/dev/null); then
    ok=$((ok + 1))
  fi
  tries=$((tries + $(grep -c '^Waiting up to' <<<"$lines")))
done
awk -v runs="$runs" -v ok="$ok" -v tries="$tries" -v p="$p" 'BEGIN {
  q = p ^ 6
  printf "%d runs, P=%s: success %.3f (predicted %.3f), mean tries %.2f (predicted %.2f)\n",
    runs, p, ok / runs, 1 - q, tries / runs, (1 - q) / (1 - p)
}'
