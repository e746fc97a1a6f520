#!/usr/bin/env python3
"""submit_tls.py HOST PORT USER PASSWORD COUNT CONC SIZE CAFILE NEWDIR:
the TLS+AUTH part of `make bench`.  CONC threads, each one SMTP session
on the submission port: STARTTLS (verified against CAFILE), AUTH PLAIN,
then its share of COUNT messages of SIZE bytes to USER.  Prints one line
"accept_rate=N e2e_rate=N": messages accepted per second (from the first
connection to the last 250 of all sessions) and delivered per second (until
NEWDIR holds them all)."""
import os, smtplib, ssl, sys, threading, time

host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count, conc, size = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
cafile, newdir = sys.argv[8], sys.argv[9]
body = "Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * max(1, size // 78)
errors = []

def worker(n):
    try:
        ctx = ssl.create_default_context(cafile=cafile)
        s = smtplib.SMTP(host, port, local_hostname="bench.test", timeout=120)
        s.starttls(context=ctx)
        s.login(user, pw)
        for _ in range(n):
            s.sendmail(user, [user], body)
        s.quit()
    except Exception as e:  # reported, and the run counts as failed
        errors.append(repr(e))

before = len(os.listdir(newdir))
shares = [count // conc + (1 if i < count % conc else 0) for i in range(conc)]
t0 = time.time()
threads = [threading.Thread(target=worker, args=(n,)) for n in shares]
for t in threads:
    t.start()
for t in threads:
    t.join()
t1 = time.time()
deadline = t1 + 900
while len(os.listdir(newdir)) - before < count and time.time() < deadline:
    time.sleep(0.05)
t2 = time.time()
done = len(os.listdir(newdir)) - before
if errors or done < count:
    print("errors=%d delivered=%d %s" % (len(errors), done, errors[:1]))
    sys.exit(1)
print("accept_rate=%.1f e2e_rate=%.1f" % (count / (t1 - t0), count / (t2 - t0)))
