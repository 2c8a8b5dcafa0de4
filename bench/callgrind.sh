# Sourced by bench/*_instructions.sh: a server under callgrind.
#
#   callgrind_start DIR CMD...   starts CMD under callgrind, its files in DIR, and
#                                waits for its `listening on` line; sets CG_PID
#                                and CG_PORT
#   callgrind_stop DIR           dumps the counts, stops the server (the tokio
#                                anchor has no graceful exit to dump at), and
#                                prints the instructions counted

callgrind_start() {
  local dir=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$@" >"$dir/out" 2>"$dir/err" &
  CG_PID=$!
  for _ in $(seq 300); do grep -q '^listening on' "$dir/out" && break; sleep 0.1; done
  CG_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$dir/out" | head -1)
}

callgrind_stop() {
  local dir=$1
  callgrind_control -d "$CG_PID" >/dev/null 2>&1
  kill -9 "$CG_PID" 2>/dev/null || true
  wait "$CG_PID" 2>/dev/null || true
  grep -h '^totals:' "$dir"/cg.out.* | awk '{print $2}' | head -1
  rm -f "$dir"/cg.out*
}
