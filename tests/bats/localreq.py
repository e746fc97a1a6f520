#!/usr/bin/env python3
"""localreq.py: drives libexec/local directly, the way qmgr does, for
tests/bats/local.bats.  It makes a minimal instance (config, users.cdb via
tinycdb's cdb(1), mail dir), writes hand-made queue files in the format of
doc/design.md, starts local with fd 3 one end of a SOCK_SEQPACKET
socketpair, sends requests with the queue file descriptor (SCM_RIGHTS) and
prints each reply as "ID C W".  After the socket is closed it prints
"exit N" with local's exit status.

  localreq.py setup DIR [ADDR=MAILBOX:QUOTA ...]
  localreq.py deliver DIR [--from S] [--to R ...] [--msg FILE] [--qid Q]
              [--bad KIND] [--kill-child] [--term]
Run as root, local runs as "nobody" (user_mail) and DIR/mail belongs to it.
"""
import argparse
import array
import os
import pwd
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL = os.environ.get("LOCAL", os.path.join(ROOT, "libexec", "local"))


def rec(t, data):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + str(len(data)).encode() + b":" + data + b"\n"


def setup(d, users):
    for sub in ("etc", "mail", "queue", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    root = os.geteuid() == 0
    with open(os.path.join(d, "etc", "posthorn.conf"), "w") as f:
        f.write("hostname = mx.example.test\ndomain = example.test\n")
        f.write("mail_dir = %s/mail\nqueue_dir = %s/queue\nlog_dir = %s/log\n" % (d, d, d))
        f.write("user_mail = %s\n" % ("nobody" if root else pwd.getpwuid(os.geteuid()).pw_name))
    if not users:
        users = ["demo@example.test=example.test/demo/:0"]
    text = "".join("%s %s\n" % tuple(u.split("=", 1)) for u in users)
    cdb = os.path.join(d, "etc", "users.cdb")
    subprocess.run(["cdb", "-c", "-m", cdb], input=text.encode(), check=True)
    with open(os.path.join(d, "etc", "domains"), "w") as f:
        f.write("example.test\n")
    subprocess.run(["cdb", "-c", "-m", os.path.join(d, "etc", "domains.cdb")],
                   input=b"example.test x\n", check=True)
    for p in (d, os.path.join(d, "etc")):
        os.chmod(p, 0o755)
    if root:
        nobody = pwd.getpwnam("nobody")
        os.chown(os.path.join(d, "mail"), nobody.pw_uid, nobody.pw_gid)
    os.chmod(os.path.join(d, "mail"), 0o700)


def queue_file(d, qid, sender, rcpts, msg, arrival):
    """Writes a queue file; returns (path, message offset, length)."""
    head = rec("V", "1") + rec("I", qid) + rec("T", str(arrival)) + rec("S", sender)
    for r in rcpts:
        head += rec("R", r)
    head += b"M%012d:" % len(msg)
    path = os.path.join(d, "queue", qid)
    with open(path, "wb") as f:
        f.write(head + msg + b"\nE0:\n")
    return path, len(head), len(msg)


def request(n, qid, sender, rcpt, off, length, arrival, index):
    return (rec("N", str(n)) + rec("Q", qid) + rec("S", sender) + rec("R", rcpt) +
            rec("P", str(off)) + rec("L", str(length)) + rec("T", str(arrival)) +
            rec("X", str(index)))


def start_local(d):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def on_fd3():
        if theirs.fileno() == 3:
            os.set_inheritable(3, True)
        else:
            os.dup2(theirs.fileno(), 3)

    log = open(os.path.join(d, "log", "local.log"), "ab")
    p = subprocess.Popen([LOCAL, "-c", os.path.join(d, "etc", "posthorn.conf")],
                         preexec_fn=on_fd3, pass_fds=(3,),
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    theirs.close()
    log.close()
    return ours, p


def parse_reply(pkt):
    out, i = {}, 0
    while i < len(pkt):
        t = chr(pkt[i])
        colon = pkt.index(b":", i)
        n = int(pkt[i + 1:colon])
        out[t] = pkt[colon + 1:colon + 1 + n].decode("utf-8", "replace")
        i = colon + 1 + n + 1
    return out


def read_reply(sock, timeout=60):
    sock.settimeout(timeout)
    r = parse_reply(sock.recv(65536))
    return "%s %s %s" % (r.get("N", "?"), r.get("C", "?"), r.get("W", "?"))


def child_pids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def send_bad(sock, kind, req, far, fd, other_fd):
    """Malformed requests; each must still get an answer."""
    if kind == "nofd":
        sock.sendmsg([req])
    elif kind == "garbage":
        socket.send_fds(sock, [b"N1:1\nthis is not a record"], [fd])
    elif kind == "missing":
        socket.send_fds(sock, [rec("N", "1") + rec("Q", "ABC")], [fd])
    elif kind == "toolong":
        socket.send_fds(sock, [rec("N", "1") + rec("O", "x" * 20000)], [fd])
    elif kind == "range":
        socket.send_fds(sock, [far], [fd])
    elif kind == "dup":
        socket.send_fds(sock, [req + rec("R", "demo@example.test")], [fd])
    elif kind == "ctlbad":
        socket.send_fds(sock, [req], [fd, other_fd])	# extra fd: closed, still ok
    elif kind == "notfile":
        r, w = os.pipe()
        socket.send_fds(sock, [req], [r])
        os.close(r)
        os.close(w)
    elif kind == "crlf":
        socket.send_fds(sock, [req.replace(b"R17:demo@example.test",
                                           b"R19:demo@example.test\r\n")], [fd])
    else:
        raise SystemExit("unknown --bad " + kind)


def deliver(a):
    msg = open(a.msg, "rb").read() if a.msg else sys.stdin.buffer.read()
    rcpts = a.to or ["demo@example.test"]
    arrival = a.arrival or int(time.time())
    path, off, length = queue_file(a.dir, a.qid, a.sender, rcpts, msg, arrival)
    fd = os.open(path, os.O_RDONLY)
    sock, p = start_local(a.dir)
    try:
        if a.bad:
            req = request(1, a.qid, a.sender, rcpts[0], off, length, arrival, 0)
            far = request(1, a.qid, a.sender, rcpts[0], 10**9, length, arrival, 0)
            send_bad(sock, a.bad, req, far, fd, os.open("/dev/null", os.O_RDONLY))
            print(read_reply(sock))
        else:
            for i, r in enumerate(rcpts):
                req = request(i + 1, a.qid, a.sender, r, off, length, arrival, i)
                socket.send_fds(sock, [req], [fd])
            if a.kill_child:
                for _ in range(600):
                    kids = child_pids(p.pid)
                    if kids:
                        os.kill(kids[0], 9)
                        break
                    time.sleep(0.05)
            for _ in rcpts:
                print(read_reply(sock))
    finally:
        os.close(fd)
        if a.term:
            os.kill(p.pid, 15)
            print("exit %d" % p.wait(timeout=60))
        sock.close()
        print("exit %d" % p.wait(timeout=60))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("dir")
    s.add_argument("users", nargs="*")
    d = sub.add_parser("deliver")
    d.add_argument("dir")
    d.add_argument("--from", dest="sender", default="sender@example.org")
    d.add_argument("--to", action="append")
    d.add_argument("--msg")
    d.add_argument("--qid", default="65A1B2C3D4E5F6")
    d.add_argument("--arrival", type=int, default=0)
    d.add_argument("--bad")
    d.add_argument("--kill-child", action="store_true")
    d.add_argument("--term", action="store_true", help="SIGTERM local before closing")
    a = ap.parse_args()
    if a.cmd == "setup":
        setup(os.path.abspath(a.dir), a.users)
    else:
        a.dir = os.path.abspath(a.dir)
        deliver(a)


if __name__ == "__main__":
    main()
