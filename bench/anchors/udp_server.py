#!/usr/bin/env python3
"""Anchor: the texts' UDP lucky-number server (TestServer.py): recvfrom, then
sendto 'Here's your lucky number:X'.

For benchmarking the per-datagram print is left out (it would measure the
terminal) and the real address is printed as 'listening on IP:PORT'. With
--log (the tests' peer) each reply sent is printed on stderr.

Usage: udp_server.py [HOST] [PORT] [--log]
"""
import random
import socket
import sys

MAX_BYTES = 65535


def server(ip: str, port: int, log: bool):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, port))
    print('listening on {}:{}'.format(*sock.getsockname()), flush=True)
    while True:
        (data, address) = sock.recvfrom(MAX_BYTES)
        response = 'Here\'s your lucky number:{}'.format(random.random()).encode('ascii')
        sock.sendto(response, address)
        if log:
            print('sent {!r}'.format(response.decode('ascii')), file=sys.stderr, flush=True)


if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a != '--log']
    server(args[0] if args else '127.0.0.1',
           int(args[1]) if len(args) > 1 else 60000,
           '--log' in sys.argv[1:])
