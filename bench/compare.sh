#!/usr/bin/env bash
# Measures socklab's servers against the servers people use today (the
# "anchors"), on loopback, and prints medians and ratios (socklab / anchor),
# and on every row each server's own CPU µs per request (utime+stime from
# /proc over the run: the steadier figure where the load generator shares
# the cores).
#
# Every row runs the same load against anchor and socklab interleaved, in
# pairs of alternating order (A B, B A, ...), RUNS times each, DUR seconds
# each after WARM seconds of warm-up.
# Where the anchor speaks our protocol (echo: tokio's echo) the interleaving
# and the CPU sampling are socklab bench's own (`--vs`, `--server-pid`).
# Rows whose socklab server is not built yet print "skipped (not built)".
#
#   bench/compare.sh                 # RUNS=3 DUR=3 WARM=1
#   RUNS=5 DUR=5 bench/compare.sh
#   ROWS="echo64 chat" bench/compare.sh
#   ROWS="https tls-new tls-bulk tls-app-ka" bench/compare.sh   # the TLS rows
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DUR=${DUR:-3}
WARM=${WARM:-1}
ROWS=${ROWS:-"echo64 echo16k bulk rss app app-ka app-ka-p16 app-ka-1t app-ka-p16-1t app-ka-echo app-ka-p16-echo chat http udp https tls-new tls-bulk tls-app-ka"}

# ---- tools -----------------------------------------------------------------
declare -A needs=(
  [iperf3]=iperf3 [redis-server]=redis-server [redis-benchmark]=redis-tools
  [nginx]=nginx-light [ncat]=ncat [wrk]=wrk [python3]=python3 [openssl]=openssl
)
missing=()
for cmd in "${!needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing anchors: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "building release binaries..." >&2
cargo build --release -q
# The tokio echo anchor only for the rows that use it (a cold build takes minutes).
ECHO_ROWS=0
for r in echo64 echo16k bulk rss; do [[ " $ROWS " == *" $r "* ]] && ECHO_ROWS=1; done
[ "$ECHO_ROWS" = 1 ] && (cd bench/anchors/tokio-echo && cargo build --release -q)
SL=$PWD/target/release/socklab
ANCHOR_ECHO=$PWD/bench/anchors/tokio-echo/target/release/tokio-echo-anchor
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- starting servers ------------------------------------------------------
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME CMD...: runs a server that prints `listening on ADDR` first;
# sets ADDR and PID.
start() {
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do
    ADDR=$(sed -n 's/^listening on //p' "$TMP/$name.out" | head -1)
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "error: $name did not start: $(cat "$TMP/$name.err")" >&2
  return 1
}

# start_port NAME PORT CMD...: runs a server on a known port; waits for it.
start_port() {
  local name=$1 port=$2; shift 2
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS+=("$PID")
  ADDR=127.0.0.1:$port
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: $name did not start: $(cat "$TMP/$name.err")" >&2
  return 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

built() { "$SL" "$1" server --help >/dev/null 2>&1; }

# start_nginx NAME PORT SERVER-DIRECTIVES: nginx answering "Hello World" to
# every GET, as many workers as cores (tokio's default thread count).
start_nginx() {
  local dir=$TMP/$1
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    $3
    location / { default_type text/plain; return 200 "Hello World"; }
  }
}
EOF
  start_port "$1" "$2" nginx -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
}

# ---- measuring -------------------------------------------------------------
# cpu_us PID: user+system CPU time of PID and its children (nginx's
# workers) so far, in µs; a server's cost, whatever the load generator's speed.
cpu_us() {
  local p total=0
  for p in "$1" $(pgrep -P "$1"); do
    total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{print t + ($14+$15)*1e6/hz}' "/proc/$p/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}

# costly PID CMD...: runs CMD, which prints "RATE COUNT" (a foreign load
# generator: wrk, redis-benchmark, iperf3, s_time); prints "RATE CPU", CPU
# being PID's (and its children's) CPU µs per COUNT over the run.
costly() {
  local pid=$1 before after out; shift
  before=$(cpu_us "$pid")
  out=$("$@")
  after=$(cpu_us "$pid")
  if [[ $out == ERR* ]]; then echo "ERR ERR"; return; fi
  set -- $out
  echo "$1 $(python3 -c "import sys; b,a,n=map(float,sys.argv[1:]); print(round((a-b)/n, 2) if n else 'ERR')" "$before" "$after" "$2")"
}

# bench PID ARGS...: one socklab bench run against the server PID, prints
# "RATE CPU": its `per_second` (or `mb_per_s` when BENCH_KEY says so) and
# the server's CPU µs per request (per MB for mb_per_s) from --server-pid;
# "ERR ERR" if it failed verification. A server with worker processes
# (nginx) is sampled as a tree over the whole run instead, warm-up
# included, scaled by DUR / (DUR + WARM).
bench() {
  local pid=$1 out before after; shift
  local sample=(--server-pid "$pid")
  [ -n "$(pgrep -P "$pid")" ] && sample=()
  before=$(cpu_us "$pid")
  if out=$("$SL" -q bench "$@" "${sample[@]}" --json --duration "$DUR" --warmup "$WARM" 2>"$TMP/bench.err"); then
    after=$(cpu_us "$pid")
    python3 - "$out" "${BENCH_KEY:-per_second}" "$before" "$after" "$DUR" "$WARM" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); key = sys.argv[2]
before, after, dur, warm = map(float, sys.argv[3:])
cpu = r["server"]["cpu_us"] if r["server"] else (after - before) * dur / (dur + warm)
per = r["bytes_received"] / 1e6 if key == "mb_per_s" else r["completed"]
print(round(r[key], 1), round(cpu / per, 2) if per else "ERR")
PY
  else
    echo "ERR ERR"
    echo "  bench $* failed: $(tail -1 "$TMP/bench.err")" >&2
  fi
}

median() { printf '%s\n' "$@" | grep -v ERR | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "ERR"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('n/a' if 'ERR' in (a,b) or float(a)==0 else f'{float(b)/float(a):.2f}')" "$1" "$2"; }

TABLE=()
# row LABEL ANCHOR-NAME TARGET: runs A_CMD / B_CMD (shell functions, each
# printing "VALUE CPU") interleaved.
row() {
  local label=$1 anchor=$2 target=$3 a=() b=() ca=() cb=() out
  # Each appends one run's value and CPU to row's arrays (bash scoping).
  run_a() { out=$(A_CMD); a+=("${out%% *}"); ca+=("${out#* }"); }
  run_b() { out=$(B_CMD); b+=("${out%% *}"); cb+=("${out#* }"); }
  for i in $(seq "$RUNS"); do
    # Pairs in alternating order, as bench --vs runs them.
    if (( i % 2 )); then run_a; run_b; else run_b; run_a; fi
  done
  table_row "$label" "$anchor" "$target" "$(median "${a[@]}")" "$(median "${b[@]}")" \
    "$(median "${ca[@]}")" "$(median "${cb[@]}")"
  echo "  $label: $anchor [${a[*]}] cpu [${ca[*]}] socklab [${b[*]}] cpu [${cb[*]}]" >&2
}
# table_row LABEL ANCHOR TARGET ANCHOR-VALUE SOCKLAB-VALUE ANCHOR-CPU SOCKLAB-CPU
table_row() {
  TABLE+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$1" "$2" "$4" "$5" "$(ratio "$4" "$5")" "$3" "$6" "$7")")
}
# vs_row LABEL ANCHOR TARGET KEY ARGS...: socklab bench ARGS against SE and,
# with --vs, against AE: its own interleaving, medians and CPU per request.
vs_row() {
  local label=$1 anchor=$2 target=$3 key=$4 out; shift 4
  if ! out=$("$SL" -q bench "$@" --json --duration "$DUR" --warmup "$WARM" --runs "$RUNS" \
    --server-pid "$SE_PID" --vs-pid "$AE_PID" 2>"$TMP/bench.err"); then
    echo "  bench $* failed: $(tail -1 "$TMP/bench.err")" >&2
    table_row "$label" "$anchor" "$target" ERR ERR ERR ERR
    return
  fi
  # A is socklab, B the anchor: the table's columns are anchor, socklab.
  local fields
  fields=$(python3 - "$out" "$key" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); key = sys.argv[2]
def side(s):
    m = r[s]["median"]
    return [round(m[key], 1), round(m["cpu_us_per_request"], 2) if m["cpu_us_per_request"] else "ERR"]
b, a = side("b"), side("a")
print(b[0], a[0], b[1], a[1])
print(" ".join(str(round(x[key], 1)) for x in r["b"]["runs"]), "|", " ".join(str(round(x[key], 1)) for x in r["a"]["runs"]), file=sys.stderr)
PY
  )
  set -- $fields
  table_row "$label" "$anchor" "$target" "$1" "$2" "$3" "$4"
}
# skip LABEL ANCHOR TARGET [WHY]
skip() { TABLE+=("$(printf '| %s | %s | | | skipped (%s) | %s | | |' "$1" "$2" "${4:-not built}" "$3")"); }
want() { [[ " $ROWS " == *" $1 "* ]]; }

# ---- echo ------------------------------------------------------------------
if [ "$ECHO_ROWS" = 1 ]; then
start anchor-echo "$ANCHOR_ECHO" 127.0.0.1:0; AE=$ADDR; AE_PID=$PID
start socklab-echo "$SL" -q echo server 127.0.0.1 0; SE=$ADDR; SE_PID=$PID

if want echo64; then
  vs_row "echo 50 conns x 64 B, round trips/s" "tokio echo" "≥ 1.0" per_second echo "$SE" --vs "$AE" -c 50 -s 64
fi
if want echo16k; then
  vs_row "echo 50 conns x 16 KiB, round trips/s" "tokio echo" "≥ 1.0" per_second echo "$SE" --vs "$AE" -c 50 -s 16384
fi
if want bulk; then
  # CPU per MB here: the server's cost of moving the data.
  A_CMD() { BENCH_KEY=mb_per_s bench "$AE_PID" echo "$AE" -c 1 --bulk; }
  B_CMD() { BENCH_KEY=mb_per_s bench "$SE_PID" echo "$SE" -c 1 --bulk; }
  row "echo bulk, 1 conn, MB/s (CPU µs per MB)" "tokio echo" "≥ 1.0"
  IPORT=$(free_port)
  start_port iperf3 "$IPORT" iperf3 -s -B 127.0.0.1 -p "$IPORT"; IP_PID=$PID
  iperf() {
    iperf3 -c 127.0.0.1 -p "$IPORT" -t "$DUR" -J 2>/dev/null |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["end"]["sum_received"]; print(round(r["bits_per_second"]/8e6, 1), r["bytes"]/1e6)' || echo ERR
  }
  A_CMD() { costly "$IP_PID" iperf; }
  row "echo bulk, 1 conn, MB/s (CPU µs per MB)" "iperf3 single stream" "≥ 0.6"
  stop "$IP_PID"
fi
stop "$AE_PID"; stop "$SE_PID"
fi
if want rss; then
  # A fresh server per run: memory freed by an earlier run would be reused.
  # No requests, so no CPU per request: "-".
  idle_rss() {
    start "rss-$1" "${@:2}" >&2 || { echo "ERR -"; return; }
    "$SL" -q bench idle "$ADDR" --conns 5000 --step 5000 --server-pid "$PID" --json 2>"$TMP/idle.err" |
      python3 -c 'import json,sys; print(round(json.load(sys.stdin)["steps"][-1]["rss_per_conn_bytes"]), "-")' ||
      echo "ERR -"
    stop "$PID"
  }
  A_CMD() { idle_rss anchor "$ANCHOR_ECHO" 127.0.0.1:0; }
  B_CMD() { idle_rss socklab "$SL" -q echo server 127.0.0.1 0; }
  # Lower is better here: the ratio is still socklab / anchor.
  row "5,000 idle connections, RSS bytes per connection" "tokio echo" "≤ 1.0"
fi

# ---- app -------------------------------------------------------------------
if want app || want app-ka || want app-ka-p16 || want app-ka-1t || want app-ka-p16-1t || want app-ka-echo || want app-ka-p16-echo; then
  if built app; then
    start anchor-app python3 bench/anchors/app_server.py 127.0.0.1 0; AA=$ADDR; AA_PID=$PID
    start socklab-app "$SL" -q app server 127.0.0.1 0; SA=$ADDR; SA_PID=$PID
    if want app; then
      A_CMD() { bench "$AA_PID" app "$AA" -c 50; }; B_CMD() { bench "$SA_PID" app "$SA" -c 50; }
      row "app, 50 conns, one connection per request, req/s" "python selectors app server" "≥ 2.0"
    fi
    RPORT=$(free_port)
    start_port redis "$RPORT" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no; R_PID=$PID
    # redis_ping N ARGS...: "RATE N" for costly. Only PING_MBULK: `-t ping`
    # would run PING_INLINE too, and the server CPU of 2N requests would be
    # divided by N.
    redis_ping() {
      local n=$1 rate; shift
      rate=$(redis-benchmark -p "$RPORT" -t ping_mbulk -c 50 -n "$n" "$@" -q 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^PING_MBULK: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
      [ -n "$rate" ] && echo "$rate $n" || echo ERR
    }
    # redis_echo N ARGS...: as redis_ping, for ECHO of 158 bytes: 180 bytes
    # asked and 166 answered, the 346 a request and its answer of bench
    # app's rotation move (173 each way, its bytes_sent / completed). PING
    # moves 21: this anchor says what the bytes cost a server, apart from
    # what it does with them.
    ECHO_ARG=$(printf 'x%.0s' $(seq 158))
    redis_echo() {
      local n=$1 rate; shift
      rate=$(redis-benchmark -p "$RPORT" -c 50 -n "$n" "$@" -q ECHO "$ECHO_ARG" 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^ECHO [^:]*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
      [ -n "$rate" ] && echo "$rate $n" || echo ERR
    }
    if want app-ka; then
      A_CMD() { costly "$R_PID" redis_ping 200000; }; B_CMD() { bench "$SA_PID" app "$SA" -c 50 --keep-alive; }
      row "app keep-alive, 50 conns, req/s" "redis-benchmark ping -c 50" "≥ 1.0"
    fi
    if want app-ka-p16; then
      A_CMD() { costly "$R_PID" redis_ping 2000000 -P 16; }; B_CMD() { bench "$SA_PID" app "$SA" -c 50 --keep-alive -P 16; }
      row "app keep-alive, 50 conns, pipeline 16, req/s" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
    fi
    # redis-server serves on one thread; ours with --threads 1 does too.
    if want app-ka-1t || want app-ka-p16-1t; then
      start socklab-app-1t "$SL" -q --threads 1 app server 127.0.0.1 0; S1=$ADDR; S1_PID=$PID
      if want app-ka-1t; then
        A_CMD() { costly "$R_PID" redis_ping 200000; }; B_CMD() { bench "$S1_PID" app "$S1" -c 50 --keep-alive; }
        row "app keep-alive, 50 conns, req/s: both on one thread" "redis-benchmark ping -c 50" "≥ 1.0"
      fi
      if want app-ka-p16-1t; then
        A_CMD() { costly "$R_PID" redis_ping 2000000 -P 16; }; B_CMD() { bench "$S1_PID" app "$S1" -c 50 --keep-alive -P 16; }
        row "app keep-alive, 50 conns, pipeline 16, req/s: both on one thread" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
      fi
      stop "$S1_PID"
    fi
    if want app-ka-echo; then
      A_CMD() { costly "$R_PID" redis_echo 200000; }; B_CMD() { bench "$SA_PID" app "$SA" -c 50 --keep-alive; }
      row "app keep-alive, 50 conns, req/s: as many bytes" "redis-benchmark ECHO 158 B -c 50" "report"
    fi
    if want app-ka-p16-echo; then
      A_CMD() { costly "$R_PID" redis_echo 2000000 -P 16; }; B_CMD() { bench "$SA_PID" app "$SA" -c 50 --keep-alive -P 16; }
      row "app keep-alive, 50 conns, pipeline 16, req/s: as many bytes" "redis-benchmark ECHO 158 B -c 50 -P 16" "report"
    fi
    stop "$R_PID"; stop "$AA_PID"; stop "$SA_PID"
  else
    want app && skip "app, 50 conns, one connection per request, req/s" "python selectors app server" "≥ 2.0"
    want app-ka && skip "app keep-alive, 50 conns, req/s" "redis-benchmark ping -c 50" "≥ 1.0"
    want app-ka-p16 && skip "app keep-alive, 50 conns, pipeline 16, req/s" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
    want app-ka-1t && skip "app keep-alive, 50 conns, req/s: both on one thread" "redis-benchmark ping -c 50" "≥ 1.0"
    want app-ka-p16-1t && skip "app keep-alive, 50 conns, pipeline 16, req/s: both on one thread" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
    want app-ka-echo && skip "app keep-alive, 50 conns, req/s: as many bytes" "redis-benchmark ECHO 158 B -c 50" "report"
    want app-ka-p16-echo && skip "app keep-alive, 50 conns, pipeline 16, req/s: as many bytes" "redis-benchmark ECHO 158 B -c 50 -P 16" "report"
  fi
fi

# ---- chat ------------------------------------------------------------------
if want chat; then
  if built chat; then
    # One line in flight per sender: the texts' ChatServer loses lines that
    # arrive together (its makefile('rw') discards buffered input on write).
    CHAT=(-c 500 --senders 5 -P 1 --ramp 1)
    start socklab-chat "$SL" -q chat server 127.0.0.1 0; SC=$ADDR; SC_PID=$PID
    start anchor-chat python3 bench/anchors/chat_server.py 127.0.0.1 0; PC=$ADDR; PC_PID=$PID
    A_CMD() { bench "$PC_PID" chat "$PC" "${CHAT[@]}"; }; B_CMD() { bench "$SC_PID" chat "$SC" "${CHAT[@]}"; }
    row "chat, 500 clients, 5 senders, deliveries/s" "python threaded chat" "≥ 3.0"
    stop "$PC_PID"
    NPORT=$(free_port)
    # ncat's listen backlog is small: --ramp 1 connects one client at a time.
    start_port ncat "$NPORT" ncat -l -k --chat --max-conns 1000 127.0.0.1 "$NPORT"; NC=$ADDR; NC_PID=$PID
    A_CMD() { bench "$NC_PID" chat "$NC" "${CHAT[@]}"; }
    row "chat, 500 clients, 5 senders, deliveries/s" "ncat --chat" "≥ 3.0"
    stop "$NC_PID"; stop "$SC_PID"
  else
    skip "chat, 500 clients, 5 senders, deliveries/s" "python threaded chat; ncat --chat" "≥ 3.0"
  fi
fi

# ---- http ------------------------------------------------------------------
if want http; then
  if built http; then
    HPORT=$(free_port)
    start_nginx nginx "$HPORT" "listen 127.0.0.1:$HPORT;"; NG=$ADDR; NG_PID=$PID
    start socklab-http "$SL" -q http server 127.0.0.1 0; SH=$ADDR; SH_PID=$PID
    # wrk_rps SCHEME ADDR: "RATE REQUESTS" for costly.
    wrk_rps() {
      wrk -t2 -c100 -d"${DUR}s" "$1://$2/" 2>/dev/null | python3 -c '
import re, sys
out = sys.stdin.read()
rate, count = re.search(r"Requests/sec:\s*([0-9.]+)", out), re.search(r"(\d+) requests in", out)
print(f"{rate[1]} {count[1]}" if rate and count else "ERR")'
    }
    A_CMD() { costly "$NG_PID" wrk_rps http "$NG"; }; B_CMD() { costly "$SH_PID" wrk_rps http "$SH"; }
    row "http hello, wrk -t2 -c100, req/s" "nginx" "≥ 1.0"
    # And the verifying bench, once each: zero errors is the point here.
    A_CMD() { bench "$NG_PID" http "$NG" -c 100; }; B_CMD() { bench "$SH_PID" http "$SH" -c 100; }
    RUNS=1 row "http hello, socklab bench http -c 100, req/s (verified)" "nginx" "-"
    stop "$NG_PID"; stop "$SH_PID"
  else
    skip "http hello, wrk -t2 -c100, req/s" "nginx" "≥ 1.0"
  fi
fi

# ---- udp -------------------------------------------------------------------
if want udp; then
  if built udp; then
    start anchor-udp python3 bench/anchors/udp_server.py 127.0.0.1 0; PU=$ADDR; PU_PID=$PID
    start socklab-udp "$SL" -q udp server 127.0.0.1 0; SU=$ADDR; SU_PID=$PID
    A_CMD() { bench "$PU_PID" udp "$PU" -c 8 --timeout 1s; }; B_CMD() { bench "$SU_PID" udp "$SU" -c 8 --timeout 1s; }
    row "udp, 8 sockets request/response, replies/s" "python lucky server" "≥ 1.5"
    stop "$PU_PID"; stop "$SU_PID"
  else
    skip "udp, 8 sockets request/response, replies/s" "python lucky server" "≥ 1.5"
  fi
fi

# ---- tls -------------------------------------------------------------------
# One development certificate (ECDSA P-256, SHA-256) in a scratch store,
# served by nginx and by socklab alike; our clients trust its CA.
TLS_ROWS=0
for r in https tls-new tls-bulk tls-app-ka; do want "$r" && TLS_ROWS=1; done
if [ "$TLS_ROWS" = 1 ]; then
  export SOCKLAB_DATA_DIR=$TMP/socklab-data
  "$SL" -q cert show >/dev/null
  NGINX_TLS=1
  nginx -V 2>&1 | grep -q -- --with-http_ssl_module || NGINX_TLS=0
fi
if want https || want tls-new; then
  if [ "$NGINX_TLS" = 1 ] && built http; then
    SPORT=$(free_port)
    start_nginx nginx-tls "$SPORT" "listen 127.0.0.1:$SPORT ssl;
    ssl_certificate $SOCKLAB_DATA_DIR/cert.pem;
    ssl_certificate_key $SOCKLAB_DATA_DIR/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;"; NS=$ADDR; NS_PID=$PID
    start socklab-https "$SL" -q http server 127.0.0.1 0 --tls; SS=$ADDR; SS_PID=$PID
    if want https; then
      A_CMD() { costly "$NS_PID" wrk_rps https "$NS"; }
      B_CMD() { costly "$SS_PID" wrk_rps https "$SS"; }
      row "https hello, wrk -t2 -c100 keep-alive, req/s" "nginx (TLS)" "≥ 1.0"
    fi
    if want tls-new; then
      # Full handshakes one after another (no resumption: -new), timed on
      # the wall clock; s_time's own rate is per second of its user CPU.
      s_time() {
        python3 -c '
import re, subprocess, sys, time
start = time.monotonic()
out = subprocess.run(["openssl", "s_time", "-connect", sys.argv[1], "-new", "-time", sys.argv[2]],
                     capture_output=True, text=True).stdout
wall = time.monotonic() - start
found = re.search(r"(\d+) connections in [0-9.]+s", out)
print(f"{int(found[1]) / wall:.1f} {found[1]}" if found and int(found[1]) else "ERR")' "$1" "$DUR"
      }
      A_CMD() { costly "$NS_PID" s_time "$NS"; }
      B_CMD() { costly "$SS_PID" s_time "$SS"; }
      row "new TLS connections, openssl s_time -new, conn/s (CPU µs per connection)" "nginx (TLS)" "≥ 1.0"
    fi
    stop "$NS_PID"; stop "$SS_PID"
  else
    why="nginx without ssl"; [ "$NGINX_TLS" = 1 ] && why="not built"
    want https && skip "https hello, wrk -t2 -c100 keep-alive, req/s" "nginx (TLS)" "≥ 1.0" "$why"
    want tls-new && skip "new TLS connections, openssl s_time -new, conn/s" "nginx (TLS)" "≥ 1.0" "$why"
  fi
fi
# TLS against plain on the same server: the anchor column is socklab plain.
if want tls-bulk; then
  start socklab-echo-tls "$SL" -q echo server 127.0.0.1 0 --tls; TE=$ADDR; TE_PID=$PID
  start socklab-echo "$SL" -q echo server 127.0.0.1 0; SE=$ADDR; SE_PID=$PID
  A_CMD() { BENCH_KEY=mb_per_s bench "$SE_PID" echo "$SE" -c 1 --bulk; }
  B_CMD() { BENCH_KEY=mb_per_s bench "$TE_PID" echo "$TE" -c 1 --bulk --tls; }
  row "echo bulk, 1 conn, MB/s (CPU µs per MB): TLS vs plain" "socklab plain" "report"
  stop "$TE_PID"; stop "$SE_PID"
fi
if want tls-app-ka; then
  if built app; then
    start socklab-app-tls "$SL" -q app server 127.0.0.1 0 --tls; TA=$ADDR; TA_PID=$PID
    start socklab-app "$SL" -q app server 127.0.0.1 0; SA=$ADDR; SA_PID=$PID
    A_CMD() { bench "$SA_PID" app "$SA" -c 50 --keep-alive; }
    B_CMD() { bench "$TA_PID" app "$TA" -c 50 --keep-alive --tls; }
    row "app keep-alive, 50 conns, req/s: TLS vs plain" "socklab plain" "report"
    stop "$TA_PID"; stop "$SA_PID"
  else
    skip "app keep-alive, 50 conns, req/s: TLS vs plain" "socklab plain" "report"
  fi
fi

# ---- table -----------------------------------------------------------------
echo
echo "socklab vs anchors: medians of $RUNS interleaved runs of ${DUR}s (+${WARM}s warm-up), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| workload | anchor | anchor | socklab | ratio | target | anchor CPU µs/req | socklab CPU µs/req |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
