#!/usr/bin/env python3
"""Anchor: the texts' selectors app server (app-server.py + libserver.py).

Runs tests/app/libserver.py's Message (the guide's server message class, as
the interop tests use it) in app-server.py's selector loop. For benchmarking
its per-message prints are silenced, the backlog is the one every server in
the comparison gets, and the real address is printed as 'listening on IP:PORT'.

Usage: app_server.py [HOST] [PORT]
"""

import os
import selectors
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "app"))
import libserver  # noqa: E402

# A print per request would measure the terminal, not the server.
libserver.print = lambda *args, **kwargs: None


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 65433
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    print("listening on {}:{}".format(*lsock.getsockname()), flush=True)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, data=None)
    try:
        while True:
            for key, mask in sel.select(timeout=None):
                if key.data is None:
                    conn, addr = key.fileobj.accept()
                    conn.setblocking(False)
                    message = libserver.Message(sel, conn, addr)
                    sel.register(conn, selectors.EVENT_READ, data=message)
                else:
                    message = key.data
                    try:
                        message.process_events(mask)
                    except Exception:
                        message.close()
    except KeyboardInterrupt:
        pass
    finally:
        sel.close()


if __name__ == "__main__":
    main()
