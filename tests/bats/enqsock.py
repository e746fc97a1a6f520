#!/usr/bin/env python3
"""enqsock.py SOCKET [--partial] RECORD...: speaks enqueue's pipe protocol
(doc/design.md) over the queue writer's UNIX socket for enqueue_daemon.bats.
Each RECORD is TYPE:DATA (e.g. S:bob@example.test, R:demo@example.test,
M:text with \\n escapes, E:).  Prints the queue id line, then the answer.
--partial: sends the records, prints "sent", then waits (up to 30 s) for the
answer or the connection's end and prints "closed" (no E0: is sent by the
caller then, so the message must never be queued)."""
import socket, sys


def rec(t, d):
    b = d.encode()
    return t.encode() + str(len(b)).encode() + b":" + b + b"\n"


def main():
    args = sys.argv[1:]
    partial = "--partial" in args
    args = [a for a in args if a != "--partial"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(args[0])
    f = s.makefile("rb")
    print(f.readline().decode().rstrip("\n"), flush=True)
    data = b"".join(rec(a[0], a[2:].replace("\\n", "\n")) for a in args[1:])
    s.sendall(data)
    if partial:
        print("sent", flush=True)
        try:
            rest = f.readline()
        except (OSError, socket.timeout):
            rest = b""
        print(rest.decode().rstrip("\n") or "closed", flush=True)
        return
    s.shutdown(socket.SHUT_WR)
    print(f.readline().decode().rstrip("\n"), flush=True)


main()
