#!/usr/bin/env python3
"""imap_load.py: the load generator of tests/bench/imap (posthorn imapd and
the reference Dovecot get exactly the same client).  Plain IMAP on
loopback, LOGIN with quoted strings.

  imap_load.py open HOST PORT USER PASS BOX
      one session: LOGIN, SELECT BOX, FETCH 1:* (FLAGS), LOGOUT; prints
      login=ms select=ms fetch=ms total=ms messages=N
  imap_load.py mem HOST PORT USER PASS BOX N ROOTPID NAME...
      opens N sessions (logged in, BOX selected, then idle), then sums the
      PSS and RSS of the processes below ROOTPID whose command name is one
      of NAME (/proc/PID/smaps_rollup); prints
      sessions=N procs=P pss_kb=.. rss_kb=.. pss_per_session_kb=.. rss_per_session_kb=..
      and pss_NAME=.. (kB per session) for each NAME found
  imap_load.py mixed HOST PORT USER PASS BOX CLIENTS ITERS
      CLIENTS processes, each logged in once, then ITERS rounds of SELECT,
      FETCH (FLAGS ENVELOPE) of 10 messages, FETCH BODY[] of one, STORE
      +FLAGS/-FLAGS, APPEND, UID STORE +FLAGS (\\Deleted) and UID EXPUNGE of
      the appended message (7 commands); BOX keeps its size.  Prints
      ops=.. secs=.. ops_per_s=.. (commands answered OK per second of wall
      time, logins not counted)
IMAP_LOAD_TLS=1: open and mem speak implicit TLS (give the IMAPS port).
The raw client (open, mem) reads whole buffers and looks only for the
tagged reply, so the client costs little next to the server."""
import multiprocessing
import os
import random
import re
import socket
import ssl
import sys
import time


class Raw:
    """A minimal IMAP client: send a command, read until its tagged reply."""

    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=600)
        if os.environ.get("IMAP_LOAD_TLS") == "1":
            # implicit TLS (the IMAPS port); loopback, so no verification
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s)
        self.buf = bytearray()
        self.n = 0
        self._read_line()  # greeting

    def _read_line(self):
        while b"\r\n" not in self.buf:
            self._recv()
        i = self.buf.index(b"\r\n") + 2
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line

    def _recv(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise SystemExit("server closed the connection")
        self.buf += d

    def cmd(self, text):
        """Sends TAG TEXT; returns the whole reply, untagged lines included."""
        self.n += 1
        tag = b"b%d" % self.n
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        pat = b"\r\n" + tag + b" "
        start = 0
        while True:
            if self.buf.startswith(tag + b" "):
                i = 0
            else:
                i = self.buf.find(pat, start)
                if i >= 0:
                    i += 2
            if i >= 0:
                j = self.buf.find(b"\r\n", i)
                if j >= 0:
                    out = bytes(self.buf[:j + 2])
                    del self.buf[:j + 2]
                    status = out[i + len(tag) + 1:].split(b" ", 1)[0]
                    if status != b"OK":
                        raise SystemExit("%s failed: %r" % (text.split(" ")[0], out[i:][:200]))
                    return out
            start = max(0, len(self.buf) - len(pat))
            self._recv()

    def close(self):
        try:
            self.cmd("LOGOUT")
        except SystemExit:
            pass
        self.s.close()


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def login_select(host, port, user, password, box):
    c = Raw(host, port)
    c.cmd("LOGIN %s %s" % (quote(user), quote(password)))
    c.cmd("SELECT %s" % quote(box))
    return c


def cmd_open(host, port, user, password, box):
    t0 = time.perf_counter()
    c = Raw(host, port)
    c.cmd("LOGIN %s %s" % (quote(user), quote(password)))
    t1 = time.perf_counter()
    sel = c.cmd("SELECT %s" % quote(box))
    t2 = time.perf_counter()
    fet = c.cmd("FETCH 1:* (FLAGS)")
    t3 = time.perf_counter()
    c.close()
    n = int(re.search(rb"\* (\d+) EXISTS", sel).group(1))
    got = fet.count(b" FETCH (")
    if got != n:
        raise SystemExit("FETCH 1:* answered %d of %d messages" % (got, n))
    print("login=%.1f select=%.1f fetch=%.1f total=%.1f messages=%d" %
          ((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t3 - t0) * 1000, n))


def children(root):
    """Every pid below root (root itself excluded)."""
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def mem_of(pid):
    """(comm, pss kB, rss kB) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
        pss = rss = 0
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
        return comm, pss, rss
    except OSError:
        return None


def cmd_mem(host, port, user, password, box, n, root, names):
    conns = [login_select(host, port, user, password, box) for _ in range(n)]
    for c in conns:
        c.cmd("NOOP")
    time.sleep(1)
    procs = pss = rss = 0
    by_name = {}
    for pid in children(root):
        m = mem_of(pid)
        if m and m[0] in names:
            procs += 1
            pss += m[1]
            rss += m[2]
            by_name[m[0]] = by_name.get(m[0], 0) + m[1]
    for c in conns:
        c.close()
    print("sessions=%d procs=%d pss_kb=%d rss_kb=%d pss_per_session_kb=%.1f rss_per_session_kb=%.1f %s" %
          (n, procs, pss, rss, pss / n, rss / n,
           " ".join("pss_%s=%.1f" % (k, v / n) for k, v in sorted(by_name.items()))))


MSG = ("From: Load <load@example.test>\r\nTo: bench@example.test\r\n"
       "Subject: load %d.%d\r\nMessage-ID: <load-%d-%d@example.test>\r\n"
       "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n" + "appended by the mixed load\r\n" * 20)


def client(args):
    host, port, user, password, box, iters, idx, start, nclients = args
    import imaplib
    rnd = random.Random(idx)
    m = imaplib.IMAP4(host, port, timeout=120)
    m.login(user, password)
    ops = 0

    def ok(r):
        nonlocal ops
        if r[0] != "OK":
            raise SystemExit("client %d: %r" % (idx, r))
        ops += 1
        return r

    start.wait(timeout=300)
    t0 = time.perf_counter()
    for i in range(iters):
        n = int(ok(m.select(box))[1][-1])  # the last EXISTS is the count
        # only the folder's own messages: the others' appended ones may be
        # gone by now (a legitimate NO [EXPUNGEISSUED] that is not the load)
        lo = rnd.randrange(1, max(2, n - nclients - 10))
        ok(m.fetch("%d:%d" % (lo, lo + 9), "(FLAGS ENVELOPE)"))
        ok(m.fetch(str(rnd.randrange(1, n // 2)), "(BODY[])"))
        ok(m.store(str(rnd.randrange(1, n // 2)), "+FLAGS" if i % 2 else "-FLAGS", r"(\Flagged)"))
        r = ok(m.append(box, r"(\Seen)", None, (MSG % (idx, i, idx, i)).encode()))
        uid = re.search(rb"APPENDUID \d+ (\d+)", r[1][0]).group(1).decode()
        ok(m.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
        ok(m.uid("EXPUNGE", uid))
    t1 = time.perf_counter()
    m.logout()
    return ops, t0, t1


def cmd_mixed(host, port, user, password, box, clients, iters):
    mgr = multiprocessing.Manager()
    start = mgr.Barrier(clients + 1)  # every client logged in before the clock starts
    with multiprocessing.Pool(clients) as pool:
        res = pool.map_async(client, [(host, port, user, password, box, iters, i, start, clients)
                                      for i in range(clients)])
        start.wait(timeout=300)
        out = res.get()
    ops = sum(o for o, _, _ in out)
    secs = max(t1 for _, _, t1 in out) - min(t0 for _, t0, _ in out)
    print("ops=%d secs=%.2f ops_per_s=%.1f" % (ops, secs, ops / secs))


def main(a):
    host, port, user, password, box = a[2], int(a[3]), a[4], a[5], a[6]
    if a[1] == "open":
        cmd_open(host, port, user, password, box)
    elif a[1] == "mem":
        cmd_mem(host, port, user, password, box, int(a[7]), int(a[8]), set(a[9:]))
    elif a[1] == "mixed":
        cmd_mixed(host, port, user, password, box, int(a[7]), int(a[8]))
    else:
        raise SystemExit("usage: see the top of imap_load.py")


if __name__ == "__main__":
    main(sys.argv)
