#!/usr/bin/env bash
# User-space instructions per app request on one thread, counted by
# callgrind: steadier than CPU time on a shared machine, so a change of a few
# percent shows. The server runs twice under callgrind, for LOW and HIGH
# rounds; each round sends every one of CONNS keep-alive connections 15
# pipelined requests (bench app's rotation: three hits, a miss, a binary
# request of 64 bytes, three times) and reads the 15 answers. The difference
# divided by the extra requests leaves out start-up.
#
#   bench/app_instructions.sh
#   CONNS=50 HIGH=1100 bench/app_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-10}
LOW=${LOW:-100}
HIGH=${HIGH:-600}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q
# shellcheck source=bench/callgrind.sh
. bench/callgrind.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Prints the instructions counted while N rounds ran.
counted() {
  local n=$1
  callgrind_start "$TMP" target/release/socklab --threads 1 -q app server 127.0.0.1 0
  python3 - "$CG_PORT" "$n" "$CONNS" <<'PY'
import json, socket, sys
port, rounds, conns = (int(a) for a in sys.argv[1:])

def message(content_type, encoding, content):
    header = json.dumps({"byteorder": sys.byteorder, "content-type": content_type,
                         "content-encoding": encoding, "content-length": len(content),
                         "keep-alive": True}).encode()
    return len(header).to_bytes(2, "big") + header + content

def search(value):
    return message("text/json", "utf-8",
                   json.dumps({"action": "search", "value": value}, ensure_ascii=False).encode())

binary = ("binary\N{GRINNING FACE WITH SMILING EYES}".encode() * 16)[:64]
rotation = b"".join([search("morpheus"), search("ring"), search("\N{DOG FACE}"), search("nobody"),
                     message("binary/custom-client-binary-type", "binary", binary)])
batch = rotation * 3

def answers(sock, count, got=b""):
    # Reads until `count` whole answers are in; returns their bytes.
    while True:
        i, seen = 0, 0
        while seen < count and i + 2 <= len(got):
            n = int.from_bytes(got[i:i + 2], "big")
            if i + 2 + n > len(got):
                break
            end = i + 2 + n + json.loads(got[i + 2:i + 2 + n])["content-length"]
            if end > len(got):
                break
            i, seen = end, seen + 1
        if seen == count:
            return got[:i]
        data = sock.recv(65536)
        if not data:
            sys.exit("the server closed a connection")
        got += data

socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
for s in socks:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(rounds):
    for s in socks:
        s.sendall(batch)
    for s in socks:
        answers(s, 15)
for s in socks:
    s.close()
PY
  callgrind_stop "$TMP"
}

low=$(counted "$LOW"); high=$(counted "$HIGH")
python3 -c "import sys; l, h, r = map(int, sys.argv[1:]); print(f'app: {(h - l) / r:.0f} instructions per request')" \
  "$low" "$high" "$(( (HIGH - LOW) * CONNS * 15 ))"
