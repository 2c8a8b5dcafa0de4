#!/usr/bin/env bash
# A/B of two chat servers: OLD and NEW socklab binaries (env), the same load
# generator (NEW) against each in turn, 3 interleaved pairs; prints
# deliveries/s and the server's CPU ticks per run.
# Usage: OLD=/tmp/socklab-old NEW=target/release/socklab bash bench/chat_ab.sh
set -u
TMP=$(mktemp -d)
: "${OLD:?set OLD to the older binary}" "${NEW:?set NEW to the newer binary}"
run() { # $1 = binary
  "$1" -q chat server 127.0.0.1 0 > "$TMP/ab.out" 2>/dev/null & PID=$!
  for i in $(seq 50); do grep -q listening "$TMP/ab.out" && break; sleep 0.1; done
  ADDR=$(head -1 "$TMP/ab.out" | awk '{print $3}')
  T0=$(awk '{print $14+$15}' /proc/$PID/stat)
  OUT=$("$NEW" bench chat "$ADDR" -c 500 --senders 5 -P 1 --ramp 1 -d 5 --warmup 1 --json 2>/dev/null)
  T1=$(awk '{print $14+$15}' /proc/$PID/stat)
  kill $PID; wait $PID 2>/dev/null
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(sys.argv[2], round(r['per_second']), 'errors', r['errors']['total'], 'completed', r['completed'], 'cpu_ticks', sys.argv[3])" "$OUT" "$(basename $1)" "$((T1-T0))"
}
for i in 1 2 3; do run "$OLD"; run "$NEW"; done
