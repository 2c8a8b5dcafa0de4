#!/usr/bin/env bash
# Measures socklab's servers against the servers people use today (the
# "anchors"), on loopback, and prints medians and ratios (socklab / anchor).
#
# Every row runs the same load against anchor and socklab interleaved,
# A B A B ..., RUNS times each, DUR seconds each after WARM seconds of warm-up.
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
ROWS=${ROWS:-"echo64 echo16k bulk rss app app-ka app-ka-p16 chat http udp https tls-new tls-bulk tls-app-ka"}

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

# costly PID FILE CMD...: runs CMD, which prints "RATE COUNT"; prints RATE
# and appends PID's CPU µs per COUNT to FILE (for a row_from).
costly() {
  local pid=$1 file=$2 before after out; shift 2
  before=$(cpu_us "$pid")
  out=$("$@")
  after=$(cpu_us "$pid")
  if [[ $out == ERR* ]]; then echo ERR; echo ERR >>"$file"; return; fi
  set -- $out
  python3 -c "import sys; b,a,n=map(float,sys.argv[1:]); print(round((a-b)/n, 1) if n else 'ERR')" "$before" "$after" "$2" >>"$file"
  echo "$1"
}

# bench ARGS...: one socklab bench run, prints its `per_second` (or
# `mb_per_s` when BENCH_KEY says so); ERR if it failed verification.
bench() {
  local out
  if out=$("$SL" -q bench "$@" --json --duration "$DUR" --warmup "$WARM" 2>"$TMP/bench.err"); then
    python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['${BENCH_KEY:-per_second}'], 1))" "$out"
  else
    echo "ERR"
    echo "  bench $* failed: $(tail -1 "$TMP/bench.err")" >&2
  fi
}

median() { printf '%s\n' "$@" | grep -v ERR | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "ERR"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('n/a' if 'ERR' in (a,b) or float(a)==0 else f'{float(b)/float(a):.2f}')" "$1" "$2"; }

TABLE=()
# row LABEL ANCHOR-NAME TARGET: runs A_CMD / B_CMD (shell functions) interleaved.
row() {
  local label=$1 anchor=$2 target=$3 a=() b=()
  for i in $(seq "$RUNS"); do
    a+=("$(A_CMD)")
    b+=("$(B_CMD)")
  done
  local ma mb
  ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
  echo "  $label: $anchor [${a[*]}] socklab [${b[*]}]" >&2
  TABLE+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$label" "$anchor" "$ma" "$mb" "$(ratio "$ma" "$mb")" "$target")")
}
# skip LABEL ANCHOR TARGET [WHY]
skip() { TABLE+=("$(printf '| %s | %s | | | skipped (%s) | %s |' "$1" "$2" "${4:-not built}" "$3")"); }
want() { [[ " $ROWS " == *" $1 "* ]]; }

# ---- echo ------------------------------------------------------------------
if [ "$ECHO_ROWS" = 1 ]; then
start anchor-echo "$ANCHOR_ECHO" 127.0.0.1:0; AE=$ADDR; AE_PID=$PID
start socklab-echo "$SL" -q echo server 127.0.0.1 0; SE=$ADDR; SE_PID=$PID

if want echo64; then
  A_CMD() { bench echo "$AE" -c 50 -s 64; }; B_CMD() { bench echo "$SE" -c 50 -s 64; }
  row "echo 50 conns x 64 B, round trips/s" "tokio echo" "≥ 1.0"
fi
if want echo16k; then
  A_CMD() { bench echo "$AE" -c 50 -s 16384; }; B_CMD() { bench echo "$SE" -c 50 -s 16384; }
  row "echo 50 conns x 16 KiB, round trips/s" "tokio echo" "≥ 1.0"
fi
if want bulk; then
  A_CMD() { BENCH_KEY=mb_per_s bench echo "$AE" -c 1 --bulk; }
  B_CMD() { BENCH_KEY=mb_per_s bench echo "$SE" -c 1 --bulk; }
  row "echo bulk, 1 conn, MB/s" "tokio echo" "≥ 1.0"
  IPORT=$(free_port)
  start_port iperf3 "$IPORT" iperf3 -s -B 127.0.0.1 -p "$IPORT"; IP_PID=$PID
  A_CMD() {
    iperf3 -c 127.0.0.1 -p "$IPORT" -t "$DUR" -J 2>/dev/null |
      python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e6, 1))' || echo ERR
  }
  row "echo bulk, 1 conn, MB/s" "iperf3 single stream" "≥ 0.6"
  stop "$IP_PID"
fi
stop "$AE_PID"; stop "$SE_PID"
fi
if want rss; then
  # A fresh server per run: memory freed by an earlier run would be reused.
  idle_rss() {
    start "rss-$1" "${@:2}" >&2 || { echo ERR; return; }
    python3 bench/idle_rss.py "$PID" "${ADDR%:*}" "${ADDR##*:}" 5000 || echo ERR
    stop "$PID"
  }
  A_CMD() { idle_rss anchor "$ANCHOR_ECHO" 127.0.0.1:0; }
  B_CMD() { idle_rss socklab "$SL" -q echo server 127.0.0.1 0; }
  # Lower is better here: the ratio is still socklab / anchor.
  row "5,000 idle connections, RSS bytes per connection" "tokio echo" "≤ 1.0"
fi

# ---- app -------------------------------------------------------------------
if want app || want app-ka || want app-ka-p16; then
  if built app; then
    start anchor-app python3 bench/anchors/app_server.py 127.0.0.1 0; AA=$ADDR; AA_PID=$PID
    start socklab-app "$SL" -q app server 127.0.0.1 0; SA=$ADDR; SA_PID=$PID
    if want app; then
      A_CMD() { bench app "$AA" -c 50; }; B_CMD() { bench app "$SA" -c 50; }
      row "app, 50 conns, one connection per request, req/s" "python selectors app server" "≥ 2.0"
    fi
    RPORT=$(free_port)
    start_port redis "$RPORT" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no; R_PID=$PID
    redis_ping() {
      redis-benchmark -p "$RPORT" -t ping -c 50 "$@" -q 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^PING_MBULK: \([0-9.]*\) requests per second.*/\1/p' | tail -1
    }
    if want app-ka; then
      A_CMD() { redis_ping -n 200000; }; B_CMD() { bench app "$SA" -c 50 --keep-alive; }
      row "app keep-alive, 50 conns, req/s" "redis-benchmark ping -c 50" "≥ 1.0"
    fi
    if want app-ka-p16; then
      A_CMD() { redis_ping -n 2000000 -P 16; }; B_CMD() { bench app "$SA" -c 50 --keep-alive -P 16; }
      row "app keep-alive, 50 conns, pipeline 16, req/s" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
    fi
    stop "$R_PID"; stop "$AA_PID"; stop "$SA_PID"
  else
    want app && skip "app, 50 conns, one connection per request, req/s" "python selectors app server" "≥ 2.0"
    want app-ka && skip "app keep-alive, 50 conns, req/s" "redis-benchmark ping -c 50" "≥ 1.0"
    want app-ka-p16 && skip "app keep-alive, 50 conns, pipeline 16, req/s" "redis-benchmark ping -c 50 -P 16" "≥ 0.5"
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
    A_CMD() { bench chat "$PC" "${CHAT[@]}"; }; B_CMD() { bench chat "$SC" "${CHAT[@]}"; }
    row "chat, 500 clients, 5 senders, deliveries/s" "python threaded chat" "≥ 3.0"
    stop "$PC_PID"
    NPORT=$(free_port)
    # ncat's listen backlog is small: --ramp 1 connects one client at a time.
    start_port ncat "$NPORT" ncat -l -k --chat --max-conns 1000 127.0.0.1 "$NPORT"; NC=$ADDR; NC_PID=$PID
    A_CMD() { bench chat "$NC" "${CHAT[@]}"; }
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
    wrk_rps() {
      wrk -t2 -c100 -d"${DUR}s" "http://$1/" 2>/dev/null | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' | grep . || echo ERR
    }
    A_CMD() { wrk_rps "$NG"; }; B_CMD() { wrk_rps "$SH"; }
    row "http hello, wrk -t2 -c100, req/s" "nginx" "≥ 1.0"
    # And the verifying bench, once each: zero errors is the point here.
    A_CMD() { bench http "$NG" -c 100; }; B_CMD() { bench http "$SH" -c 100; }
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
    A_CMD() { bench udp "$PU" -c 8 --timeout 1s; }; B_CMD() { bench udp "$SU" -c 8 --timeout 1s; }
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
  # row_from LABEL ANCHOR FILE-A FILE-B TARGET: a row of the CPU costs that
  # `costly` recorded during the row before it.
  row_from() {
    local ma mb
    ma=$(median $(cat "$3")); mb=$(median $(cat "$4"))
    echo "  $1: $2 [$(tr '\n' ' ' <"$3")] socklab [$(tr '\n' ' ' <"$4")]" >&2
    TABLE+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$1" "$2" "$ma" "$mb" "$(ratio "$ma" "$mb")" "$5")")
  }
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
      wrk_tls() {
        wrk -t2 -c100 -d"${DUR}s" "https://$1/" 2>/dev/null | python3 -c '
import re, sys
out = sys.stdin.read()
rate, count = re.search(r"Requests/sec:\s*([0-9.]+)", out), re.search(r"(\d+) requests in", out)
print(f"{rate[1]} {count[1]}" if rate and count else "ERR")'
      }
      : >"$TMP/cpu-a"; : >"$TMP/cpu-b"
      A_CMD() { costly "$NS_PID" "$TMP/cpu-a" wrk_tls "$NS"; }
      B_CMD() { costly "$SS_PID" "$TMP/cpu-b" wrk_tls "$SS"; }
      row "https hello, wrk -t2 -c100 keep-alive, req/s" "nginx (TLS)" "≥ 1.0"
      # Lower is better here: the ratio is still socklab / anchor.
      row_from "https hello, server CPU µs per request" "nginx (TLS)" "$TMP/cpu-a" "$TMP/cpu-b" "≤ 1.0"
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
      : >"$TMP/cpu-a"; : >"$TMP/cpu-b"
      A_CMD() { costly "$NS_PID" "$TMP/cpu-a" s_time "$NS"; }
      B_CMD() { costly "$SS_PID" "$TMP/cpu-b" s_time "$SS"; }
      row "new TLS connections, openssl s_time -new, conn/s" "nginx (TLS)" "≥ 1.0"
      row_from "new TLS connection, server CPU µs each" "nginx (TLS)" "$TMP/cpu-a" "$TMP/cpu-b" "≤ 1.0"
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
  A_CMD() { BENCH_KEY=mb_per_s bench echo "$SE" -c 1 --bulk; }
  B_CMD() { BENCH_KEY=mb_per_s bench echo "$TE" -c 1 --bulk --tls; }
  row "echo bulk, 1 conn, MB/s: TLS vs plain" "socklab plain" "report"
  stop "$TE_PID"; stop "$SE_PID"
fi
if want tls-app-ka; then
  if built app; then
    start socklab-app-tls "$SL" -q app server 127.0.0.1 0 --tls; TA=$ADDR; TA_PID=$PID
    start socklab-app "$SL" -q app server 127.0.0.1 0; SA=$ADDR; SA_PID=$PID
    A_CMD() { bench app "$SA" -c 50 --keep-alive; }
    B_CMD() { bench app "$TA" -c 50 --keep-alive --tls; }
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
echo "| workload | anchor | anchor | socklab | ratio | target |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
