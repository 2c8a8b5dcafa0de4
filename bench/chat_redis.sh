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
# with SENDERS senders, WARMUP s + DUR s, at each PIPELINE (lines in flight
# per sender): 1, the shape of bench/compare.sh's chat row, where each line
# must reach all clients before the next (latency-bound: every delivery is
# its own write), and 16, a throughput shape where writes batch; the
# figures issue 15 quotes (socket.io ~110k deliveries/s and 8 µs, socklab
# 0.2 µs per delivery) are close to what the second shape gives here.
# Measured per run: deliveries/s, p50/p99 latency (from the load's JSON), the
# CPU time (utime + stime, /proc/PID/stat) of every node and of redis-server
# before and after the load, each per delivery in µs, the verification
# result, and the clients each node really had (its established connections
# at the busiest moment), and the load generator's own
# CPU (cores, from /usr/bin/time: near 1 means the load set the pace, not
# the servers). Prints one line per run and a markdown table of medians.
#
# CPU per delivery, one method for every row (neither load reports its
# deliveries outside its measured window): a sampler reads the ticks of the
# nodes and of redis-server every 50 ms; the CPU over the DUR seconds that
# end before the load exits by its drain of the lines in flight (reported by
# socket.io's load; socklab's is at most its max latency) plus TAIL (0.3 s:
# reporting, closing, exiting), divided by deliveries/s x DUR. The before/after figure over the whole load
# (connects, join notices, sync, warm-up included) / (deliveries/s x
# (WARMUP + DUR)) is shown too; the socket.io load's own in-window figure is
# in each run's line as load_window_us, a check of the sampler's window.
#
# If this socklab has no `chat server --redis` yet, its --redis rows say so
# and are skipped; the solo row runs on any socklab.
#
# Usage: SOCKLAB=target/release/socklab [RUNS=3] [DUR=10] [WARMUP=1]
#        [SENDERS=5] [PIPELINE="1 16"] [SIZE=64] [TAIL=0.3] [KEEP=1: keep the work dir]
#        [ROWS="socklab-3 socklab-1 socket.io-3 socket.io-1 solo"] bash bench/chat_redis.sh
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SIO=$HERE/anchors/socketio
SOCKLAB=${SOCKLAB:-target/release/socklab}
RUNS=${RUNS:-3}
DUR=${DUR:-10}
WARMUP=${WARMUP:-1}
SENDERS=${SENDERS:-5}
PIPELINE=${PIPELINE:-1 16}
SIZE=${SIZE:-64}
TAIL=${TAIL:-0.3}
ROWS=${ROWS:-socklab-3 socklab-1 socket.io-3 socket.io-1 solo}
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
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

# In the background until killed: every 50 ms, the time and the summed
# ticks of the nodes and of redis-server, one line each, into $1; every
# 0.5 s, the established connections on each node's port (ss); the most
# frequent nonzero counts (the plateau of the window) go into $1.spread.
# $2 = the nodes' ports (comma-separated), $3 = redis-server's PID, then the
# nodes' PIDs.
sample() {
  python3 - "$@" <<'EOF' &
import collections, os, subprocess, sys, time
out, ports, redis = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3])
pids = [int(p) for p in sys.argv[4:]]
def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
def established():
    # ss (sock_diag): /proc/net/tcp repeats lines while sockets come and go.
    filter = " or ".join(f"sport = :{p}" for p in ports)
    lines = subprocess.run(["ss", "-Htn", "state", "established", f"( {filter} )"],
                           capture_output=True, text=True).stdout.splitlines()
    count = dict.fromkeys(ports, 0)
    for line in lines:
        port = int(line.split()[2].rsplit(":", 1)[1])
        if port in count:
            count[port] += 1
    return tuple(count[p] for p in ports)
seen, tick = collections.Counter(), 0
with open(out, "w") as f:
    while True:
        nodes = sum(ticks(p) for p in pids)
        print(f"{time.time():.3f} {nodes} {ticks(redis)}", file=f, flush=True)
        if tick % 10 == 0:
            # The most frequent spread: the plateau of the measured window.
            counts = established()
            if sum(counts):  # before the load connects, or after it left
                seen[counts] += 1
            # Whole or not at all: the script may read it the moment we die.
            with open(out + ".spread.new", "w") as g:
                top = seen.most_common(1)
                print("/".join(map(str, top[0][0])) if top else "0", file=g)
            os.replace(out + ".spread.new", out + ".spread")
        tick += 1
        time.sleep(0.05)
EOF
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
help=$("$SOCKLAB" chat server --help 2>/dev/null || true)
# (not `--help | grep -q`: under pipefail, grep leaving early fails the pipe)
grep -q -- "--redis" <<<"$help" && HAS_REDIS=yes

# One row, one run: $1 = system (socklab, socklab-solo, socket.io),
# $2 = nodes, $3 = clients in all, $4 = run number, $5 = lines in flight per
# sender. Appends to $TMP/runs.
run_row() {
  local system=$1 nodes=$2 clients=$3 run=$4 pipe=$5 pids=() addrs=() n
  local room="bench-$run-$system-$nodes-$pipe" label="$system $nodes x $((clients / nodes)), P=$pipe"
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
  local cpu0 redis0 cpu1 redis1 status=0 sampler started exited
  rm -f "$TMP/samples" "$TMP/samples.spread"
  sample "$TMP/samples" "$(for a in "${addrs[@]}"; do printf '%s,' "${a##*:}"; done | sed 's/,$//')" \
    "$REDIS_PID" "${pids[@]}"
  sampler=$!
  started=$(date +%s.%N)
  cpu0=$(cpu_ticks "${pids[@]}")
  redis0=$(cpu_ticks "$REDIS_PID")
  case $system in
    socket.io)
      /usr/bin/time -f '%e %U %S' -o "$TMP/time" timeout $((DUR + WARMUP + 120)) \
        node "$SIO/load.js" "$list" -c "$clients" --senders "$SENDERS" -P "$pipe" -s "$SIZE" \
        -d "$DUR" --warmup "$WARMUP" --pids "$(IFS=,; echo "${pids[*]}")" --redis-pid "$REDIS_PID" \
        > "$TMP/load.json" 2> "$TMP/load.err" || status=$?
      ;;
    *)
      /usr/bin/time -f '%e %U %S' -o "$TMP/time" timeout $((DUR + WARMUP + 120)) \
        "$SOCKLAB" bench chat "$list" -c "$clients" --senders "$SENDERS" -P "$pipe" -s "$SIZE" \
        -d "$DUR" --warmup "$WARMUP" --json > "$TMP/load.json" 2> "$TMP/load.err" || status=$?
      ;;
  esac
  exited=$(date +%s.%N)
  cpu1=$(cpu_ticks "${pids[@]}")
  redis1=$(cpu_ticks "$REDIS_PID")
  kill "$sampler"
  wait "$sampler" 2>/dev/null || true
  stop_servers "${pids[@]}"
  python3 - "$TMP/load.json" "$TMP/load.err" "$status" "$((cpu1 - cpu0))" "$((redis1 - redis0))" \
    "$(getconf CLK_TCK)" "$WARMUP" "$DUR" "$(cat "$TMP/samples.spread" 2>/dev/null || echo '?')" \
    "$(tail -1 "$TMP/time")" "$TMP/samples" "$exited" "$TAIL" "$started $cpu0 $redis0" "$exited $cpu1 $redis1" <<'EOF' |
import json, sys
path, err, status, cpu, redis, tck, warmup, dur, spread, used, samples, exited, tail, first, last = sys.argv[1:]
text = open(path).read().strip()
row = {"status": int(status), "spread": spread}
try:
    points = sorted(tuple(map(float, line.split())) for line in open(samples) if len(line.split()) == 3)
except FileNotFoundError:  # the load ended before the sampler's first line
    points = []
# The before/after readings bracket the samples: a sampler starved on a busy
# machine may have missed the last TAIL seconds.
points = sorted([tuple(map(float, first.split()))] + points + [tuple(map(float, last.split()))])

def window(column, drain):
    """Ticks of a column over the DUR s that end drain + TAIL s before the load exited."""
    end = float(exited) - drain - float(tail)
    start = end - float(dur)
    def at(t):
        for (t0, *a), (t1, *b) in zip(points, points[1:]):
            if t0 <= t <= t1:
                return a[column] + (b[column] - a[column]) * (t - t0) / max(t1 - t0, 1e-9)
        return None
    a, b = at(start), at(end)
    return None if a is None or b is None else b - a
try:
    elapsed, user, system = (float(x) for x in used.split())
    row["load_cores"] = (user + system) / max(elapsed, 0.01)
except ValueError:
    pass
try:
    r = json.loads(text.splitlines()[-1])
except (ValueError, IndexError):
    why = (open(err).read().strip().splitlines() or ["no output"])[-1]
    row["error"] = why[:160]
    print(json.dumps(row))
    sys.exit()
rate = r.get("per_second") or 0
if not rate:  # nothing delivered: the run could not be set up
    row["error"] = str(r.get("first_error") or r.get("error") or "nothing delivered")[:160]
    print(json.dumps(row))
    sys.exit()
def us(ticks, seconds):
    deliveries = rate * seconds
    return None if ticks is None or not deliveries else float(ticks) * 1e6 / int(tck) / deliveries
lat = r.get("latency_ms") or {}
# After the window the load drains the lines in flight: socket.io's load
# says how long that took; socklab's lasts at most the slowest delivery.
drain = (r.get("phases_s") or {}).get("drain") or (lat.get("max") or 0) / 1000
row["drain_s"] = drain
row.update(rate=rate, p50=lat.get("p50"), p99=lat.get("p99"),
           server_us=us(window(0, drain), float(dur)), redis_us=us(window(1, drain), float(dur)),
           whole_run_us=us(cpu, float(warmup) + float(dur)))
if r.get("system") == "socket.io":
    v = r.get("verify") or {}
    row["load_window_us"] = r.get("server_cpu_us_per_delivery")
    row["once"] = "yes" if v.get("every_line_exactly_once") else f"no ({v.get('missing')} missing, {v.get('duplicates')} repeated)"
    n = r.get("connections")
    row["order"] = (f"same for all {n} clients" if v.get("same_order")
                    else f"{v.get('clients_disagreeing')} of {n} clients saw a different order from the others"
                         f" ({v.get('distinct_orders')} orders)")
else:
    # socklab bench: a line missing, repeated or out of its sender's order
    # is an error of the run; "order" (null before the multi-address bench)
    # is the verdict across clients.
    errors = (r.get("errors") or {}).get("total", 0)
    row["once"] = "yes" if errors == 0 and not r.get("lost") else f"no: {str(r.get('first_error'))[:80]}"
    row["order"] = r.get("order") or "not reported by this bench"
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
  for pipe in $PIPELINE; do
    for row in $ROWS; do
      case $row in
        socklab-3) run_row socklab 3 900 "$run" "$pipe" ;;
        socklab-1) run_row socklab 1 900 "$run" "$pipe" ;;
        socket.io-3) run_row socket.io 3 900 "$run" "$pipe" ;;
        socket.io-1) run_row socket.io 1 900 "$run" "$pipe" ;;
        solo) run_row socklab-solo 1 900 "$run" "$pipe" ;;
        *) die "unknown row $row (rows: socklab-3 socklab-1 socket.io-3 socket.io-1 solo)" ;;
      esac
    done
  done
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
print("| system | nodes x clients, in flight | deliveries/s | p50 ms | p99 ms | server CPU µs/delivery | (whole run) | Redis CPU µs/delivery | load CPU cores | clients per node | every line once | order | runs |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for label, runs in rows.items():
    system, shape = label.split(" ", 1)
    if all("skipped" in r for r in runs):
        print(f"| {system} | {shape} | {runs[0]['skipped']} | | | | | | | | | | |")
        continue
    ok = [r for r in runs if "rate" in r]
    if not ok:
        print(f"| {system} | {shape} | {same(runs, 'error')} | | | | | | | | | | 0/{len(runs)} |")
        continue
    print(f"| {system} | {shape} | {med(ok, 'rate', '{:,.0f}')} | {med(ok, 'p50', '{:.2f}')} | {med(ok, 'p99', '{:.2f}')} "
          f"| {med(ok, 'server_us', '{:.2f}')} | {med(ok, 'whole_run_us', '{:.2f}')} | {med(ok, 'redis_us', '{:.3f}')} | {med(ok, 'load_cores', '{:.2f}')} | {same(runs, 'spread')} "
          f"| {same(runs, 'once')} | {same(runs, 'order')} | {len(ok)}/{len(runs)} |")
# The issue's goal: socklab's CPU per delivery against socket.io's, same shape.
for label, runs in rows.items():
    system, shape = label.split(" ", 1)
    anchor = rows.get(f"socket.io {shape}", [])
    ours = [r["server_us"] for r in runs if isinstance(r.get("server_us"), float)]
    theirs = [r["server_us"] for r in anchor if isinstance(r.get("server_us"), float)]
    if system == "socklab" and ours and theirs:
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"\n{shape}: socklab's server CPU per delivery is {ratio:.3f} of socket.io's (goal: at most 0.2)", end="")
print()
EOF
