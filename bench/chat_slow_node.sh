#!/usr/bin/env bash
# Issue 15, must show 4: a client that stops reading on one node of a shared
# room is that node's problem only. Three `chat server --redis` nodes on a
# redis-server of our own; `bench chat` loads nodes b and c; node a holds a
# client that never reads (kept there with a large --max-queue, so node a
# keeps queueing for it the whole run). Runs with and without it, interleaved.
#
#   RUNS=3 DUR=5 CONNS=600 SENDERS=5 PIPELINE=16 bash bench/chat_slow_node.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKLAB=${SOCKLAB:-target/release/socklab}
RUNS=${RUNS:-3} DUR=${DUR:-5} CONNS=${CONNS:-600} SENDERS=${SENDERS:-5} PIPELINE=${PIPELINE:-16}
ulimit -n 20000
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done

declare -A port pid_of
for n in a b c; do
  port[$n]=$(free_port)
  "$SOCKLAB" chat server 127.0.0.1 "${port[$n]}" --redis "redis://127.0.0.1:$rport" \
    --room slow --node-id "$n" --max-queue $((64 << 20)) >"$work/$n.log" 2>&1 &
  pids+=($!)
  pid_of[$n]=$!
done
for n in a b c; do until grep -q "^listening on" "$work/$n.log"; do sleep 0.05; done; done

stalled() {  # a client of node a that connects and never reads, until killed
  python3 - "${port[a]}" >/dev/null 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
time.sleep(3600)
PY
  # (its output must not hold the $(...) that reads this pid open)
  echo $!
}

run() {  # $1: label
  "$SOCKLAB" bench chat "127.0.0.1:${port[b]},127.0.0.1:${port[c]}" -c "$CONNS" --senders "$SENDERS" \
    -P "$PIPELINE" -d "$DUR" --ramp 1 --json >"$work/run.json"
  python3 - "$1" "$work/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
lat = r["latency_ms"]
print(f"{sys.argv[1]:<22} {r['per_second']:>12,.0f} deliveries/s  p50 {lat['p50']:.2f} ms  p99 {lat['p99']:.2f} ms"
      f"  errors {r['errors']['total']}  order: {r['order']}")
PY
}

for i in $(seq "$RUNS"); do
  run "no slow client"
  pid=$(stalled); sleep 0.2
  run "slow client on node a"
  echo "  node a RSS with the unread queue: $(($(ps -o rss= -p "${pid_of[a]}") / 1024)) MiB"
  kill "$pid" 2>/dev/null || true
done
echo "node a's log: $(grep -c 'too slow' "$work/a.log" || true) drops"
