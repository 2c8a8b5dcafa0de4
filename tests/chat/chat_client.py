"""The texts' ChatClient, as a test peer: connect, say "I'm ready.", print
whatever the server sends from a receiving thread, send each stdin line, stop
on `quit` or the end of input (closing the socket, as the original does).

Usage: python3 chat_client.py HOST PORT
"""
import socket
import sys
import threading


class ChatClient:
    def __init__(self, ip='127.0.0.1', port=9998):
        self.sock = socket.socket()
        self.addr = (ip, port)
        self.event = threading.Event()

    def start(self):  # connect, announce, start receiving
        self.sock.connect(self.addr)
        self.send("I'm ready.")
        threading.Thread(target=self.recv, name="recv", daemon=True).start()

    def recv(self):  # print what the server sends as it arrives
        while not self.event.is_set():
            try:
                data = self.sock.recv(1024)
            except OSError:
                break
            if not data:  # the original spins here; a test peer stops
                break
            sys.stdout.write(data.decode(errors='replace'))
            sys.stdout.flush()

    def send(self, msg: str):
        data = "{}\n".format(msg.strip()).encode()  # the server needs a newline
        self.sock.send(data)

    def stop(self):
        self.event.set()
        self.sock.close()


def main():
    cc = ChatClient(sys.argv[1], int(sys.argv[2]))
    cc.start()
    for cmd in sys.stdin:
        if cmd.strip() == 'quit':
            break
        cc.send(cmd)
    cc.stop()


if __name__ == '__main__':
    main()
