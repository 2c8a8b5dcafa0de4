# The texts' RetransmissionUDPClient.py, taking the server's address from
# argv, and checking from Python's side that the number is written as
# Python's own repr writes it (so the server's bytes are what TestServer.py
# would have sent).
import socket
import sys
MAX_BYTES = 65535
PREFIX = "Here's your lucky number:"

def client(serverIp: str, serverPort: int):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((serverIp,serverPort))
    delay = 0.1
    data = bytes("Hello, I'm a client.", 'ascii')
    while True:
        sock.send(data)
        sock.settimeout(delay)
        print('Waiting up to {} seconds for a reply'.format(delay))
        try:
            data = sock.recv(MAX_BYTES)
            print('The server replied {!r}'.format(data.decode('ascii')))
            break
        except socket.timeout as e:
            delay *= 2
            if(delay > 5):
                raise e
            else:
                continue
    text = data.decode('ascii')
    number = text[len(PREFIX):]
    assert text.startswith(PREFIX), text
    assert repr(float(number)) == number, (number, repr(float(number)))
    print('repr checked: {}'.format(number))

client(sys.argv[1], int(sys.argv[2]))
