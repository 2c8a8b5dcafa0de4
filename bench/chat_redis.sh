#!/usr/bin/env bash
# Issue 15's benchmark: one chat room over several nodes joined by Redis.
#
# Starts its own redis-server on a free loopback port (no persistence), then,
# RUNS times, interleaved (every row once per run, so a noisy neighbour hurts
# all rows alike), each row on fresh nodes:
#   socklab   3 nodes x 300 clients   chat server --redis, bench chat A,B,C
#   socklab   1 node  x 900 clients   chat server --redis, bench chat A
#   socket.io 3 nodes x 300 clients   bench/anchors/socketio (sharded adapter)
#   socket.io 1 node  x 900 clients
#   socklab   1 node  x 900 clients   solo: no Redis (today's single room)
# with SENDERS senders, PIPELINE lines in flight each, WARMUP s + DUR s.
# Measured per run: deliveries/s, p50/p99 latency (from the load's JSON), the
# CPU time (utime + stime, /proc/PID/stat) of every node and of redis-server
# before and after the load, each per delivery in µs, the verification
# result, and the clients each node really had (its established connections,
# counted with ss in the middle of the window). Prints one line per run and a
# markdown table of medians.
#
# CPU per delivery = CPU over the whole load (connects and sync included) /
# (deliveries/s x (WARMUP + DUR)): one method for every row, since neither
# load reports deliveries outside its window. The socket.io load also
# samples the CPU over its window alone; that figure is shown per run as
# "window" for comparison.
#
# If this socklab has no `chat server --redis` yet, its --redis rows say so
# and are skipped; the solo row runs on any socklab.
#
# Usage: SOCKLAB=target/release/socklab [RUNS=3] [DUR=10] [WARMUP=1]
#        [SENDERS=5] [PIPELINE=1] [SIZE=64] bash bench/chat_redis.sh
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SIO=$HERE/anchors/socketio
SOCKLAB=${SOCKLAB:-target/release/socklab}
RUNS=${RUNS:-3}
DUR=${DUR:-10}
WARMUP=${WARMUP:-1}
SENDERS=${SENDERS:-5}
PIPELINE=${PIPELINE:-1}
SIZE=${SIZE:-64}
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

die() { echo "error: $*" >&2; exit 1; }

[ -x "$SOCKLAB" ] || die "SOCKLAB=$SOCKLAB is not an executable (build it: cargo build --release)"
command -v redis-server > /dev/null || die "redis-server is missing (apt-get install redis-server)"
command -v node > /dev/null || die "node is missing"

# 900 clients in one load process and 900 connections on one node need more
# than the usual 1024 descriptors: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || die "open files limited to $(ulimit -n); 900 clients need 4096"

if [ ! -d "$SIO/node_modules" ]; then
  (cd "$SIO" && npm ci --no-audit --no-fund > "$TMP/npm.log" 2>&1) || die "npm ci failed: $(tail -3 "$TMP/npm.log")"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of the given PIDs, in clock ticks (the command name may hold
# spaces: count the fields after its ')').
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    read -r -a fields <<< "$(sed 's/.*) //' "/proc/$pid/stat")"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# Starts a server (the command line), waits for its `listening on ADDR`
# line; sets STARTED_PID and STARTED_ADDR.
start_server() {
  local out="$TMP/server.$RANDOM" i
  "$@" > "$out" 2> "$out.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 200); do
    if grep -q '^listening on ' "$out"; then
      STARTED_ADDR=$(grep -m1 -o '^listening on [^ ]*' "$out" | awk '{print $3}')
      return 0
    fi
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 0.05
  done
  die "server did not start: $* ($(tail -2 "$out.err"))"
}

stop_servers() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# Redis, ours, on a free loopback port.
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --maxclients 10000 > "$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for i in $(seq 100); do
  [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
  kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server did not start: $(tail -2 "$TMP/redis.log")"
  sleep 0.05
done
[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] || die "redis-server does not answer on $REDIS_PORT"
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

HAS_REDIS=no
"$SOCKLAB" chat server --help 2>/dev/null | grep -q -- '--redis' && HAS_REDIS=yes

# The clients each node has, counted in the middle of the measured window.
count_clients() { # $1 = output file, then the node addresses
  local out=$1 addr port counts=()
  shift
  sleep "$(python3 -c "print($WARMUP + $DUR / 2)")"
  for addr in "$@"; do
    port=${addr##*:}
    counts+=("$(ss -Htn state established "( sport = :$port )" | wc -l)")
  done
  (IFS=/; echo "${counts[*]}") > "$out"
}

# One row, one run: $1 = system (socklab, socklab-solo, socket.io),
# $2 = nodes, $3 = clients in all, $4 = run number. Appends to $TMP/runs.
run_row() {
  local system=$1 nodes=$2 clients=$3 run=$4 room="bench-$4-$1-$2" pids=() addrs=() n
  local label="$system $nodes x $((clients / nodes))"
  if [ "$system" = socklab ] && [ "$HAS_REDIS" = no ]; then
    printf '%s\t%s\t%s\n' "$label" "$run" '{"skipped": "this socklab has no chat server --redis"}' >> "$TMP/runs"
    return
  fi
  for n in $(seq "$nodes"); do
    case $system in
      socklab) start_server "$SOCKLAB" -q chat server 127.0.0.1 0 --redis "$REDIS_URL" --room "$room" --node-id "n$n" ;;
      socklab-solo) start_server "$SOCKLAB" -q chat server 127.0.0.1 0 ;;
      socket.io) start_server node "$SIO/server.js" 0 "$REDIS_URL" "$room" ;;
    esac
    pids+=("$STARTED_PID")
    addrs+=("$STARTED_ADDR")
  done
  local list
  list=$(IFS=,; echo "${addrs[*]}")
  count_clients "$TMP/spread" "${addrs[@]}" &
  local counter=$!
  local cpu0 redis0 cpu1 redis1 status=0
  cpu0=$(cpu_ticks "${pids[@]}")
  redis0=$(cpu_ticks "$REDIS_PID")
  case $system in
    socket.io)
      timeout $((DUR + WARMUP + 120)) node "$SIO/load.js" "$list" -c "$clients" --senders "$SENDERS" \
        -P "$PIPELINE" -s "$SIZE" -d "$DUR" --warmup "$WARMUP" \
        --pids "$(IFS=,; echo "${pids[*]}")" --redis-pid "$REDIS_PID" > "$TMP/load.json" 2> "$TMP/load.err" || status=$?
      ;;
    *)
      timeout $((DUR + WARMUP + 120)) "$SOCKLAB" bench chat "$list" -c "$clients" --senders "$SENDERS" \
        -P "$PIPELINE" -s "$SIZE" -d "$DUR" --warmup "$WARMUP" --json > "$TMP/load.json" 2> "$TMP/load.err" || status=$?
      ;;
  esac
  cpu1=$(cpu_ticks "${pids[@]}")
  redis1=$(cpu_ticks "$REDIS_PID")
  wait "$counter" 2>/dev/null || true
  stop_servers "${pids[@]}"
  python3 - "$TMP/load.json" "$TMP/load.err" "$status" "$((cpu1 - cpu0))" "$((redis1 - redis0))" \
    "$(getconf CLK_TCK)" "$WARMUP" "$DUR" "$(cat "$TMP/spread" 2>/dev/null || echo '?')" <<'EOF' |
import json, sys
path, err, status, cpu, redis, tck, warmup, dur, spread = sys.argv[1:]
text = open(path).read().strip()
row = {"status": int(status), "spread": spread}
try:
    r = json.loads(text.splitlines()[-1])
except (ValueError, IndexError):
    why = (open(err).read().strip().splitlines() or ["no output"])[-1]
    row["error"] = why[:160]
    print(json.dumps(row))
    sys.exit()
rate = r.get("per_second") or 0
deliveries = rate * (float(warmup) + float(dur))
us = lambda ticks: int(ticks) * 1e6 / int(tck) / deliveries if deliveries else None
lat = r.get("latency_ms") or {}
row.update(rate=rate, p50=lat.get("p50"), p99=lat.get("p99"), server_us=us(cpu), redis_us=us(redis))
if r.get("system") == "socket.io":
    v = r.get("verify") or {}
    row["window_us"] = r.get("server_cpu_us_per_delivery")
    row["once"] = "yes" if v.get("every_line_exactly_once") else f"no ({v.get('missing')} missing, {v.get('duplicates')} repeated)"
    row["order"] = ("same for all" if v.get("same_order")
                    else f"{v.get('distinct_orders')} orders, {v.get('clients_disagreeing')} clients disagree")
else:
    # socklab bench: a failed verification exits non-zero with first_error;
    # the order check's key is whatever names it ("order...").
    errors = (r.get("errors") or {}).get("total", 0)
    row["once"] = "yes" if int(status) == 0 and errors == 0 else f"no: {str(r.get('first_error'))[:80]}"
    order = [f"{k}: {v}" for k, v in r.items() if "order" in k.lower()]
    row["order"] = "; ".join(order)[:80] if order else "not reported by this bench"
if r.get("first_error"):
    row["first_error"] = str(r["first_error"])[:160]
print(json.dumps(row))
EOF
    { IFS= read -r line; printf '%s\t%s\t%s\n' "$label" "$run" "$line" >> "$TMP/runs"; }
  tail -1 "$TMP/runs" | cut -f1,3 | sed "s/^/run $run: /"
}

echo "redis-server $(redis-server --version | grep -o 'v=[^ ]*') on 127.0.0.1:$REDIS_PORT;" \
  "socklab --redis: $HAS_REDIS; $SENDERS senders x $PIPELINE in flight, ${SIZE} B lines," \
  "${WARMUP}s + ${DUR}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$TMP/runs"
for run in $(seq "$RUNS"); do
  run_row socklab 3 900 "$run"
  run_row socklab 1 900 "$run"
  run_row socket.io 3 900 "$run"
  run_row socket.io 1 900 "$run"
  run_row socklab-solo 1 900 "$run"
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 - "$TMP/runs" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, run, data = line.rstrip("\n").split("\t", 2)
    rows.setdefault(label, []).append(json.loads(data))
def med(runs, key, fmt):
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return fmt.format(statistics.median(values)) if values else "-"
def same(runs, key):
    values = sorted({str(r.get(key, r.get("error", r.get("skipped", "-")))) for r in runs})
    return " / ".join(values)
print("| system | nodes x clients | deliveries/s | p50 ms | p99 ms | server CPU µs/delivery | Redis CPU µs/delivery | clients per node | every line once | order | runs |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for label, runs in rows.items():
    system, shape = label.split(" ", 1)
    if all("skipped" in r for r in runs):
        print(f"| {system} | {shape} | {runs[0]['skipped']} | | | | | | | | |")
        continue
    ok = [r for r in runs if "rate" in r]
    print(f"| {system} | {shape} | {med(ok, 'rate', '{:,.0f}')} | {med(ok, 'p50', '{:.2f}')} | {med(ok, 'p99', '{:.2f}')} "
          f"| {med(ok, 'server_us', '{:.2f}')} | {med(ok, 'redis_us', '{:.3f}')} | {same(runs, 'spread')} "
          f"| {same(runs, 'once')} | {same(runs, 'order')} | {len(ok)}/{len(runs)} |")
EOF
