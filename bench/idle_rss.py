#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT and prints the server's resident
memory per connection in bytes: VmRSS of PID (from /proc) after minus before,
divided by N. Waits until the server's RSS stops growing before reading it.

Usage: idle_rss.py PID HOST PORT [N]
"""
import resource
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    pid, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = rss_kib(pid)
    socks = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
    # The server accepts asynchronously: wait for its RSS to settle (bounded).
    last, deadline = -1, time.time() + 10
    while time.time() < deadline:
        time.sleep(0.3)
        now = rss_kib(pid)
        if now == last:
            break
        last = now
    after = rss_kib(pid)
    print(round((after - before) * 1024 / n))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
