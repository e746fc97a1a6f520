#!/usr/bin/env python3
"""pop3_time.py HOST PORT USER PASSWORD RUNS: times one POP3 session's
login (USER/PASS until +OK), STAT, UIDL and LIST with python3 poplib, RUNS
times (after one warm-up session), and prints the medians in milliseconds:
    login=.. stat=.. uidl=.. list=.. messages=N
Used by tests/bench/pop3."""
import poplib
import statistics
import sys
import time

host, port, user, password, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])


def one():
    t = {}
    p = poplib.POP3(host, port, timeout=120)
    a = time.perf_counter()
    p.user(user)
    p.pass_(password)
    b = time.perf_counter()
    n, _ = p.stat()
    c = time.perf_counter()
    u = p.uidl()[1]
    d = time.perf_counter()
    li = p.list()[1]
    e = time.perf_counter()
    p.quit()
    if len(u) != n or len(li) != n:
        raise SystemExit("inconsistent answers: stat %d uidl %d list %d" % (n, len(u), len(li)))
    t["login"], t["stat"], t["uidl"], t["list"] = b - a, c - b, d - c, e - d
    return n, t


one()
res = {k: [] for k in ("login", "stat", "uidl", "list")}
for _ in range(runs):
    n, t = one()
    for k, v in t.items():
        res[k].append(v * 1000)
print(" ".join("%s=%.2f" % (k, statistics.median(v)) for k, v in res.items()) + " messages=%d" % n)
