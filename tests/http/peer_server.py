#!/usr/bin/env python3
"""A tiny HTTP peer for socklab's client tests, written the texts' way with
the socket module. Prints `listening on HOST:PORT`, then serves until killed.

Usage: peer_server.py MODE
  chunked   200, Transfer-Encoding: chunked (with a chunk extension and a trailer)
  close     200, no Content-Length: the body ends when the server closes
  404       404 Not Found with a short Content-Length body
"""
import socket
import sys

BODY = b"chunked bodies arrive in pieces, " * 40


def chunked(body):
    out = b""
    for start in range(0, len(body), 100):
        part = body[start:start + 100]
        out += b"%x;piece=%d\r\n" % (len(part), start) + part + b"\r\n"
    return out + b"0\r\nX-Checksum: none\r\n\r\n"


def answer(mode):
    if mode == "chunked":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY)
    if mode == "close":
        return b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + BODY
    if mode == "404":
        body = b"no such page\n"
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    raise SystemExit("unknown mode " + mode)


def main():
    mode = sys.argv[1]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    print("listening on %s:%d" % server.getsockname(), flush=True)
    while True:
        conn, _ = server.accept()
        conn.settimeout(10)
        request = b""
        while b"\r\n\r\n" not in request:
            more = conn.recv(4096)
            if not more:
                break
            request += more
        conn.sendall(answer(mode))
        conn.close()


if __name__ == "__main__":
    main()
