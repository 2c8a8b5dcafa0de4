#!/usr/bin/env python3
"""Anchor: the texts' UDP lucky-number server (TestServer.py): recvfrom, then
sendto 'Here's your lucky number:X'.

For benchmarking the per-datagram print is left out (it would measure the
terminal) and the real address is printed as 'listening on IP:PORT'.

Usage: udp_server.py [HOST] [PORT]
"""
import random
import socket
import sys

MAX_BYTES = 65535


def server(ip: str, port: int):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, port))
    print('listening on {}:{}'.format(*sock.getsockname()), flush=True)
    while True:
        (data, address) = sock.recvfrom(MAX_BYTES)
        response = 'Here\'s your lucky number:{}'.format(random.random()).encode('ascii')
        sock.sendto(response, address)


if __name__ == '__main__':
    server(sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1',
           int(sys.argv[2]) if len(sys.argv) > 2 else 60000)
