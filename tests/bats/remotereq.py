#!/usr/bin/env python3
"""remotereq.py: a stand-in for master, local and remote around the real
qmgr, for tests/bats/queue_remote.bats, until libexec/remote and master's
start of it are there (and after: it pins qmgr's side of the protocol of
doc/design.md "Remote delivery").  qmgr runs with fd 3 and fd 4 the ends
of two SOCK_SEQPACKET socketpairs; this script answers both.

  remotereq.py run DIR        runs qmgr -c DIR/etc/posthorn.conf until
                              SIGTERM; qmgr's log goes to DIR/log/qmgr.log.
      local requests: the message (read through the passed fd) is saved
          as DIR/pylocal/<recipient>.<n> and answered C2.
      remote requests: one line per request is appended to
          DIR/log/remote.req: "H=hop A=attr,.. X:R:O:F X:R:O:F ...";
          the answer per recipient comes from DIR/etc/remote.rules, lines
          "PATTERN CLASS TEXT" (PATTERN a substring of the recipient, first
          match wins; CLASS 2, 4, 5, or 'down': the whole request fails
          with the text and no remote host, like a dead MX); default 2.
          Replies name the host "mx.PEER[127.0.0.1]" unless down.
  remotereq.py inject DIR --from S [--ret R] [--envid E]
                      --to ADDR[,NOTIFY[,ORCPT]] ... [--body TEXT]
      runs DIR/libexec/enqueue (or the build's) with those records.
"""
import argparse
import array
import fcntl
import os
import signal
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rec(t, data):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + str(len(data)).encode() + b":" + data + b"\n"


def parse(p):
    out, i = [], 0
    while i < len(p):
        t = chr(p[i])
        j = p.index(b":", i)
        n = int(p[i + 1:j])
        out.append((t, p[j + 1:j + 1 + n]))
        i = j + 2 + n
    return out


def recv(sock):
    fds = array.array("i")
    msg, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def message(fd, recs):
    off = int(dict(recs)["P"])
    n = int(dict(recs)["L"])
    return os.pread(fd, n, off)


def on_local(d, sock, count):
    msg, fds = recv(sock)
    if not msg:
        return False
    recs = parse(msg)
    r = dict(recs)
    body = message(fds[0], recs)
    for fd in fds:
        os.close(fd)
    count[0] += 1
    out = os.path.join(d, "pylocal", "%s.%d" % (r["R"].decode(), count[0]))
    with open(out + ".tmp", "wb") as f:
        f.write(body)
    os.rename(out + ".tmp", out)
    sock.send(rec("N", r["N"]) + rec("C", "2") + rec("W", "2.0.0 saved"))
    return True


def rules(d):
    out = []
    try:
        with open(os.path.join(d, "etc", "remote.rules")) as f:
            for line in f:
                p = line.rstrip("\n").split(" ", 2)
                if len(p) == 3:
                    out.append(p)
    except FileNotFoundError:
        pass
    return out


def on_remote(d, sock):
    msg, fds = recv(sock)
    if not msg:
        return False
    for fd in fds:
        os.close(fd)
    recs = parse(msg)
    head = dict(recs[:recs.index(next(x for x in recs if x[0] == "X"))])
    attrs = [v.decode() for t, v in recs if t == "A"]
    rcpts, cur = [], None
    for t, v in recs:
        if t == "X":
            cur = [v.decode()]
            rcpts.append(cur)
        elif cur is not None and t in "ROF":
            cur.append(v.decode())
    with open(os.path.join(d, "log", "remote.req"), "a") as f:
        f.write("H=%s A=%s %s\n" % (head["H"].decode(), ",".join(attrs),
                                     " ".join(":".join(r) for r in rcpts)))
    rs = rules(d)
    answers, down = [], None
    for r in rcpts:
        cls, text = "2", "2.0.0 250 ok queued"
        for pat, c, t in rs:
            if pat in r[1]:
                cls, text = c, t
                break
        if cls == "down":
            down = text
        answers.append((r[0], cls, text))
    peer = head["H"].decode().strip("[]").split("]")[0]
    out = rec("N", head["N"]) + rec("M", "" if down else "mx.%s[127.0.0.1]" % peer)
    for x, cls, text in answers:
        if down:
            cls, text = "4", down
        out += rec("X", x) + rec("C", cls) + rec("W", text)
    sock.send(out)
    return True


def run(d):
    os.makedirs(os.path.join(d, "pylocal"), exist_ok=True)
    lq, lo = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    rq, ro = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    qmgr = os.path.join(d, "libexec", "qmgr")
    if not os.path.exists(qmgr):
        qmgr = os.path.join(ROOT, "libexec", "qmgr")

    def fds():
        a = fcntl.fcntl(lq.fileno(), fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(rq.fileno(), fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)
    log = open(os.path.join(d, "log", "qmgr.log"), "ab")
    p = subprocess.Popen([qmgr, "-c", os.path.join(d, "etc", "posthorn.conf")],
                         preexec_fn=fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log)
    lq.close()
    rq.close()
    signal.signal(signal.SIGTERM, lambda *_: p.terminate())
    count = [0]
    import select
    socks = [lo, ro]
    while p.poll() is None and socks:
        try:
            ready, _, _ = select.select(socks, [], [], 0.5)
        except InterruptedError:
            continue
        for s in ready:
            ok = on_local(d, s, count) if s is lo else on_remote(d, s)
            if not ok:
                socks.remove(s)
    p.wait()


def inject(a):
    recs = rec("S", a.sender)
    if a.ret:
        recs += rec("A", "ret=" + a.ret)
    if a.envid:
        recs += rec("A", "envid=" + a.envid)
    for t in a.to:
        p = t.split(",", 2) if "," in t else [t]
        if len(p) > 2 and p[2]:
            recs += rec("O", p[2])
        if len(p) > 1 and p[1]:
            recs += rec("F", p[1].replace("+", ","))
        recs += rec("R", p[0])
    recs += rec("M", "Subject: %s\nMessage-ID: <%s@example.test>\n\n%s\n" %
                (a.subject, a.subject, a.body))
    recs += rec("E", "")
    enq = os.path.join(a.dir, "libexec", "enqueue")
    if not os.path.exists(enq):
        enq = os.path.join(ROOT, "libexec", "enqueue")
    r = subprocess.run([enq, "-c", os.path.join(a.dir, "etc", "posthorn.conf")],
                       input=recs, capture_output=True)
    sys.stdout.write(r.stdout.decode(errors="replace"))
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(r.returncode)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("dir")
    i = sub.add_parser("inject")
    i.add_argument("dir")
    i.add_argument("--from", dest="sender", default="bob@example.test")
    i.add_argument("--to", action="append", required=True,
                   help="ADDR[,NOTIFY[,ORCPT]]; NOTIFY words joined with +")
    i.add_argument("--ret")
    i.add_argument("--envid")
    i.add_argument("--subject", default="remote test")
    i.add_argument("--body", default="remote body")
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.dir)
    else:
        inject(a)


if __name__ == "__main__":
    main()
