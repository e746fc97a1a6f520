#!/usr/bin/env bats
# imap_clients.bats: real IMAP clients against the whole IMAP path of a
# running instance (imapd-login -> auth -> mailboxd -> imapd): mbsync
# (two-way sync with folders and flags, STARTTLS and IMAPS with strict
# certificate checks against the instance CA), s-nail in batch mode over
# imaps, curl imap:// and imaps://, the npm client imapflow
# (tests/node/imapflow_check.mjs: list with a non-ASCII folder, fetch,
# search, flags, move, append, a multipart's BODYSTRUCTURE and parts, IDLE
# seeing a message delivered over SMTP and another session's STORE and
# EXPUNGE, QRESYNC), fetchmail over IMAP (keep), and mbsync and imaplib through a
# tunnel (libexec/imapd -P, preauth).
# Mail reaches the server over SMTP (swaks --data: the exact bytes sent).
#
# IMAPC_DOVECOT=DIR runs the same tests against a reference Dovecot
# started with ../shared/anchors/dovecot-start.sh DIR (ports from
# IMAPC_IMAP, IMAPC_IMAPS; default 10143, 10993; mail is put into its
# Maildir directly): a way to check the tests themselves, never part of
# `make check`.

load helper

setup() {
	T=$(mktemp -d /tmp/imapc.XXXXXX)
	export T
	if [ -n "${IMAPC_DOVECOT:-}" ]; then
		IMAP=${IMAPC_IMAP:-10143} IMAPS=${IMAPC_IMAPS:-10993}
		IUSER=tester1 IPASS=testpass CA=$IMAPC_DOVECOT/ssl/cert.pem
		MD=$IMAPC_DOVECOT/mail/tester1/Maildir
		rm -rf "$IMAPC_DOVECOT/mail/tester1"
		mkdir -p "$MD"/{new,cur,tmp}
		chown -R "$(stat -c %U:%G "$IMAPC_DOVECOT/mail")" "$IMAPC_DOVECOT/mail/tester1"
	else
		[ -x "$PH_ROOT/libexec/imapd-login" ] || skip "imapd-login not built"
		[ -x "$PH_ROOT/libexec/imapd" ] || skip "imapd not built"
		ph_instance
		echo "plaintext_auth_loopback = yes" >>"$PH_DIR/etc/posthorn.conf"
		echo "auth_fail_delay = 0" >>"$PH_DIR/etc/posthorn.conf"
		IMAP=$((PH_BASE + 143)) IMAPS=$((PH_BASE + 993))
		IUSER=demo@example.test IPASS=demo CA=$PH_DIR/etc/tls/ca.pem
		MD=$(ph_maildir demo)
		ph_start
		ph_wait_port "$IMAP"
		ph_wait_port "$IMAPS"
	fi
	export IMAP IMAPS IUSER IPASS CA MD
}

teardown() {
	local bad=0
	if [ -z "${IMAPC_DOVECOT:-}" ] && [ -n "${PH_DIR:-}" ]; then
		ph_stop
		[ -f "$PH_DIR/log/posthorn.log" ] && imap_sanitizer_reports "$PH_DIR/log/posthorn.log" && bad=1
		ph_teardown
	fi
	case "${T:-}" in /tmp/imapc.?*) rm -rf "$T" ;; esac
	return "$bad"
}

# imap_sanitizer_reports LOG: prints the sanitizer reports (SAN=1) of the
# IMAP processes (imapd-login, imapd, found by the pids they log under)
# and succeeds if there is any; other daemons' reports are their tests'.
imap_sanitizer_reports() {
	local pids pid found=1
	pids=$(sed -n 's/.*==\([0-9][0-9]*\)==ERROR: .*Sanitizer.*/\1/p' "$1" | sort -u)
	for pid in $pids; do
		if grep -Eq "(imapd|imapd-login)\[$pid\]|(imapd|imapd-login) pid $pid " "$1"; then
			grep -F "==$pid==" "$1"
			found=0
		fi
	done
	grep -E "(imapd|imapd-login)\[[0-9]+\]: .*runtime error" "$1" && found=0
	return "$found"
}

# msg_file N SUBJECT BODY: writes a message to $T/msgN.eml (LF line ends)
msg_file() {
	printf 'From: Sender <sender@example.test>\nTo: %s\nSubject: %s\nDate: Fri, 27 Nov 2026 10:0%s:00 +0000\nMessage-ID: <imapc-%s@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n%s\n' \
		"$IUSER" "$2" "$1" "$1" "$3" >"$T/msg$1.eml"
}

inbox_count() { find "$MD/new" "$MD/cur" -type f 2>/dev/null | wc -l; }

# deliver N SUBJECT BODY: sends msgN over SMTP (posthorn) and waits until
# it is in the Maildir; against Dovecot it is put in new/ directly.
deliver() {
	local before
	msg_file "$@"
	before=$(inbox_count)
	if [ -n "${IMAPC_DOVECOT:-}" ]; then
		cp "$T/msg$1.eml" "$MD/new/$((1790000000 + $1)).M$1P1.dovecot"
		chown --reference="$MD" "$MD/new/$((1790000000 + $1)).M$1P1.dovecot"
		return 0
	fi
	# swaks ends the data with a line end of its own: send it without the last one
	head -c -1 "$T/msg$1.eml" >"$T/msg$1.smtp"
	swaks --server 127.0.0.1 --port "$PH_SMTP" --from sender@example.test --to "$IUSER" \
		--data "@$T/msg$1.smtp" >"$T/swaks.log" 2>&1 || { cat "$T/swaks.log" >&2; return 1; }
	for _ in $(seq 1 300); do
		[ "$(inbox_count)" -gt "$before" ] && return 0
		sleep 0.1
	done
	echo "message $1 not delivered" >&2
	return 1
}

# The stored copy of the message with SUBJECT, as CRLF bytes (what a
# client must receive as BODY[] / RFC822).
stored_crlf() {
	local f
	f=$(grep -l -x "Subject: $1" "$MD"/new/* "$MD"/cur/* 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "no stored message with subject $1" >&2; return 1; }
	sed 's/$/\r/' "$f"
}

# imap_py: python3 with `M` (imaplib) logged in over plain IMAP on
# loopback; the script comes on stdin.
imap_py() {
	python3 - "$@" <<PY
import imaplib, re, sys
M = imaplib.IMAP4("127.0.0.1", int("$IMAP"), timeout=30)
M.login("$IUSER", "$IPASS")
def ok(r):
    typ, dat = r
    if typ != "OK":
        raise SystemExit("IMAP command failed: %r %r" % (typ, dat))
    return dat
def delim():
    line = ok(M.list('""', '""'))[0].decode()
    m = re.match(r'\(.*?\) (?:"(.)"|NIL)', line)
    return m.group(1) if m and m.group(1) else "."
$(cat)
M.logout()
PY
}

# mbsync_conf FILE SSLTYPE PORT CAFILE: a config syncing INBOX and Work*
# both ways into $T/mail (folders as directories, flags in file names).
mbsync_conf() {
	mkdir -p "$T/mail"
	cat >"$1" <<EOF
IMAPAccount far
Host localhost
Port $3
User $IUSER
Pass $IPASS
SSLType $2
CertificateFile $4
SystemCertificates no
AuthMechs LOGIN
Timeout 30

IMAPStore far
Account far

MaildirStore near
Path $T/mail/
Inbox $T/mail/INBOX
SubFolders Verbatim

Channel c
Far :far:
Near :near:
Patterns INBOX Work*
Create Both
Expunge None
Sync All
SyncState *
EOF
}

# local_msg FOLDER SUBJECT: the file of the message in mbsync's Maildir
local_msg() { grep -rlx "Subject: $2" "$T/mail/$1/new" "$T/mail/$1/cur"; }

# Server state of INBOX, Work and Work/Old: UIDVALIDITY, UIDNEXT, and
# each message's UID and flags (and HIGHESTMODSEQ when offered).
server_state() {
	imap_py <<'PY'
d = delim()
cond = "CONDSTORE" in M.capabilities
for box in ("INBOX", "Work", "Work" + d + "Old"):
    items = "(MESSAGES UIDNEXT UIDVALIDITY%s)" % (" HIGHESTMODSEQ" if cond else "")
    print(box, ok(M.status('"%s"' % box, items))[0].decode().split(" ", 1)[1])
    ok(M.select('"%s"' % box, readonly=True))
    dat = ok(M.uid("FETCH", "1:*", "(FLAGS)"))
    for line in dat:
        if line:
            u = re.search(rb"UID (\d+)", line).group(1)
            f = sorted(re.search(rb"FLAGS \(([^)]*)\)", line).group(1).split())
            print(" ", int(u), b" ".join(f).decode())
PY
}

@test "imap clients: mbsync two-way sync of folders and flags over STARTTLS; a further sync changes nothing" {
	command -v mbsync >/dev/null || skip "mbsync not installed"
	deliver 1 "one" "first message"
	deliver 2 "two" "second message"
	deliver 3 "three" "third message"
	# on the server: folders Work and Work/Old, a flagged message in Work, \Seen on "one"
	msg_file 4 "work item" "in the Work folder"
	imap_py "$T/msg4.eml" <<'PY'
d = delim()
ok(M.create("Work"))
ok(M.create("Work" + d + "Old"))
data = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n")
ok(M.append("Work", r"(\Flagged)", None, data))
ok(M.select("INBOX"))
n = ok(M.search(None, "SUBJECT", '"one"'))[0].split()
assert len(n) == 1, n
ok(M.store(n[0], "+FLAGS", r"(\Seen)"))
PY
	mbsync_conf "$T/mbsyncrc" STARTTLS "$IMAP" "$CA"
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	echo "$output"
	[ "$status" -eq 0 ]
	# pulled: 3 messages in INBOX, 1 flagged in Work, Work/Old exists, flags in the names
	[ "$(find "$T/mail/INBOX/new" "$T/mail/INBOX/cur" -type f | wc -l)" -eq 3 ]
	[ "$(find "$T/mail/Work/new" "$T/mail/Work/cur" -type f | wc -l)" -eq 1 ]
	[ -d "$T/mail/Work/Old/cur" ]
	one=$(local_msg INBOX "one")
	[[ "$one" == *:2,S ]]
	work=$(local_msg Work "work item")
	[[ "$work" == *:2,F ]]
	# the pulled bytes are the server's (LF line ends in the Maildir;
	# mbsync adds its X-TUID: header)
	two=$(local_msg INBOX "two")
	diff <(grep -v '^X-TUID: ' "$two") <(stored_crlf two | tr -d '\r')

	# locally: "two" seen and flagged, a new message in Work/Old;
	# on the server meanwhile: "three" answered
	mv "$two" "$T/mail/INBOX/cur/${two##*/}"
	two=$T/mail/INBOX/cur/${two##*/}
	mv "$two" "${two%%:2,*}:2,FS"
	msg_file 5 "local addition" "written by mbsync's side"
	cp "$T/msg5.eml" "$T/mail/Work/Old/new/1790000005.local.near"
	imap_py <<'PY'
ok(M.select("INBOX"))
n = ok(M.search(None, "SUBJECT", '"three"'))[0].split()
ok(M.store(n[0], "+FLAGS", r"(\Answered)"))
PY
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	echo "$output"
	[ "$status" -eq 0 ]
	three=$(local_msg INBOX "three")
	[[ "$three" == *:2,R ]]
	# pushed: the server has the flags and the new message, byte for byte
	imap_py "$T/msg5.eml" <<'PY'
d = delim()
ok(M.select("INBOX", readonly=True))
n = ok(M.search(None, "SUBJECT", '"two"'))[0].split()
fl = ok(M.fetch(n[0], "(FLAGS)"))[0].decode()
assert "\\Seen" in fl and "\\Flagged" in fl, fl
ok(M.select('"Work%sOld"' % d, readonly=True))
dat = ok(M.fetch("1:*", "(BODY.PEEK[])"))
# mbsync inserts an X-TUID: header line into what it uploads
bodies = [re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", x[1]) for x in dat if isinstance(x, tuple)]
want = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n")
assert bodies == [want], bodies
PY

	# a third sync: nothing changes on either side
	server_state >"$T/before"
	(cd "$T/mail" && find . -type f ! -name '.mbsync*' | sort) >"$T/local.before"
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	[ "$status" -eq 0 ]
	server_state >"$T/after"
	(cd "$T/mail" && find . -type f ! -name '.mbsync*' | sort) >"$T/local.after"
	cat "$T/before"
	diff "$T/before" "$T/after"
	diff "$T/local.before" "$T/local.after"
}

@test "imap clients: mbsync over IMAPS verifies the certificate against the instance CA (and refuses another CA)" {
	command -v mbsync >/dev/null || skip "mbsync not installed"
	deliver 1 "over imaps" "implicit TLS"
	mbsync_conf "$T/mbsyncrc" IMAPS "$IMAPS" "$CA"
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	echo "$output"
	[ "$status" -eq 0 ]
	f=$(local_msg INBOX "over imaps")
	diff <(grep -v '^X-TUID: ' "$f") <(stored_crlf "over imaps" | tr -d '\r')
	# a certificate from a CA the server's is not signed by: no sync
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other CA" \
		-keyout "$T/other.key" -out "$T/other.pem" >/dev/null 2>&1
	rm -rf "$T/mail"
	mbsync_conf "$T/mbsyncrc2" IMAPS "$IMAPS" "$T/other.pem"
	run timeout 60 mbsync -c "$T/mbsyncrc2" -a
	echo "$output"
	[ "$status" -ne 0 ]
	[ -z "$(find "$T/mail" -type f ! -name '.mbsync*' 2>/dev/null)" ]
}

@test "imap clients: s-nail in batch mode lists and prints INBOX over imaps (strict TLS)" {
	command -v s-nail >/dev/null || skip "s-nail not installed"
	deliver 1 "alpha subject" "alpha body line"
	deliver 2 "beta subject" "beta body line"
	user=${IUSER//@/%40}
	run bash -c "printf 'headers\nprint 2\ncopy 1 $T/saved\nexit\n' | HOME=$T MAILRC=/dev/null timeout 60 s-nail -# -n \
		-S v15-compat -S tls-verify=strict -S tls-ca-file=$CA -S tls-ca-no-defaults \
		-S password=$IPASS -S MBOX=$T/mbox -f 'imaps://$user@localhost:$IMAPS/INBOX'"
	echo "$output"
	[ "$status" -eq 0 ]
	# the header list: both messages with their subjects, in order
	[[ "$output" =~ 1\ .*alpha\ subject ]]
	[[ "$output" =~ 2\ .*beta\ subject ]]
	# message 2 printed: its header fields and body
	[[ "$output" == *"Message-ID: <imapc-2@example.test>"* ]]
	[[ "$output" == *"beta body line"* ]]
	[[ "$output" != *"alpha body line"* ]]
	# message 1 copied to an mbox: the server's bytes after s-nail's From_
	# line, with its Status: field and the blank line that ends an mbox entry
	diff <(sed '1d;/^Status: /d;$d' "$T/saved") <(stored_crlf "alpha subject" | tr -d '\r')
	# `exit` leaves the mailbox as it was: still two messages
	[ "$(inbox_count)" -eq 2 ]
}

@test "imap clients: curl imap:// (STARTTLS required) and imaps:// list, and fetch a message by UID byte for byte" {
	command -v curl >/dev/null || skip "curl not installed"
	deliver 1 "curl one" "curl first"
	deliver 2 "curl two" "curl second"
	imap_py <<'PY'
ok(M.create("Curl"))
PY
	# LIST over STARTTLS with the CA
	run curl -sS --ssl-reqd --cacert "$CA" --user "$IUSER:$IPASS" "imap://localhost:$IMAP/"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'* LIST ('*') '*' INBOX'* ]]
	[[ "$output" == *'Curl'* ]]
	# UID of "curl two", then the message by UID: the stored bytes, CRLF
	uid=$(curl -sS --ssl-reqd --cacert "$CA" --user "$IUSER:$IPASS" \
		"imap://localhost:$IMAP/INBOX" -X 'UID SEARCH SUBJECT "curl two"' | sed -n 's/^\* SEARCH \([0-9]*\).*/\1/p' | tr -d '\r')
	[ -n "$uid" ]
	curl -sS --ssl-reqd --cacert "$CA" --user "$IUSER:$IPASS" \
		"imap://localhost:$IMAP/INBOX;UID=$uid" -o "$T/fetched"
	cmp "$T/fetched" <(stored_crlf "curl two")
	# what was sent over SMTP ends the fetched message (CRLF)
	sed 's/$/\r/' "$T/msg2.eml" >"$T/sent"
	tail -c "$(stat -c %s "$T/sent")" "$T/fetched" | diff - "$T/sent"
	# the same over implicit TLS
	curl -sS --cacert "$CA" --user "$IUSER:$IPASS" "imaps://localhost:$IMAPS/INBOX;UID=$uid" -o "$T/fetched2"
	cmp "$T/fetched2" "$T/fetched"
	run curl -sS --cacert "$CA" --user "$IUSER:$IPASS" "imaps://localhost:$IMAPS/"
	[ "$status" -eq 0 ]
	[[ "$output" == *'INBOX'* ]]
	# a CA that did not sign the server's certificate: refused
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other CA" \
		-keyout "$T/other.key" -out "$T/other.pem" >/dev/null 2>&1
	run curl -sS --cacert "$T/other.pem" --user "$IUSER:$IPASS" "imaps://localhost:$IMAPS/"
	[ "$status" -ne 0 ]
}

@test "imap clients: imapflow over TLS: list, fetch (envelope, bodyStructure, source), search, flags, move, append, a multipart's parts, QRESYNC, IDLE sees SMTP delivery and another session's STORE and EXPUNGE" {
	command -v node >/dev/null || skip "node not installed"
	[ -d "$PH_ROOT/tests/node/node_modules/imapflow" ] || skip "imapflow not installed (npm ci --prefix tests/node)"
	deliver 1 "flow one" "imapflow first"
	deliver 2 "flow two" "imapflow second"
	stored_crlf "flow one" >"$T/one.crlf"
	node "$PH_ROOT/tests/node/imapflow_check.mjs" 127.0.0.1 "$IMAPS" "$IUSER" "$IPASS" "$CA" \
		"$T/one.crlf" >"$T/flow.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q '^idling' "$T/flow.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^idling" "$T/flow.out" || { wait "$pid" || true; cat "$T/flow.out"; false; }
	deliver 3 "flow three" "arrives during IDLE"
	wait "$pid" && rc=0 || rc=$?
	cat "$T/flow.out"
	[ "$rc" -eq 0 ]
	grep -q '^idle: exists 1 -> 2$' "$T/flow.out"
	grep -q '^other session: flags of 1: .*Answered' "$T/flow.out"
	grep -q '^other session: expunged 1$' "$T/flow.out"
	grep -q '^append: ' "$T/flow.out"
	grep -q '^multipart: multipart/mixed 1=text/plain 2=application/octet-stream' "$T/flow.out"
	grep -q '^qresync: expunge uid 1 vanished true$' "$T/flow.out"
	grep -q '^ok$' "$T/flow.out"
}

@test "imap clients: fetchmail over IMAP with STARTTLS and over IMAPS (certificate checked) keeps the messages" {
	command -v fetchmail >/dev/null || skip "fetchmail not installed"
	deliver 1 "fm one" "fetchmail first"
	deliver 2 "fm two" "fetchmail second"
	out=$T/fetched
	printf 'poll localhost service %s protocol imap user "%s" password "%s" sslcertck sslcertfile "%s" sslproto tls1.2+ mda "cat >> %s" keep\n' \
		"$IMAP" "$IUSER" "$IPASS" "$CA" "$out" >"$T/fetchmailrc"
	chmod 600 "$T/fetchmailrc"
	HOME=$T run timeout 60 fetchmail -f "$T/fetchmailrc" --nosyslog --nodetach \
		--idfile "$T/fetchids" --pidfile "$T/fetchmail.pid"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Subject: fm ' "$out")" -eq 2 ]
	grep -q '^fetchmail second$' "$out"
	[ "$(inbox_count)" -eq 2 ]
	# both are \Seen now, and a second run (default: new mail only) fetches nothing
	imap_py <<'PY'
ok(M.select("INBOX", readonly=True))
assert len(ok(M.search(None, "SEEN"))[0].split()) == 2
PY
	: >"$out"
	HOME=$T run timeout 60 fetchmail -f "$T/fetchmailrc" --nosyslog --nodetach \
		--idfile "$T/fetchids" --pidfile "$T/fetchmail.pid"
	# exit 1: no mail
	[ "$status" -eq 1 ]
	[ ! -s "$out" ]
	# over implicit TLS (IMAPS), everything again (fetchall), still kept
	printf 'poll localhost service %s protocol imap user "%s" password "%s" ssl sslcertck sslcertfile "%s" mda "cat >> %s" keep fetchall\n' \
		"$IMAPS" "$IUSER" "$IPASS" "$CA" "$out" >"$T/fetchmailrc"
	HOME=$T run timeout 60 fetchmail -f "$T/fetchmailrc" --nosyslog --nodetach \
		--idfile "$T/fetchids" --pidfile "$T/fetchmail.pid"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Subject: fm ' "$out")" -eq 2 ]
	[ "$(inbox_count)" -eq 2 ]
}

@test "imap clients: mbsync and python imaplib.IMAP4_stream through a tunnel (imapd -P, preauth)" {
	[ -z "${IMAPC_DOVECOT:-}" ] || skip "tunnel: posthorn's imapd -P only"
	command -v mbsync >/dev/null || skip "mbsync not installed"
	TM=$T/tunnel-maildir
	mkdir -p "$TM"/{new,cur,tmp}
	for i in 1 2 3; do
		msg_file "$i" "tunnel $i" "through the tunnel $i"
		cp "$T/msg$i.eml" "$TM/new/$((1790000000 + i)).M${i}P1.tunnel"
	done
	tunnel="env POSTHORN_USER=$IUSER POSTHORN_MAILDIR=$TM $PH_ROOT/libexec/imapd -P -c $PH_DIR/etc/posthorn.conf"
	mkdir -p "$T/mail"
	cat >"$T/mbsyncrc" <<EOF
IMAPStore far
Tunnel "$tunnel"

MaildirStore near
Path $T/mail/
Inbox $T/mail/INBOX

Channel c
Far :far:
Near :near:
Patterns INBOX
Create Both
Expunge None
Sync All
SyncState *
EOF
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *Sanitizer* ]]
	[ "$(find "$T/mail/INBOX/new" "$T/mail/INBOX/cur" -type f | wc -l)" -eq 3 ]
	two=$(local_msg INBOX "tunnel 2")
	diff <(grep -v '^X-TUID: ' "$two") "$T/msg2.eml"
	# flagged and seen locally, pushed back: the server's file name carries it
	mv "$two" "$T/mail/INBOX/cur/$(basename "${two%%:2,*}"):2,FS"
	run timeout 60 mbsync -c "$T/mbsyncrc" -a
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *Sanitizer* ]]
	ls "$TM/cur"
	ls "$TM/cur" | grep -q '^1790000002\.M2P1\.tunnel:2,FS$'
	# python's IMAP4_stream: the same flags seen, then a search
	python3 - "$tunnel" <<'PY'
import imaplib, sys
M = imaplib.IMAP4_stream(sys.argv[1])
assert M.state == "AUTH", M.state
typ, dat = M.select("INBOX")
assert typ == "OK" and dat[-1] == b"3", (typ, dat)
typ, dat = M.search(None, "FLAGGED")
assert typ == "OK" and dat[0].split() == [b"2"], dat
typ, dat = M.fetch("2", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"\\Flagged" in dat[0][0] and b"\\Seen" in dat[0][0], dat
assert dat[0][1] == b"Subject: tunnel 2\r\n\r\n", dat
M.logout()
PY
}
