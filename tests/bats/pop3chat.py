#!/usr/bin/env python3
"""pop3chat.py: a scripted POP3 session for tests/bats/pop3.bats.

usage: pop3chat.py PORT [--tls | --stls CAFILE] < script

Script lines are sent with CRLF.  Special lines:
  <pause>        wait for the replies so far (until the server is quiet)
  <raw TEXT>     send TEXT with Python escapes (e.g. \\r\\n) and no CRLF
  <kill>         close the connection at once (no QUIT)
  <stls>         STLS, then the TLS handshake (CA from --stls)
Everything the server sent is printed, CR removed.
"""
import socket
import ssl
import sys
import time

port = int(sys.argv[1])
cafile = sys.argv[3] if len(sys.argv) > 3 else None
sock = socket.create_connection(("127.0.0.1", port), 10)


def tls_context():
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


if len(sys.argv) > 2 and sys.argv[2] == "--tls":
    sock = tls_context().wrap_socket(sock, server_hostname="localhost")


def drain(quiet=0.4, limit=10.0):
    """Reads until the server has been quiet for `quiet` seconds."""
    out = b""
    end = time.time() + limit
    sock.settimeout(quiet)
    while time.time() < end:
        try:
            d = sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            break
        if not d:
            break
        out += d
    sys.stdout.write(out.decode("latin-1").replace("\r", ""))
    sys.stdout.flush()
    return out


drain()
for line in sys.stdin.read().splitlines():
    try:
        if line == "<pause>":
            drain()
        elif line == "<kill>":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            sys.exit(0)
        elif line == "<stls>":
            sock.sendall(b"STLS\r\n")
            sock.settimeout(10)
            r = b""
            while not r.endswith(b"\n"):
                r += sock.recv(1)
            sys.stdout.write(r.decode().replace("\r", ""))
            sock = tls_context().wrap_socket(sock, server_hostname="localhost")
        elif line.startswith("<raw ") and line.endswith(">"):
            sock.sendall(line[5:-1].encode().decode("unicode_escape").encode("latin-1"))
        else:
            sock.sendall(line.encode() + b"\r\n")
    except OSError as e:
        print("send failed:", e)
        break
drain(quiet=1.0)
