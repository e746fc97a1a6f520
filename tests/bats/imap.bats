#!/usr/bin/env bats
# imap.bats: imapd's protocol side (imapd/mailbox/) through its preauth
# mode: libexec/imapd -P on a temporary Maildir, driven by imapchat.py
# (raw commands, literals, pipelining, two sessions at once) and by
# python3 imaplib (IMAP4_stream) as a real client; at the end IDLE in a
# running instance sees a message delivered over SMTP.

load helper

setup() {
	T=$(mktemp -d /tmp/imap-test.XXXXXX)
	chmod 755 "$T"
	export IMAPD=${PH_IMAPD:-$PH_ROOT/libexec/imapd} IMAP_CONF=$T/posthorn.conf
	export POSTHORN_USER=demo@example.test POSTHORN_MAILDIR=$T/md IMAP_STDERR=$T/imapd.stderr
	mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
	echo "max_errors = 5" >"$IMAP_CONF"
	[ -x "$IMAPD" ] || skip "libexec/imapd is not built yet"
}

teardown() {
	if [ -s "${T:-/nonexistent}/imapd.stderr" ] && grep -q Sanitizer "$T/imapd.stderr"; then
		cat "$T/imapd.stderr" >&2
	fi
	ph_teardown
	case "${T:-}" in
	/tmp/imap-test.?*) rm -rf "$T" ;;
	esac
}

# py: a python script on stdin with imapchat's Session importable.
py() { PYTHONPATH=$BATS_TEST_DIRNAME python3 -; }

# put_msg NAME TEXT: a message file in new/ (printf %b escapes).
put_msg() { printf '%b' "$2" >"$POSTHORN_MAILDIR/new/$1"; }

three_msgs() {
	put_msg 1000.A.host "From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: first one\nDate: Mon, 2 Jan 2023 10:00:00 +0000\nMessage-ID: <1@example.test>\n\nhello world\nsecond line\n"
	put_msg 1001.B.host "From: carol@example.test\nTo: bob@example.test\nCc: dave@example.test\nSubject: =?UTF-8?Q?caf=C3=A9?= second\nDate: Tue, 3 Jan 2023 11:00:00 +0100\n\nanother body with NEEDLE inside\n"
	put_msg 1002.C.host "From: eve@example.test\nSubject: third\nX-Custom: marker\n\nno final newline"
	touch -d '2023-01-02 12:00:00 UTC' "$POSTHORN_MAILDIR/new/1000.A.host"
	touch -d '2023-01-03 12:00:00 UTC' "$POSTHORN_MAILDIR/new/1001.B.host"
	touch -d '2023-01-05 12:00:00 UTC' "$POSTHORN_MAILDIR/new/1002.C.host"
}

@test "imap: preauth greeting, CAPABILITY, NOOP, ID, NAMESPACE, ENABLE, LOGIN refused, LOGOUT" {
	py <<'PY'
from imapchat import Session
s = Session()
caps = "IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE NAMESPACE ENABLE SPECIAL-USE CHILDREN UNSELECT ID CONDSTORE QRESYNC ESEARCH"
assert s.greeting.startswith("* PREAUTH [CAPABILITY " + caps + "]"), s.greeting
r = s.cmd("CAPABILITY")
assert r[0] == "* CAPABILITY " + caps and s.ok(r) == "OK", r
assert s.ok(s.cmd("NOOP")) == "OK"
r = s.cmd('ID ("name" "test" "version" "1")')
assert r[0].startswith('* ID ("name" "posthorn"') and s.ok(r) == "OK", r
assert s.ok(s.cmd("ID NIL")) == "OK"
r = s.cmd("NAMESPACE")
assert r[0] == '* NAMESPACE (("" ".")) NIL NIL', r
r = s.cmd("ENABLE CONDSTORE X-UNKNOWN")
assert r[0] == "* ENABLED CONDSTORE" and s.ok(r) == "OK", r
assert s.ok(s.cmd("LOGIN a b")) == "BAD"
assert s.ok(s.cmd("AUTHENTICATE PLAIN")) == "BAD"
assert s.ok(s.cmd("FETCH 1 FLAGS")) == "BAD"	# no mailbox selected
r = s.cmd("LOGOUT")
assert r[0].startswith("* BYE") and s.ok(r) == "OK", r
assert s.p.wait(10) == 0
PY
}

@test "imap: without -P the first line is the hand-off line for imapd-login; no Maildir answers NO [UNAVAILABLE]" {
	run bash -c 'printf "a1 NOOP\r\na2 LOGOUT\r\n" | "$IMAPD" -c "$IMAP_CONF" 2>/dev/null'
	assert_success
	assert_line --index 0 --regexp '^OK \[CAPABILITY IMAP4rev1 .*CONDSTORE QRESYNC ESEARCH\] '
	assert_line --index 1 --partial 'a1 OK'
	run bash -c 'POSTHORN_MAILDIR=$T/nonexistent "$IMAPD" -c "$IMAP_CONF" </dev/null 2>/dev/null'
	[ "$status" -eq 111 ]
	assert_output --partial 'NO [UNAVAILABLE]'
	run bash -c 'POSTHORN_MAILDIR=relative/path "$IMAPD" -c "$IMAP_CONF" </dev/null 2>/dev/null'
	[ "$status" -eq 111 ]
	run bash -c 'POSTHORN_USER= "$IMAPD" -P -c "$IMAP_CONF" </dev/null 2>/dev/null'
	[ "$status" -eq 111 ]
	assert_output --partial '* BYE [UNAVAILABLE]'
}

@test "imap: bad syntax gets BAD and the session goes on; too many errors end it" {
	py <<'PY'
from imapchat import Session
s = Session()
assert s.ok(s.cmd("FROB")) == "BAD"
assert s.ok(s.cmd("NOOP extra")) == "BAD"
assert s.ok(s.cmd('SELECT "unterminated')) == "BAD"
s.send(b"\r\n")
line = s.readline()
assert line.startswith("* BAD"), line
assert s.ok(s.cmd("NOOP")) == "OK"
# the fifth error (max_errors = 5) ends the session with BYE
r = s.cmd("STATUS INBOX (BOGUS)")
assert s.ok(r) == "BAD", r
rest = s.p.stdout.read().decode()
assert "* BYE" in rest, rest
assert s.p.wait(10) == 0
PY
}

@test "imap: a command line over 64 KiB is refused, the session goes on" {
	py <<'PY'
from imapchat import Session
s = Session()
s.send(b"a1 NOOP " + b"x" * 70000 + b"\r\n")
line = s.readline()
assert line.startswith("* BAD"), line
assert s.ok(s.cmd("NOOP")) == "OK"
s.close()
PY
}

@test "imap: synchronising literals get '+', LITERAL+ ones do not; oversized literals are refused" {
	py <<'PY'
from imapchat import Session
s = Session()
r = s.cmd("CREATE %L", literal=b"Lit Folder")
assert r[0].startswith("+ ") and s.ok(r) == "OK", r
r = s.cmd("CREATE +%L", literal=b"Plus Folder")
assert s.ok(r) == "OK" and not any(l.startswith("+") for l in r), r
r = s.cmd('LIST "" *')
assert any(l.endswith('"Lit Folder"') for l in r), r
assert any(l.endswith('"Plus Folder"') for l in r), r
# 100 KiB literal outside APPEND: refused without a continuation
s.send(b"big SELECT {100000}\r\n")
r = s.read_until("big")
assert r[-1].startswith("big BAD"), r
assert s.ok(s.cmd("NOOP")) == "OK"
# a huge non-synchronising literal ends the session (its bytes would follow)
s.send(b"huge SELECT {100000+}\r\n")
rest = s.p.stdout.read().decode()
assert "* BYE" in rest, rest
# more than 1000 literals in one command end the session too
s = Session()
s.send(b"many ID (" + b"{1+}\r\nx " * 1001 + b")\r\n")
rest = s.p.stdout.read().decode()
assert "* BYE too many literals" in rest, rest
PY
}

@test "imap: special-use folders, LIST with attributes and patterns, LSUB, SUBSCRIBE" {
	py <<'PY'
from imapchat import Session
s = Session()
r = s.cmd('LIST "" "*"')
for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                   ("Junk", "\\Junk"), ("Archive", "\\Archive")):
    assert any(attr in l and l.endswith(' "." ' + name) for l in r), (name, r)
assert r[0].endswith(" INBOX"), r	# INBOX first
assert s.ok(s.cmd("CREATE Work.Projects.Alpha")) == "OK"
r = s.cmd('LIST "" "Work.%"')
assert any("\\HasChildren" in l and l.endswith(" Work.Projects") for l in r), r
assert not any(l.endswith("Alpha") for l in r), r
r = s.cmd('LIST "" "Work*"')
assert any("\\HasNoChildren" in l and l.endswith("Work.Projects.Alpha") for l in r), r
r = s.cmd('LIST "" ""')
assert r[0] == '* LIST (\\Noselect) "." ""', r
r = s.cmd('LIST "Work." "%"')
assert any(l.endswith("Work.Projects") for l in r), r
assert s.ok(s.cmd("SUBSCRIBE Work.Projects.Alpha")) == "OK"
r = s.cmd('LSUB "" "*"')
assert any(l.startswith("* LSUB") and l.endswith("Work.Projects.Alpha") for l in r), r
r = s.cmd('LIST (SUBSCRIBED) "" "*"')
assert any("\\Subscribed" in l and l.endswith("Work.Projects.Alpha") for l in r), r
assert s.ok(s.cmd("UNSUBSCRIBE Work.Projects.Alpha")) == "OK"
r = s.cmd('LSUB "" "Work*"')
assert not any(l.endswith("Alpha") for l in r), r
r = s.cmd('LIST "" "*" RETURN (SPECIAL-USE)')
assert s.ok(r) == "OK" and any("\\Sent" in l for l in r), r
s.close()
PY
}

@test "imap: CREATE, RENAME (also INBOX), DELETE, STATUS" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
assert s.ok(s.cmd("CREATE Box")) == "OK"
r = s.cmd("CREATE Box")
assert s.ok(r) == "NO" and "[ALREADYEXISTS]" in r[-1], r
assert s.ok(s.cmd("CREATE Parent.")) == "OK"
assert s.ok(s.cmd("RENAME Box Renamed")) == "OK"
r = s.cmd('LIST "" "*"')
assert any(l.endswith(" Renamed") for l in r) and not any(l.endswith(" Box") for l in r), r
assert s.ok(s.cmd("RENAME Nope Other")) == "NO"
r = s.cmd("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)")
st = r[0]
assert st.startswith("* STATUS INBOX (MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY "), st
assert "UNSEEN 3" in st and "HIGHESTMODSEQ" in st, st
assert s.ok(s.cmd("RENAME INBOX Old")) == "OK"
r = s.cmd("STATUS Old (MESSAGES)")
assert r[0] == "* STATUS Old (MESSAGES 3)", r
r = s.cmd("STATUS INBOX (MESSAGES)")
assert r[0] == "* STATUS INBOX (MESSAGES 0)", r
assert s.ok(s.cmd("DELETE Renamed")) == "OK"
assert s.ok(s.cmd("DELETE Renamed")) == "NO"
assert s.ok(s.cmd("DELETE INBOX")) == "NO"
assert s.ok(s.cmd("STATUS Nope (MESSAGES)")) == "NO"
s.close()
PY
}

@test "imap: folder name attacks are refused and create nothing outside the Maildir" {
	py <<'PY'
from imapchat import Session
s = Session()
bad = ["../escape", "a/b", "/etc", ".", "..", "a..b", "x" * 300, "&Jjo", "&AGE-", "a\x01b",
       "Work..x", "INBOX/../x"]
for name in bad:
    q = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    r = s.cmd("CREATE " + q)
    assert s.ok(r) in ("NO", "BAD"), (name, r)
    assert s.ok(s.cmd("SELECT " + q)) in ("NO", "BAD"), name
    assert s.ok(s.cmd("RENAME Sent " + q)) in ("NO", "BAD"), name
# a name sent as a literal can hold CR LF: it must not end up in a response
r = s.cmd("CREATE %L", literal=b"x\r\n* OK injected")
assert s.ok(r) == "NO" and not any("injected" in l and not l.startswith("T") for l in r), r
assert s.ok(s.cmd('CREATE "&ZeVnLIqe-"')) == "OK"	# valid modified UTF-7
s.close()
PY
	[ ! -e "$T/escape" ] && [ ! -e /etc/.posthorn ] && [ ! -e "$T/md/a" ]
	run ls -a "$T"
	assert_output --partial md
	[ "$(ls -a "$T" | grep -vc stderr)" -eq 4 ]	# ., .., md, posthorn.conf
}

@test "imap: SELECT and EXAMINE responses; CLOSE, UNSELECT; \\Recent claimed once" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
r = s.cmd("SELECT inbox")
t = "\n".join(r)
for want in ("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", "* 3 EXISTS", "* 3 RECENT",
             "* OK [UNSEEN 1]", "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]",
             "* OK [UIDVALIDITY ", "* OK [UIDNEXT 4]", "* OK [HIGHESTMODSEQ "):
    assert want in t, (want, t)
assert "[READ-WRITE]" in r[-1], r
assert s.ok(s.cmd("UNSELECT")) == "OK"
r = s.cmd("EXAMINE INBOX")
t = "\n".join(r)
assert "[READ-ONLY]" in r[-1] and "* 0 RECENT" in t, r	# already claimed
assert s.ok(s.cmd("STORE 1 +FLAGS (\\Seen)")) == "NO"
assert s.ok(s.cmd("EXPUNGE")) == "NO"
assert s.ok(s.cmd("CLOSE")) == "OK"
assert s.ok(s.cmd("CLOSE")) == "BAD"	# nothing selected now
assert s.ok(s.cmd("SELECT Nope")) == "NO"
r = s.cmd("SELECT INBOX (CONDSTORE)")
assert s.ok(r) == "OK", r
s.close()
PY
}

@test "imap: APPEND with flags and date gives APPENDUID; FETCH shows them; [TRYCREATE]" {
	py <<'PY'
from imapchat import Session
s = Session()
msg = b"From: a@example.test\r\nSubject: appended\r\n\r\nbody line\r\n"
r = s.cmd('APPEND Drafts (\\Draft \\Seen $Label1) "17-Jul-1996 02:44:25 -0700" %L', literal=msg)
assert s.ok(r) == "OK" and "[APPENDUID " in r[-1], r
uidv, uid = r[-1].split("[APPENDUID ")[1].split("]")[0].split()
r = s.cmd("APPEND Drafts +%L", literal=b"Subject: two\r\n\r\nx\r\n")
assert s.ok(r) == "OK" and r[-1].split("[APPENDUID ")[1].split("]")[0].split()[1] == str(int(uid) + 1), r
r = s.cmd("APPEND NoSuch %L", literal=msg)
assert s.ok(r) == "NO" and "[TRYCREATE]" in r[-1], r
r = s.cmd("SELECT Drafts")
assert "* OK [UIDVALIDITY %s]" % uidv in "\n".join(r), r
r = s.cmd("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
f = r[0]
assert "UID " + uid in f and "INTERNALDATE \"17-Jul-1996 09:44:25 +0000\"" in f, f
for fl in ("\\Draft", "\\Seen", "$Label1"):
    assert fl in f, (fl, f)
assert "RFC822.SIZE %d" % len(msg) in f, f
assert f.endswith(msg.decode() + ")"), f
s.close()
PY
}

@test "imap: FETCH items, sections, partials; BODY[] sets \\Seen and reports FLAGS, PEEK does not" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("SELECT INBOX")
r = s.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
f = r[0]
size = int(f.split("RFC822.SIZE ")[1].split()[0])
lit = int(f.split("BODY[] {")[1].split("}")[0])
assert size == lit, f
assert "\r\n" in f and "hello world\r\nsecond line\r\n)" in f, f
r = s.cmd("FETCH 1 FLAGS")
assert "\\Seen" not in r[0], r
r = s.cmd("FETCH 3 (BODY[TEXT])")
assert "BODY[TEXT] {18}\r\nno final newline\r\n" in r[0], r
assert "FLAGS (\\Seen \\Recent)" in r[0], r	# \Seen set by the fetch, reported
r = s.cmd("FETCH 3 RFC822.SIZE")
assert "RFC822.SIZE 78" in r[0], r
r = s.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject from)])")
assert "BODY[HEADER.FIELDS (Subject from)] {56}\r\nFrom: Alice <alice@example.test>\r\nSubject: first one\r\n\r\n)" in r[0], r
r = s.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (From To Date Message-ID)])")
assert "{22}\r\nSubject: first one\r\n\r\n)" in r[0], r
r = s.cmd("FETCH 1 (BODY.PEEK[]<6.5> BODY.PEEK[TEXT]<0.5>)")
assert "BODY[]<6> {5}\r\nAlice" in r[0] and "BODY[TEXT]<0> {5}\r\nhello" in r[0], r
r = s.cmd("FETCH 1 (BODY.PEEK[]<100000.5>)")
assert 'BODY[]<100000> {0}' in r[0] or 'BODY[]<100000> ""' in r[0], r
r = s.cmd("FETCH 1 (RFC822.HEADER)")
assert "RFC822.HEADER {" in r[0] and "Message-ID: <1@example.test>\r\n\r\n)" in r[0], r
r = s.cmd("FETCH 1 FLAGS")
assert "\\Seen" not in r[0], r	# RFC822.HEADER is a peek
r = s.cmd("FETCH 2 (RFC822.TEXT)")
assert "RFC822.TEXT {33}\r\nanother body with NEEDLE inside\r\n" in r[0] and "\\Seen" in r[0], r
r = s.cmd("FETCH 1 (BODY.PEEK[1])")
assert "BODY[1] {" in r[0] and "hello world" in r[0], r
r = s.cmd("UID FETCH 1:* (FLAGS)")
assert len(r) == 4 and all("UID " in l for l in r[:3]), r
r = s.cmd("FETCH 1:* FAST")
assert len(r) == 4 and "INTERNALDATE" in r[0] and "RFC822.SIZE" in r[0], r
assert s.ok(s.cmd("FETCH 9 FLAGS")) == "BAD"
assert s.ok(s.cmd("FETCH 1 (FLAGS")) == "BAD"
assert s.ok(s.cmd("FETCH 1 BODY[HEADER.FIELDS]")) == "BAD"
r = s.cmd("UID FETCH 99 FLAGS")
assert s.ok(r) == "OK" and len(r) == 1, r
s.close()
PY
}

@test "imap: CHECK, RFC822 sets \\Seen, EXAMINE never does, a literal inside SEARCH, pipelined commands" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("EXAMINE INBOX")
r = s.cmd("FETCH 1 (BODY[TEXT])")
assert "FLAGS" not in r[0], r
r = s.cmd("FETCH 1 FLAGS")
assert "\\Seen" not in r[0], r
s.cmd("SELECT INBOX")
assert s.ok(s.cmd("CHECK")) == "OK"
r = s.cmd("FETCH 2 RFC822")
assert "RFC822 {" in r[0] and "FLAGS (\\Seen \\Recent)" in r[0], r
r = s.cmd("SEARCH SUBJECT %L", literal=b"second")
assert r[0].startswith("+ "), r	# a synchronising literal in the middle
assert any(l == "* SEARCH 2" for l in r) and s.ok(r) == "OK", r
# three commands in one write: three replies in order
s.send(b"p1 NOOP\r\np2 SEARCH SEEN\r\np3 NOOP\r\n")
r = s.read_until("p3")
tags = [l.split(" ")[0] for l in r if not l.startswith("*")]
assert tags == ["p1", "p2", "p3"] and "* SEARCH 2" in r, r
s.close()
PY
}

@test "imap: every FETCH result recorded from Dovecot for the MIME corpus (tests/unit/mime) comes out of a session alike" {
	CORPUS=$PH_ROOT/tests/unit/mime
	i=0
	for f in "$CORPUS"/*.eml; do
		i=$((i + 1))
		cp "$f" "$POSTHORN_MAILDIR/cur/17000$(printf %03d $i).corpus.host:2,"
		touch -d "@$((1700000000 + i))" "$POSTHORN_MAILDIR/cur/17000$(printf %03d $i).corpus.host:2,"
	done
	CORPUS=$CORPUS py <<'PY'
import glob, os
from imapchat import Session
files = sorted(glob.glob(os.environ["CORPUS"] + "/*.eml"))
s = Session()
r = s.cmd("SELECT INBOX")
assert "* %d EXISTS" % len(files) in r, r
# INTERNALDATE (the file's mtime) tells which message is which file
r = s.cmd("FETCH 1:* (INTERNALDATE)")
import datetime
seq_of = {}
for line in r[:-1]:
    seq = int(line.split()[1])
    d = line.split('INTERNALDATE "')[1].split('"')[0]
    t = int(datetime.datetime.strptime(d, "%d-%b-%Y %H:%M:%S %z").timestamp())
    seq_of[t - 1700000000] = seq

def records(path):
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        n, item = data[pos + 1:nl].split(b" ", 1)
        n = int(n)
        out.append((item.decode(), data[nl + 1:nl + 1 + n]))
        pos = nl + 1 + n + 1
    return out

checked = 0
for idx, f in enumerate(files, 1):
    seq = seq_of[idx]
    for item, want in records(f[:-4] + ".out"):
        ask = item.replace("BODY[", "BODY.PEEK[", 1) if item.startswith("BODY[") else item
        r = s.cmd("FETCH %d (%s)" % (seq, ask))
        assert s.ok(r) == "OK" and len(r) == 2, (f, item, r)
        line = r[0].encode("latin-1")
        head = b"* %d FETCH (" % seq
        name = item.split("<")[0] + ("<" + item.split("<")[1].split(".")[0] + ">" if "<" in item else "")
        assert line.startswith(head + name.encode() + b" ") and line.endswith(b")"), (f, item, line[:200])
        got = line[len(head) + len(name) + 1:-1]
        if got.startswith(b"{"):
            n = int(got[1:got.index(b"}")])
            got = got[got.index(b"\r\n") + 2:]
            assert len(got) == n, (f, item)
        elif got == b'""':
            got = b""
        assert got == want, (os.path.basename(f), item, want[:300], got[:300])
        checked += 1
assert checked > 1000, checked
s.close()
PY
}

@test "imap: STORE flags and keywords, .SILENT, CONDSTORE MODSEQ, UNCHANGEDSINCE and CHANGEDSINCE" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("SELECT INBOX")
r = s.cmd("STORE 1 +FLAGS (\\Flagged $Work)")
assert r[0].startswith("* 1 FETCH (FLAGS (") and "\\Flagged" in r[0] and "$Work" in r[0], r
r = s.cmd("STORE 1 -FLAGS (\\Flagged)")
assert "\\Flagged" not in r[0] and "$Work" in r[0], r
r = s.cmd("STORE 2 FLAGS.SILENT (\\Answered)")
assert len(r) == 1 and s.ok(r) == "OK", r
r = s.cmd("FETCH 2 FLAGS")
assert "\\Answered" in r[0], r
r = s.cmd("UID STORE 3 +FLAGS (\\Deleted)")
assert "UID 3" in r[0] and "\\Deleted" in r[0], r
assert s.ok(s.cmd("STORE 1 +FLAGS (\\Recent)")) == "BAD"
assert s.ok(s.cmd("STORE 1 +FLAGS (\\Bogus)")) == "BAD"
r = s.cmd("FETCH 1:* (MODSEQ)")
mods = [int(l.split("MODSEQ (")[1].split(")")[0]) for l in r[:-1]]
m1, mx = mods[0], max(mods)
r = s.cmd("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % m1)
assert s.ok(r) == "OK" and "MODIFIED" not in r[-1] and "MODSEQ (" in r[0], r
r = s.cmd("STORE 1 +FLAGS (" + " ".join("kw%d" % i for i in range(30)) + ")")
assert s.ok(r) == "NO" and "[LIMIT]" in r[-1], r	# 26 keywords per folder
r = s.cmd("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % m1)
assert s.ok(r) == "OK" and "[MODIFIED 1]" in r[-1], r
r = s.cmd("UID STORE 2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Draft)" % mx)
assert r[0].startswith("* 2 FETCH (UID 2 MODSEQ (") and "FLAGS" not in r[0] and s.ok(r) == "OK", r
r = s.cmd("UID STORE 2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Seen)" % mx)
assert len(r) == 1 and "[MODIFIED 2]" in r[0], r
r = s.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % mx)
assert len(r) == 3 and r[0].startswith("* 1 FETCH") and r[1].startswith("* 2 FETCH"), r
assert "MODSEQ" in r[0], r
r = s.cmd("STATUS INBOX (HIGHESTMODSEQ)")
assert s.ok(r) == "OK", r
s.close()
PY
}

@test "imap: QRESYNC: VANISHED instead of EXPUNGE, SELECT (QRESYNC ...) resynchronises, UID FETCH (CHANGEDSINCE VANISHED)" {
	three_msgs
	py <<'PY'
from imapchat import Session
a = Session(); b = Session()
r = a.cmd("SELECT INBOX (QRESYNC (1 1))")
assert a.ok(r) == "BAD", r	# not enabled yet
r = a.cmd("ENABLE QRESYNC")
assert r[0] == "* ENABLED QRESYNC", r
r = a.cmd("SELECT INBOX")
uidv = [l for l in r if "UIDVALIDITY" in l][0].split("UIDVALIDITY ")[1].split("]")[0]
hms = int([l for l in r if "HIGHESTMODSEQ" in l][0].split("HIGHESTMODSEQ ")[1].split("]")[0])
b.cmd("SELECT INBOX")
b.cmd("STORE 2 +FLAGS (\\Flagged)")
b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
b.cmd("EXPUNGE")
r = a.cmd("NOOP")
assert "* VANISHED 1" in r and not any("EXPUNGE" in l for l in r), r
assert any(l.startswith("* 1 FETCH (UID 2 MODSEQ") and "\\Flagged" in l for l in r), r
r = a.cmd("SELECT INBOX (QRESYNC (%s %d 1:3))" % (uidv, hms))
assert r[0] == "* OK [CLOSED] previous mailbox closed", r
assert "* VANISHED (EARLIER) 1" in r, r
assert any(l.startswith("* 1 FETCH (UID 2 FLAGS (") and "\\Flagged" in l and "MODSEQ" in l for l in r), r
assert not any("UID 3" in l for l in r), r	# unchanged since hms
r = a.cmd("SELECT INBOX (QRESYNC (%d %d))" % (int(uidv) + 1, hms))
assert not any("VANISHED" in l for l in r) and a.ok(r) == "OK", r	# UIDVALIDITY changed: no resync
r = a.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
assert r[0] == "* VANISHED (EARLIER) 1" and r[1].startswith("* 1 FETCH (UID 2 "), r
assert a.ok(a.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)) == "BAD"
r = a.cmd("UID MOVE 3 Trash")
assert "* VANISHED 3" in r, r
a.close(); b.close()
PY
}

@test "imap: COPY and MOVE with COPYUID, EXPUNGE, UID EXPUNGE, CLOSE expunges" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("SELECT INBOX")
r = s.cmd("COPY 1:2 Trash")
assert s.ok(r) == "OK" and "[COPYUID " in r[-1] and r[-1].split("[COPYUID ")[1].split()[1] == "1:2", r
r = s.cmd("COPY 1 Nope")
assert s.ok(r) == "NO" and "[TRYCREATE]" in r[-1], r
r = s.cmd("UID MOVE 3 Archive")
assert r[0].startswith("* OK [COPYUID ") and "* 3 EXPUNGE" in r and s.ok(r) == "OK", r
r = s.cmd("STATUS Archive (MESSAGES)")
assert r[0] == "* STATUS Archive (MESSAGES 1)", r
s.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
r = s.cmd("UID EXPUNGE 2")
assert "* 2 EXPUNGE" in r and s.ok(r) == "OK", r
r = s.cmd("EXPUNGE")
assert "* 1 EXPUNGE" in r, r
r = s.cmd("SELECT Trash")
assert "* 2 EXISTS" in r, r
s.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
assert s.ok(s.cmd("CLOSE")) == "OK"
r = s.cmd("STATUS Trash (MESSAGES)")
assert r[0] == "* STATUS Trash (MESSAGES 1)", r
s.close()
PY
}

@test "imap: SEARCH keys, NOT/OR/groups, CHARSET, ESEARCH RETURN, MODSEQ" {
	three_msgs
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("SELECT INBOX")
s.cmd("STORE 2 +FLAGS.SILENT (\\Flagged $Tag)")
def srch(q, uid=False):
    r = s.cmd(("UID " if uid else "") + "SEARCH " + q)
    assert s.ok(r) == "OK", (q, r)
    line = [l for l in r if l.startswith("* SEARCH") or l.startswith("* ESEARCH")][0]
    return line
assert srch("ALL") == "* SEARCH 1 2 3"
assert srch("FLAGGED") == "* SEARCH 2"
assert srch("UNFLAGGED") == "* SEARCH 1 3"
assert srch("KEYWORD $Tag") == "* SEARCH 2"
assert srch("UNKEYWORD $Tag") == "* SEARCH 1 3"
assert srch("NEW") == "* SEARCH 1 2 3"
assert srch("OLD") == "* SEARCH"
assert srch("RECENT UNSEEN") == "* SEARCH 1 2 3"
assert srch("SUBJECT first") == "* SEARCH 1"
assert srch('CHARSET UTF-8 SUBJECT "caf\u00e9"') == "* SEARCH 2"
assert srch("FROM alice") == "* SEARCH 1"
assert srch("TO bob") == "* SEARCH 1 2"
assert srch("CC dave") == "* SEARCH 2"
assert srch("BCC dave") == "* SEARCH"
assert srch("HEADER X-Custom mark") == "* SEARCH 3"
assert srch('HEADER Subject ""') == "* SEARCH 1 2 3"
assert srch("BODY needle") == "* SEARCH 2"
assert srch("BODY Subject") == "* SEARCH"
assert srch("TEXT needle") == "* SEARCH 2"
assert srch("TEXT alice") == "* SEARCH 1"
assert srch("LARGER 150") == "* SEARCH 1 2"
assert srch("SMALLER 100") == "* SEARCH 3"
assert srch("SINCE 3-Jan-2023") == "* SEARCH 2 3"
assert srch("BEFORE 3-Jan-2023") == "* SEARCH 1"
assert srch("ON 5-Jan-2023") == "* SEARCH 3"
assert srch("SENTON 3-Jan-2023") == "* SEARCH 2"
assert srch("SENTBEFORE 3-Jan-2023") == "* SEARCH 1"
assert srch("SENTSINCE 2-Jan-2023") == "* SEARCH 1 2"
assert srch("2:3") == "* SEARCH 2 3"
assert srch("UID 1,3") == "* SEARCH 1 3"
assert srch("UID " + ",".join(str(i) for i in range(40, 0, -2))) == "* SEARCH 2"	# a long set
assert srch(",".join(["3", "1", "9:10"] * 10)) == "* SEARCH 1 3"
assert srch("NOT UID " + ",".join(str(i) for i in range(2, 60, 2))) == "* SEARCH 1 3"
assert srch("NOT 2") == "* SEARCH 1 3"
assert srch("OR 1 3") == "* SEARCH 1 3"
assert srch("(OR FLAGGED 1) NOT SUBJECT first") == "* SEARCH 2"
assert srch("CHARSET UTF-8 SUBJECT third") == "* SEARCH 3"
assert srch("ALL", uid=True) == "* SEARCH 1 2 3"
r = s.cmd("SEARCH CHARSET KOI8-R ALL")
assert s.ok(r) == "NO" and "[BADCHARSET" in r[-1], r
assert s.ok(s.cmd("SEARCH BOGUS")) == "BAD"
assert s.ok(s.cmd("SEARCH (ALL")) == "BAD"
r = s.cmd("SEARCH RETURN (MIN MAX COUNT ALL) ALL")
assert r[0] == '* ESEARCH (TAG "%s") MIN 1 MAX 3 COUNT 3 ALL 1:3' % r[-1].split()[0], r
r = s.cmd("UID SEARCH RETURN (COUNT) FLAGGED")
assert r[0].endswith(" UID COUNT 1"), r
r = s.cmd("SEARCH RETURN () UNFLAGGED")
assert r[0].endswith(" ALL 1,3"), r
r = s.cmd("SEARCH RETURN (MIN) DELETED")
assert r[0] == '* ESEARCH (TAG "%s")' % r[-1].split()[0], r
r = s.cmd("FETCH 2 (MODSEQ)")
m2 = int(r[0].split("MODSEQ (")[1].split(")")[0])
line = srch("MODSEQ %d" % m2)
assert line.startswith("* SEARCH 2") and "(MODSEQ %d)" % m2 in line, line
s.close()
PY
}

@test "imap: python imaplib as a client (IMAP4_stream): select, fetch, search, store, copy, expunge" {
	three_msgs
	py <<'PY'
import imaplib, os, email
M = imaplib.IMAP4_stream("%s -P -c %s" % (os.environ["IMAPD"], os.environ["IMAP_CONF"]))
assert "PREAUTH" in M.welcome.decode(), M.welcome
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"3"], (typ, data)
typ, data = M.uid("SEARCH", None, "ALL")
assert data == [b"1 2 3"], data
typ, data = M.fetch("1", "(RFC822)")
msg = email.message_from_bytes(data[0][1])
assert msg["Subject"] == "first one", msg["Subject"]
typ, data = M.store("2", "+FLAGS", "(\\Deleted)")
assert typ == "OK" and b"\\Deleted" in data[0], data
typ, data = M.copy("1", "Archive")
assert typ == "OK", data
typ, data = M.expunge()
assert typ == "OK" and data == [b"2"], data
typ, data = M.status("Archive", "(MESSAGES)")
assert data == [b"Archive (MESSAGES 1)"], data
typ, data = M.list()
assert typ == "OK" and any(b"Sent" in d for d in data), data
typ, data = M.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(1700000000), b"Subject: x\r\n\r\ny\r\n")
assert typ == "OK", data
typ, data = M.create("imaplib-box")
assert typ == "OK"
typ, data = M.rename("imaplib-box", "imaplib-renamed")
assert typ == "OK"
typ, data = M.delete("imaplib-renamed")
assert typ == "OK"
M.close()
M.logout()
PY
}

@test "imap: two sessions on one folder see each other's STORE and EXPUNGE, and a delivery, at the allowed points" {
	three_msgs
	py <<'PY'
import os, time
from imapchat import Session
a = Session(); b = Session()
a.cmd("SELECT INBOX"); b.cmd("SELECT INBOX")
r = b.cmd("STORE 2 +FLAGS (\\Flagged)")
assert b.ok(r) == "OK", r
r = a.cmd("NOOP")
assert any(l.startswith("* 2 FETCH (") and "\\Flagged" in l for l in r), r
b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
b.cmd("EXPUNGE")
# during FETCH / STORE / SEARCH no EXPUNGE may be sent (RFC 3501 7.4.1)
r = a.cmd("FETCH 1:3 (UID)")
assert not any("EXPUNGE" in l for l in r), r
r = a.cmd("SEARCH ALL")
assert not any("EXPUNGE" in l for l in r), r
r = a.cmd("NOOP")
assert "* 1 EXPUNGE" in r, r
r = a.cmd("FETCH 1:* (UID)")
assert [l.split("UID ")[1].rstrip(")") for l in r[:-1]] == ["2", "3"], r
# a delivery (a new file in new/) shows up as EXISTS at the next NOOP
md = os.environ["POSTHORN_MAILDIR"]
with open(os.path.join(md, "tmp", "2000.D.host"), "w") as f:
    f.write("Subject: delivered\n\nnew\n")
os.rename(os.path.join(md, "tmp", "2000.D.host"), os.path.join(md, "new", "2000.D.host"))
r = a.cmd("NOOP")
assert "* 3 EXISTS" in r, r
r = b.cmd("NOOP")
assert "* 3 EXISTS" in r, r
r = a.cmd("UID FETCH 4 (UID)")
assert r[0] == "* 3 FETCH (UID 4)", r
a.close(); b.close()
PY
}

@test "imap: IDLE reports another session's change and ends with DONE" {
	three_msgs
	py <<'PY'
import select
from imapchat import Session
a = Session(); b = Session()
a.cmd("SELECT INBOX"); b.cmd("SELECT INBOX")
a.n += 1
tag = "T%d" % a.n
a.send((tag + " IDLE\r\n").encode())
assert a.readline().startswith("+ "), "no continuation"
b.cmd("STORE 1 +FLAGS (\\Answered)")
ready, _, _ = select.select([a.p.stdout], [], [], 10)
assert ready, "IDLE: nothing within 10 s"
line = a.readline()
assert line.startswith("* 1 FETCH") and "\\Answered" in line, line
a.send(b"DONE\r\n")
r = a.read_until(tag)
assert r[-1].startswith(tag + " OK"), r
a.close(); b.close()
PY
}

@test "imap: IDLE in a running instance sees a message delivered over SMTP" {
	ph_instance
	ph_start
	MD=$(ph_maildir demo)
	export POSTHORN_MAILDIR=$MD IMAP_CONF=$PH_DIR/etc/posthorn.conf
	# run the stage as the Maildir's owner, as mailboxd would
	if [ "$(id -u)" = 0 ]; then
		printf '#!/bin/sh\nexec setpriv --reuid=%s --regid=%s --clear-groups %s "$@"\n' \
			"$(stat -c %u "$MD")" "$(stat -c %g "$MD")" "$PH_ROOT/libexec/imapd" >"$T/imapd-as-owner"
		chmod 755 "$T/imapd-as-owner"
		export IMAPD=$T/imapd-as-owner
	fi
	PH_SMTP=$PH_SMTP py <<'PY'
import os, select, smtplib
from imapchat import Session
a = Session()
r = a.cmd("SELECT INBOX")
assert "* 0 EXISTS" in r, r
a.n += 1
tag = "T%d" % a.n
a.send((tag + " IDLE\r\n").encode())
assert a.readline().startswith("+ ")
with smtplib.SMTP("127.0.0.1", int(os.environ["PH_SMTP"]), timeout=10) as c:
    c.sendmail("sender@example.test", ["demo@example.test"], "Subject: idle test\r\n\r\nhello\r\n")
ready, _, _ = select.select([a.p.stdout], [], [], 60)
if not ready:
    for root, _, names in os.walk(os.environ["PH_DIR"] + "/log"):
        for n in names:
            print(open(os.path.join(root, n), errors="replace").read()[-3000:])
assert ready, "no untagged response within 60 s"
line = a.readline()
assert line == "* 1 EXISTS", line
a.send(b"DONE\r\n")
r = a.read_until(tag)
assert r[-1].startswith(tag + " OK"), r
r = a.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert "Subject: idle test" in r[0], r
a.close()
PY
}

# The nested message of issue 6: multipart/mixed with a multipart/alternative
# (quoted-printable text, html), a base64 attachment and a message/rfc822
# part.  Expected values are what Dovecot 2.3 answers for the same message.
nested_msg() {
	put_msg 3000.N.host 'From: "Alice Example" <alice@example.test>\nTo: bob@example.test, "Carol" <carol@example.test>\nSubject: =?UTF-8?B?TmVzdGVkIHRlc3Q=?=\nDate: Wed, 4 Jan 2023 09:30:00 +0000\nMessage-ID: <nested@example.test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="outer"\n\npreamble\n--outer\nContent-Type: multipart/alternative; boundary="inner"\n\n--inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 plain\n--inner\nContent-Type: text/html; charset=utf-8\n\n<p>html</p>\n--inner--\n--outer\nContent-Type: application/octet-stream; name="a.bin"\nContent-Disposition: attachment; filename="a.bin"\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--outer\nContent-Type: message/rfc822\n\nFrom: dave@example.test\nSubject: inner message\nContent-Type: text/plain\n\ninner body\n--outer--\n'
}

@test "imap: BODYSTRUCTURE, BODY, ENVELOPE and BODY[1.2.MIME] of a nested message are the RFC's (as Dovecot gives them)" {
	nested_msg
	py <<'PY'
from imapchat import Session
s = Session()
s.cmd("SELECT INBOX")
def one(item):
    r = s.cmd("FETCH 1 (%s)" % item)
    assert s.ok(r) == "OK" and len(r) == 2, r
    return r[0]
bs = one("BODYSTRUCTURE")
assert bs == '* 1 FETCH (BODYSTRUCTURE ((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 15 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 11 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8 NIL ("attachment" ("filename" "a.bin")) NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 87 (NIL "inner message" ((NIL NIL "dave" "example.test")) ((NIL NIL "dave" "example.test")) ((NIL NIL "dave" "example.test")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL))', bs
assert one("BODYSTRUCTURE") == bs	# second time from the cache
b = one("BODY")
assert b == '* 1 FETCH (BODY ((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 15 0)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 11 0) "alternative")("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8)("message" "rfc822" NIL NIL NIL "7bit" 87 (NIL "inner message" ((NIL NIL "dave" "example.test")) ((NIL NIL "dave" "example.test")) ((NIL NIL "dave" "example.test")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 4) "mixed"))', b
e = one("ENVELOPE")
assert e == '* 1 FETCH (ENVELOPE ("Wed, 4 Jan 2023 09:30:00 +0000" "=?UTF-8?B?TmVzdGVkIHRlc3Q=?=" (("Alice Example" NIL "alice" "example.test")) (("Alice Example" NIL "alice" "example.test")) (("Alice Example" NIL "alice" "example.test")) ((NIL NIL "bob" "example.test")("Carol" NIL "carol" "example.test")) NIL NIL NIL "<nested@example.test>"))', e
want = {
    "BODY.PEEK[1.2.MIME]": "BODY[1.2.MIME] {42}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
    "BODY.PEEK[1.2]": "BODY[1.2] {11}\r\n<p>html</p>",
    "BODY.PEEK[3.HEADER]": "BODY[3.HEADER] {77}\r\nFrom: dave@example.test\r\nSubject: inner message\r\nContent-Type: text/plain\r\n\r\n",
    "BODY.PEEK[3.TEXT]": "BODY[3.TEXT] {10}\r\ninner body",
    "BODY.PEEK[3.1]": "BODY[3.1] {10}\r\ninner body",
    "BODY.PEEK[2.MIME]": 'BODY[2.MIME] {142}\r\nContent-Type: application/octet-stream; name="a.bin"\r\nContent-Disposition: attachment; filename="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    "BODY.PEEK[3.HEADER.FIELDS (SUBJECT)]": "BODY[3.HEADER.FIELDS (SUBJECT)] {26}\r\nSubject: inner message\r\n\r\n",
}
for item, text in want.items():
    got = one(item)
    assert got == "* 1 FETCH (" + text + ")", (item, got)
assert "RFC822.SIZE 845" in one("RFC822.SIZE")
got = one("BODY.PEEK[9]")
assert got in ('* 1 FETCH (BODY[9] "")', "* 1 FETCH (BODY[9] {0}\r\n)"), got
r = s.cmd('SEARCH CHARSET UTF-8 SUBJECT "nested test"')
assert r[0] == "* SEARCH 1", r
r = s.cmd('SEARCH CHARSET UTF-8 BODY "caf\u00e9 plain"')
assert r[0] == "* SEARCH 1", r	# quoted-printable decoded
r = s.cmd('SEARCH BODY "inner body"')
assert r[0] == "* SEARCH 1", r
r = s.cmd('SEARCH SENTON 4-Jan-2023')
assert r[0] == "* SEARCH 1", r
s.close()
PY
}
