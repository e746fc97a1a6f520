#!/usr/bin/env python3
"""smtpchat.py HOST PORT: sends raw bytes to an SMTP server for the bats
tests and prints every reply line.  Reads a script on stdin: each line is
sent with CRLF appended, except that the escapes \\r \\n \\x00 in a line are
decoded and a line ending in a backslash is sent without CRLF.  A line
"<wait>" reads replies until the server is quiet for 0.5 s.  At the end it
reads until the server closes or is quiet for 2 s."""
import socket, sys, time

def drain(s, quiet):
    out = b""
    s.settimeout(quiet)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        out += d
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
    sys.stdout.flush()

def main():
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 10)
    for raw in sys.stdin.read().split("\n"):
        if raw == "<wait>":
            drain(s, 0.5)
            continue
        if raw == "":
            continue
        data = raw.encode("utf-8", "surrogateescape")
        nocrlf = data.endswith(b"\\")
        if nocrlf:
            data = data[:-1]
        data = data.decode("unicode_escape").encode("latin-1") if b"\\" in data else data
        try:
            s.sendall(data if nocrlf else data + b"\r\n")
        except OSError:
            break
    drain(s, 2)

main()
