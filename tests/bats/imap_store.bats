#!/usr/bin/env bats
# imap_store.bats: the store imapd and pop3d share (common/uidlist.c,
# imapd/mailbox/): the same UIDs through both programs (POP3 UIDL is
# "UIDVALIDITY.UID"), a version-1 index from an older pop3d kept, a POP3
# deletion seen by an IMAP session, a flag change by another Maildir
# reader keeping its UID.  Both programs run directly on a temporary
# Maildir (imapd -P preauth, pop3d on stdin/stdout), as mailboxd would
# start them.

load helper

setup() {
	T=$(mktemp -d /tmp/imapstore-test.XXXXXX)
	export IMAPD=${PH_IMAPD:-$PH_ROOT/libexec/imapd} POP3D=$PH_ROOT/libexec/pop3d CONF=$T/posthorn.conf
	export POSTHORN_USER=demo@example.test POSTHORN_MAILDIR=$T/md
	mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
	: >"$CONF"
	[ -x "$IMAPD" ] || skip "libexec/imapd is not built"
	[ -x "$POP3D" ] || skip "libexec/pop3d is not built"
	for i in 1 2 3 4; do
		printf 'From: a@example.test\nSubject: m%s\n\nbody %s\n' "$i" "$i" >"$T/md/new/100$i.M$i.host"
	done
}

teardown() {
	case "${T:-}" in
	/tmp/imapstore-test.?*) rm -rf "$T" ;;
	esac
}

# py: a python script on stdin; imap(cmds) and pop3(cmds) run one session
# each and return the lines.
py() {
	cat >"$T/lib.py" <<'LIB'
import os, re, subprocess
def run(argv, data):
    p = subprocess.run(argv, input=data.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=20)
    return p.stdout.decode(errors="replace").split("\r\n")
def imap(*cmds):
    data = "".join("t%d %s\r\n" % (i, c) for i, c in enumerate(cmds)) + "z LOGOUT\r\n"
    return run([os.environ["IMAPD"], "-P", "-c", os.environ["CONF"]], data)
def pop3(*cmds):
    return run([os.environ["POP3D"], "-c", os.environ["CONF"]], "".join(c + "\r\n" for c in cmds))
def uidls(lines):
    return [l.split()[1] for l in lines if re.match(r"^\d+ \d+\.\d+$", l)]
def imap_uids(lines):
    validity = [re.search(r"UIDVALIDITY (\d+)", l).group(1) for l in lines if "UIDVALIDITY" in l][0]
    uids = [re.search(r"UID (\d+)", l).group(1) for l in lines if " FETCH (" in l and "UID " in l]
    return ["%s.%s" % (validity, u) for u in uids]
LIB
	PYTHONPATH=$T python3 -
}

@test "imap_store: pop3d UIDL and imapd UIDs are the same values, before and after IMAP flag changes" {
	py <<'PY'
from lib import *
before = uidls(pop3("UIDL", "QUIT"))
assert len(before) == 4, before
r = imap("SELECT INBOX", "UID FETCH 1:* (UID)", "STORE 2 +FLAGS (\\Seen \\Flagged)",
         "STORE 3 +FLAGS ($Label1)", "UID FETCH 1:* (FLAGS)")
assert imap_uids(r)[:4] == before, (r, before)
assert any("FLAGS (\\Seen \\Flagged" in l or "FLAGS (\\Flagged \\Seen" in l for l in r), r
after = uidls(pop3("UIDL", "QUIT"))
assert after == before, (after, before)
r = imap("SELECT INBOX", "FETCH 1:* (UID FLAGS)")
assert imap_uids(r) == before, r
assert any("$Label1" in l for l in r), r
PY
}

@test "imap_store: a version-1 index from an older pop3d keeps its UIDs and UIDVALIDITY" {
	names=$(ls "$T/md/new" | sort)
	{
		echo "posthorn-uidlist 1 V777 N60 0 0"
		uid=17
		for n in $names; do
			echo "$uid 30 28 n $n"
			uid=$((uid + 10))
		done
	} >"$T/md/posthorn-uidlist"
	py <<'PY'
from lib import *
r = imap("SELECT INBOX", "FETCH 1:* (UID)")
assert "* OK [UIDVALIDITY 777] UIDs valid" in r and "* OK [UIDNEXT 60] predicted next UID" in r, r
assert imap_uids(r) == ["777.17", "777.27", "777.37", "777.47"], r
assert uidls(pop3("UIDL", "QUIT")) == ["777.17", "777.27", "777.37", "777.47"]
PY
	head -1 "$T/md/posthorn-uidlist" | grep -q "^posthorn-uidlist 2 V777 N60 "
}

@test "imap_store: a POP3 deletion and another reader's flag change reach a selected IMAP session" {
	py <<'PY'
import os, subprocess, time
from lib import *
env = dict(os.environ)
p = subprocess.Popen([env["IMAPD"], "-P", "-c", env["CONF"]], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def cmd(tag, line):
    p.stdin.write(("%s %s\r\n" % (tag, line)).encode()); p.stdin.flush()
    out = []
    while True:
        l = p.stdout.readline().decode().rstrip("\r\n")
        out.append(l)
        if l.startswith(tag + " "):
            return out
p.stdout.readline()
r = cmd("a", "SELECT INBOX")
assert "* 4 EXISTS" in r, r
uids = uidls(pop3("UIDL", "QUIT"))
# pop3 deletes message 1; a Maildir reader flags message 3 (a rename in cur/)
assert any(l.startswith("+OK") for l in pop3("DELE 1", "QUIT"))
cur = os.path.join(env["POSTHORN_MAILDIR"], "cur")
new = os.path.join(env["POSTHORN_MAILDIR"], "new")
third = sorted(os.listdir(new) + os.listdir(cur))[1]
src = os.path.join(new, third) if os.path.exists(os.path.join(new, third)) else os.path.join(cur, third)
os.rename(src, os.path.join(cur, third.split(":")[0] + ":2,F"))
r = cmd("b", "NOOP")
assert "* 1 EXPUNGE" in r, r
assert any(l.startswith("* 2 FETCH") and "\\Flagged" in l for l in r), r
r = cmd("c", "UID FETCH 1:* (UID)")
assert ["%s.%s" % (uids[0].split(".")[0], u) for u in
        [l.split("UID ")[1].rstrip(")") for l in r if "FETCH (UID " in l]] == uids[1:], (r, uids)
cmd("z", "LOGOUT")
p.wait(timeout=10)
assert uidls(pop3("UIDL", "QUIT")) == uids[1:]
PY
}
