#!/usr/bin/env python3
"""Anchor: the texts' threaded ChatServer (a thread per client, one lock,
makefile('rw'), every line relayed to every client as
'YYYY/mm/dd HH:MM:SS IP PORT\\nLINE\\n').

Differences from the text, for benchmarking only: host and port come from the
command line, the real address is printed as 'listening on IP:PORT', there is
no stdin prompt, and the per-message log line is at DEBUG (logging every relay
to a terminal would measure the terminal).

Usage: chat_server.py [HOST] [PORT]
"""
import datetime
import logging
import socket
import sys
import threading

FORMAT = "%(asctime)s %(threadName)s %(thread)d %(message)s"
logging.basicConfig(format=FORMAT, level=logging.INFO)


class ChatServer:
    def __init__(self, ip='127.0.0.1', port=9999):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.addr = (ip, port)
        self.clients = {}
        self.event = threading.Event()
        self.lock = threading.Lock()

    def start(self):
        self.sock.bind(self.addr)
        self.sock.listen(4096)
        print('listening on {}:{}'.format(*self.sock.getsockname()), flush=True)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.event.is_set():
            sock, client = self.sock.accept()
            f = sock.makefile('rw')
            with self.lock:
                self.clients[client] = f, sock
            threading.Thread(target=self.recv, args=(f, client), daemon=True).start()

    def recv(self, f, client):
        while not self.event.is_set():
            try:
                data = f.readline()
            except Exception as e:
                logging.error(e)
                data = 'quit'

            msg = data.strip()
            if msg == 'quit' or msg == '':
                with self.lock:
                    _, sock = self.clients.pop(client)
                    sock.close()
                    f.close()
                logging.info('{} quits'.format(client))
                break
            msg = "{:%Y/%m/%d %H:%M:%S} {} {}\n{}\n".format(datetime.datetime.now(), *client, data)
            logging.debug(msg)
            with self.lock:
                for ff, _ in self.clients.values():
                    try:
                        ff.write(msg)
                        ff.flush()
                    except Exception as e:
                        logging.error(e)

    def stop(self):
        self.event.set()
        with self.lock:
            for f, s in self.clients.values():
                s.close()
                f.close()
        self.sock.close()


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
    cs = ChatServer(host, port)
    cs.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        cs.stop()


if __name__ == '__main__':
    main()
