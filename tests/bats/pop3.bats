#!/usr/bin/env bats
# pop3.bats: POP3 (pop3d-login -> auth -> mailboxd -> pop3d) through a
# running instance: raw sessions (pop3chat.py) for every command and error
# path, python3 poplib, curl, fetchmail and openssl s_client as real
# clients, over STLS (base+110) and implicit TLS (base+995) verified
# against the instance CA, plus the privilege split in root mode.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	POP3=$((PH_BASE + 110))
	POP3S=$((PH_BASE + 995))
	CA=$PH_DIR/etc/tls/ca.pem
	set_conf auth_fail_delay 0
	set_conf plaintext_auth_loopback yes
	MD=$(ph_maildir demo)
	export MD
}

teardown() {
	ph_teardown
}

set_conf() { echo "$1 = $2" >>"$conf"; }

start() {
	ph_start
	ph_wait_port "$POP3"
}

# put_msg NAME TEXT: a message file in new/, owned like the Maildir.
put_msg() {
	printf '%b' "$2" >"$MD/new/$1"
	chown --reference="$MD" "$MD/new/$1"
}

three_msgs() {
	put_msg 1000.A.host "Subject: one\n\nfirst body\n.dotted line\nend\n"
	put_msg 1001.B.host "Subject: two\nX-Two: yes\n\nsecond\nbody\nthree\nfour\n"
	put_msg 1002.C.host "Subject: three\n\nno final newline"
}

chat() { run python3 "$BATS_TEST_DIRNAME/pop3chat.py" "$@"; }

# poplib SCRIPT: python with `p` logged in over plain loopback.
poplib() {
	python3 - "$POP3" "$CA" "$@" <<PY
import poplib, ssl, sys
port = int(sys.argv[1]); ca = sys.argv[2]
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("demo@example.test"); p.pass_("demo")
$(cat)
PY
}

@test "pop3: greeting, CAPA before login offers STLS, USER and SASL; other commands refused" {
	start
	chat "$POP3" <<'EOF'
CAPA
STAT
NOOP
QUIT
EOF
	assert_line --index 0 "+OK posthorn POP3 ready"
	assert_line "STLS"
	assert_line "USER"
	assert_line "SASL PLAIN LOGIN"
	assert_line "RESP-CODES"
	assert_line "IMPLEMENTATION posthorn"
	assert_line "-ERR not logged in (use USER/PASS or AUTH)"
	assert_line "+OK posthorn POP3 server signing off"
}

@test "pop3: passwords refused in clear without plaintext_auth_loopback" {
	set_conf plaintext_auth_loopback no
	start
	chat "$POP3" <<'EOF'
CAPA
USER demo@example.test
PASS demo
AUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AGRlbW8=
QUIT
EOF
	assert_line "STLS"
	refute_line "USER"
	refute_line --partial "SASL"
	assert_line --partial "-ERR [AUTH] TLS required"
	refute_output --partial "maildrop has"
}

@test "pop3: USER/PASS, every TRANSACTION command, sizes equal the octets RETR sends" {
	three_msgs
	start
	run poplib <<'PY'
n, size = p.stat()
print("stat", n, size)
resp, lines, _ = p.list()
sizes = [int(l.split()[1]) for l in lines]
print("listsum", sum(sizes) == size)
total = 0
for i in range(1, n + 1):
    resp, body, octets = p.retr(i)
    raw = b"".join(l + b"\r\n" for l in body)
    # poplib removes the dot-stuffing: octets counts what was on the wire
    print("retr", i, len(raw) == sizes[i - 1])
print("body1", p.retr(1)[1])
print("top2", p.top(2, 1)[1])
print("top0", p.top(1, 0)[1])
print("list2", p.list(2))
print("uidl", p.uidl()[1])
print("uidl3", p.uidl(3))
print("noop", p.noop())
print("dele", p.dele(2))
print("stat2", p.stat())
try:
    p.retr(2)
except poplib.error_proto as e:
    print("retr-deleted", e)
try:
    p.list(9)
except poplib.error_proto as e:
    print("list9", e)
print("rset", p.rset())
print("stat3", p.stat())
print("capa", sorted(p.capa().keys()))
print("quit", p.quit())
PY
	assert_success
	assert_line "stat 3 138"
	assert_line "listsum True"
	assert_line "retr 1 True"
	assert_line "retr 2 True"
	assert_line "retr 3 True"
	assert_line "body1 [b'Subject: one', b'', b'first body', b'.dotted line', b'end']"
	assert_line "top2 [b'Subject: two', b'X-Two: yes', b'', b'second']"
	assert_line "top0 [b'Subject: one', b'']"
	assert_line "list2 b'+OK 2 55'"
	assert_line --regexp "^uidl \[b'1 [0-9]+\.1', b'2 [0-9]+\.2', b'3 [0-9]+\.3'\]$"
	assert_line --regexp "^uidl3 b'\+OK 3 [0-9]+\.3'$"
	assert_line "noop b'+OK'"
	assert_line "dele b'+OK message 2 deleted'"
	assert_line "stat2 (2, 83)"
	assert_line "retr-deleted b'-ERR message already deleted'"
	assert_line "list9 b'-ERR no such message'"
	assert_line "stat3 (3, 138)"
	assert_line "capa ['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'TOP', 'UIDL']"
	assert_line "quit b'+OK posthorn POP3 server signing off (0 messages deleted)'"
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
}

@test "pop3: dot-stuffing and CRLF on the wire, final line completed" {
	three_msgs
	start
	chat "$POP3" <<'EOF'
USER demo@example.test
PASS demo
<pause>
RETR 1
RETR 3
QUIT
EOF
	python3 - "$POP3" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
f.readline()
s.sendall(b"USER demo@example.test\r\nPASS demo\r\nRETR 1\r\nRETR 3\r\nQUIT\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
data = f.read() if not data else data
exp = (b"+OK 47 octets\r\nSubject: one\r\n\r\nfirst body\r\n..dotted line\r\nend\r\n.\r\n")
assert exp in data, data
assert b"Subject: three\r\n\r\nno final newline\r\n.\r\n" in data, data
PY
}

@test "pop3: a message delivered by SMTP arrives byte for byte through RETR" {
	start
	run swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.test \
		--header "Subject: bytes" --body $'line one\n.leading dot\n\ttab and trailing space \nlast'
	assert_success
	ph_wait_count "$MD/new" 1
	run poplib <<'PY'
import glob, os
f = glob.glob(os.environ["MD"] + "/new/*")[0]
stored = open(f, "rb").read()
resp, lines, octets = p.retr(1)
got = b"".join(l + b"\r\n" for l in lines)
print("same", got == stored.replace(b"\n", b"\r\n"))
print("size", p.list(1).split()[2].decode() == str(len(stored.replace(b"\n", b"\r\n"))))
p.quit()
PY
	assert_success
	assert_line "same True"
	assert_line "size True"
}

@test "pop3: deletion happens only at QUIT; a killed connection deletes nothing; UIDL stable" {
	three_msgs
	start
	run poplib <<'PY'
print("u1", p.uidl()[1])
p.dele(1); p.dele(3)
PY
	assert_success
	u1=$(echo "$output" | grep '^u1')
	# the session above ended without QUIT (python exit): nothing removed
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
	chat "$POP3" <<'EOF'
USER demo@example.test
PASS demo
<pause>
DELE 1
DELE 2
<pause>
<kill>
EOF
	assert_line "+OK message 2 deleted"
	sleep 0.5
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
	run poplib <<'PY'
print("u1", p.uidl()[1])
p.dele(1)
print("before-quit", p.stat())
print(p.quit())
PY
	assert_success
	assert_line "$u1"
	assert_line "b'+OK posthorn POP3 server signing off (1 messages deleted)'"
	[ "$(ls "$MD/new" | wc -l)" -eq 2 ]
	[ ! -e "$MD/new/1000.A.host" ]
	# later sessions (and after a restart) keep the other UIDs
	ph_stop
	start
	run poplib <<'PY'
print("u2", p.uidl()[1])
p.quit()
PY
	assert_success
	uid2=$(echo "$u1" | grep -o "b'2 [0-9.]*'")
	uid3=$(echo "$u1" | grep -o "b'3 [0-9.]*'")
	assert_line --partial "${uid2/2 /1 }"
	assert_line --partial "${uid3/3 /2 }"
}

@test "pop3: wrong password gets -ERR [AUTH]; auth_max_failures closes the connection" {
	start
	chat "$POP3" <<'EOF'
USER demo@example.test
PASS wrong
<pause>
USER nobody@example.test
PASS demo
<pause>
USER demo@example.test
PASS wrong2
<pause>
NOOP
EOF
	assert_line "-ERR [AUTH] invalid credentials"
	[ "$(echo "$output" | grep -c -- '-ERR \[AUTH\] invalid credentials')" -eq 3 ]
	assert_line "-ERR [AUTH] too many failed logins, closing"
	refute_line --partial "not logged in"
	run grep -c "wrong" "$PH_DIR/log/posthorn.log"
	assert_output "0"
}

@test "pop3: a second session on the same maildrop gets -ERR [IN-USE]" {
	three_msgs
	start
	run python3 - "$POP3" <<'PY'
import poplib, sys
port = int(sys.argv[1])
a = poplib.POP3("127.0.0.1", port, timeout=10)
a.user("demo@example.test"); a.pass_("demo")
b = poplib.POP3("127.0.0.1", port, timeout=10)
b.user("demo@example.test")
try:
    b.pass_("demo")
    print("second ok")
except poplib.error_proto as e:
    print("second", e)
print("first", a.stat())
a.quit()
b.user("demo@example.test")
print("after", b.pass_("demo"))
PY
	assert_success
	assert_line "second b'-ERR [IN-USE] maildrop already locked by another session'"
	assert_line "first (3, 138)"
	assert_line "after b'+OK maildrop has 3 messages (138 octets)'"
}

@test "pop3: bad commands get -ERR and the session goes on; overlong lines; too many errors close" {
	three_msgs
	set_conf max_errors 6
	start
	long=$(head -c 2000 /dev/zero | tr '\0' 'x')
	chat "$POP3" <<EOF
USER demo@example.test
PASS demo
<pause>
FROB
RETR
RETR 0
RETR x
TOP 1
STAT
$long
STAT
EOF
	assert_line "-ERR unknown command"
	assert_line "-ERR RETR needs a message number"
	assert_line "-ERR no such message"
	assert_line "-ERR usage: TOP message lines"
	assert_line "+OK 3 138"
	assert_line "-ERR line too long"
	assert_line "-ERR too many bad commands, closing"
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
}

@test "pop3: AUTH PLAIN and LOGIN (initial response, challenges, cancel), pipelined commands" {
	three_msgs
	start
	plain=$(printf '\0demo@example.test\0demo' | base64 -w0)
	u=$(printf 'demo@example.test' | base64 -w0)
	p=$(printf 'demo' | base64 -w0)
	chat "$POP3" <<EOF
AUTH
AUTH CRAM-MD5
AUTH PLAIN
*
AUTH LOGIN
$u
$p
<pause>
STAT
QUIT
EOF
	assert_line "PLAIN"
	assert_line --partial "-ERR [AUTH] unsupported mechanism"
	assert_line "-ERR [AUTH] authentication cancelled"
	assert_line "+ VXNlcm5hbWU6"
	assert_line "+ UGFzc3dvcmQ6"
	assert_line "+OK maildrop has 3 messages (138 octets)"
	assert_line "+OK 3 138"
	chat "$POP3" <<EOF
<raw AUTH PLAIN $plain\r\nSTAT\r\nLIST 1\r\nQUIT\r\n>
EOF
	assert_line "+OK maildrop has 3 messages (138 octets)"
	assert_line "+OK 3 138"
	assert_line "+OK 1 47"
}

@test "pop3: STLS with poplib (verified against the instance CA), pipelined bytes after STLS dropped" {
	[ -f "$CA" ] || skip "no instance CA (posthorn init without TLS)"
	set_conf plaintext_auth_loopback no
	three_msgs
	start
	run python3 - "$POP3" "$CA" <<'PY'
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
ctx = ssl.create_default_context(cafile=sys.argv[2])
p.stls(context=ctx)
print("tls", p.sock.version())
print("capa", sorted(p.capa().keys()))
p.user("demo@example.test"); print(p.pass_("demo"))
print("stat", p.stat())
p.quit()
PY
	assert_success
	assert_line --regexp "^tls TLSv1\.[23]$"
	assert_line "capa ['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']"
	assert_line "b'+OK maildrop has 3 messages (138 octets)'"
	assert_line "stat (3, 138)"
	# "STLS\r\nCAPA\r\n" in one write: CAPA must not be answered after TLS
	chat "$POP3" --stls "$CA" <<'EOF'
<raw STLS\r\nCAPA\r\n>
EOF
	run python3 - "$POP3" "$CA" <<'PY'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb"); f.readline()
s.sendall(b"STLS\r\nCAPA\r\n")
print(f.readline())
t = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(s, server_hostname="localhost")
t.sendall(b"NOOP\r\n")
print("first", t.recv(1000))
PY
	assert_success
	assert_line "first b'-ERR not logged in (use USER/PASS or AUTH)\r\n'"
	chat "$POP3" --stls "$CA" <<'EOF'
<stls>
STLS
QUIT
EOF
	assert_line "-ERR already using TLS"
}

@test "pop3s: implicit TLS on 995 with poplib; openssl s_client -starttls pop3 verifies" {
	[ -f "$CA" ] || skip "no instance CA"
	set_conf plaintext_auth_loopback no
	three_msgs
	start
	ph_wait_port "$POP3S"
	run python3 - "$POP3S" "$CA" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
print("capa", "STLS" in p.capa())
p.user("demo@example.test"); print(p.pass_("demo"))
print("top", p.top(3, 5)[1])
p.quit()
PY
	assert_success
	assert_line "capa False"
	assert_line "b'+OK maildrop has 3 messages (138 octets)'"
	assert_line "top [b'Subject: three', b'', b'no final newline']"
	run bash -c "printf 'CAPA\r\nQUIT\r\n' | timeout 20 openssl s_client -ign_eof -starttls pop3 -connect 127.0.0.1:$POP3 -CAfile '$CA' -verify_return_error -servername localhost 2>&1"
	assert_success
	assert_output --partial "Verify return code: 0 (ok)"
	assert_output --regexp "New, TLSv1\.[23]"
	assert_output --partial "+OK capability list follows"
}

@test "pop3: curl pop3:// and pop3s:// LIST, RETR by number, DELE" {
	three_msgs
	start
	run curl -s --user demo@example.test:demo "pop3://127.0.0.1:$POP3/"
	assert_success
	assert_line --regexp "^1 47"
	assert_line --regexp "^3 [0-9]+"
	run curl -s --user demo@example.test:demo "pop3://127.0.0.1:$POP3/2"
	assert_success
	assert_output --partial "X-Two: yes"
	if [ -f "$CA" ]; then
		run curl -s --cacert "$CA" --user demo@example.test:demo "pop3s://localhost:$POP3S/1"
		assert_success
		assert_output --partial "first body"
		run curl -s --ssl-reqd --cacert "$CA" --user demo@example.test:demo "pop3://localhost:$POP3/3"
		assert_success
		assert_output --partial "no final newline"
	fi
	run curl -s --user demo@example.test:demo -X DELE -I "pop3://127.0.0.1:$POP3/1"
	assert_success
	[ ! -e "$MD/new/1000.A.host" ]
	[ "$(ls "$MD/new" | wc -l)" -eq 2 ]
}

# fetchmail RC-LINES: runs fetchmail with a private rc and id file; mail
# goes to $PH_TOP/fetched (one "From " separated mbox).
fetch() {
	local rc=$PH_TOP/fetchmailrc
	printf '%s\n' "$@" >"$rc"
	chmod 600 "$rc"
	HOME=$PH_TOP run timeout 60 fetchmail -f "$rc" --nosyslog --nodetach --idfile "$PH_TOP/fetchids" \
		--pidfile "$PH_TOP/fetchmail.pid"
}

@test "pop3: fetchmail keep then no-keep over STLS (certificate checked); over 995" {
	[ -f "$CA" ] || skip "no instance CA"
	command -v fetchmail >/dev/null || skip "fetchmail not installed"
	set_conf plaintext_auth_loopback no
	three_msgs
	start
	out=$PH_TOP/fetched
	common="user \"demo@example.test\" password \"demo\" sslcertck sslcertfile \"$CA\" mda \"cat >> $out\""
	fetch "poll localhost service $POP3 protocol pop3 $common sslproto tls1.2+ keep"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Subject:' "$out")" -eq 3 ]
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
	: >"$out"
	fetch "poll localhost service $POP3 protocol pop3 $common sslproto tls1.2+ nokeep fetchall"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Subject:' "$out")" -eq 3 ]
	[ "$(ls "$MD/new" | wc -l)" -eq 0 ]
	put_msg 2000.D.host "Subject: four\n\nover 995\n"
	: >"$out"
	fetch "poll localhost service $POP3S protocol pop3 $common ssl nokeep"
	[ "$status" -eq 0 ]
	grep -q "over 995" "$out"
	[ "$(ls "$MD/new" | wc -l)" -eq 0 ]
}

@test "pop3: privileges: pop3d-login runs as user_login and cannot read mail or passwd.cdb; pop3d as user_mail" {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	three_msgs
	start
	python3 - "$POP3" "$PH_TOP/ready" <<'PY' &
import poplib, sys, time, os
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
p.user("demo@example.test"); p.pass_("demo")
open(sys.argv[2], "w").close()
time.sleep(3)
p.quit()
PY
	for _ in $(seq 1 50); do [ -e "$PH_TOP/ready" ] && break; sleep 0.1; done
	login=$(pgrep -f "pop3d-login -c $PH_DIR" | head -1)
	stage=$(pgrep -f "^pop3d -c $PH_DIR" | head -1)
	mboxd=$(pgrep -f "^mailboxd -c $PH_DIR" | head -1)
	[ -n "$login" ] && [ -n "$stage" ] && [ -n "$mboxd" ]
	assert_equal "$(ps -o user:32= -p "$login" | tr -d ' ')" posthorn-login
	assert_equal "$(ps -o user:32= -p "$stage" | tr -d ' ')" posthorn-mail
	assert_equal "$(ps -o user:32= -p "$mboxd" | tr -d ' ')" posthorn-mail
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups cat "$PH_DIR/etc/passwd.cdb"
	assert_failure
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups ls "$MD/new"
	assert_failure
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups cat "$PH_DIR/etc/tls/key.pem"
	assert_failure
	wait
}

@test "pop3: a connection over max_connections_per_ip gets a POP3 -ERR from master" {
	set_conf max_connections_per_ip 1
	start
	run python3 - "$POP3" <<'PY'
import socket, sys
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), 10)
print("first", a.makefile("rb").readline())
b = socket.create_connection(("127.0.0.1", port), 10)
print("second", b.makefile("rb").readline())
PY
	assert_success
	assert_line "first b'+OK posthorn POP3 ready\r\n'"
	assert_line "second b'-ERR [SYS/TEMP] too many connections, try again later\r\n'"
}

@test "pop3: pop3d-login runs inetd-style (socket on stdin/stdout, started by the invoker) and hands over to mailboxd" {
	three_msgs
	start
	run python3 - "$PH_ROOT/libexec/pop3d-login" "$conf" <<'PY'
import poplib, socket, subprocess, sys, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept()
    subprocess.run([sys.argv[1], "-c", sys.argv[2]], stdin=c, stdout=c, stderr=subprocess.DEVNULL)
    c.close()
t = threading.Thread(target=serve); t.start()
p = poplib.POP3("127.0.0.1", port, timeout=10)
print(p.getwelcome())
p.user("demo@example.test"); print(p.pass_("demo"))
print("stat", p.stat())
p.quit(); t.join()
PY
	assert_success
	assert_line "b'+OK posthorn POP3 ready'"
	assert_line "b'+OK maildrop has 3 messages (138 octets)'"
	assert_line "stat (3, 138)"
}

@test "pop3: an idle session is closed with -ERR after pop3_timeout, deleting nothing" {
	three_msgs
	set_conf pop3_timeout 1s
	start
	chat "$POP3" <<'EOF2'
USER demo@example.test
PASS demo
<pause>
DELE 1
<pause>
<pause>
<pause>
<pause>
<pause>
<pause>
EOF2
	assert_line "+OK message 1 deleted"
	assert_line "-ERR autologout: idle for too long"
	[ "$(ls "$MD/new" | wc -l)" -eq 3 ]
}

@test "pop3: UPDATE adjusts maildirsize; 100 commands without a login close the connection" {
	three_msgs
	printf '100000S\n136 3\n' >"$MD/maildirsize"
	chown --reference="$MD" "$MD/maildirsize"
	start
	run poplib <<'PY'
p.dele(1); p.dele(3)
print(p.quit())
PY
	assert_success
	run tail -1 "$MD/maildirsize"
	assert_output "-74 -2"
	run python3 - "$POP3" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.sendall(b"CAPA\r\n" * 120)
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.count(b"+OK capability list follows"), data.splitlines()[-1])
PY
	assert_success
	assert_output "100 b'-ERR too many commands without a login, closing'"
}

@test "pop3: a message renamed by another reader is still served; one removed gets -ERR [SYS/PERM]" {
	three_msgs
	start
	run python3 - "$POP3" "$MD" <<'PY'
import os, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo@example.test"); p.pass_("demo")
md = sys.argv[2]
os.rename(md + "/new/1000.A.host", md + "/cur/1000.A.host:2,S")   # an IMAP client's \Seen
os.unlink(md + "/new/1001.B.host")
print("retr1", p.retr(1)[1][0])
try:
    p.retr(2)
except poplib.error_proto as e:
    print("retr2", e)
print("retr3", p.retr(3)[1][0])
print(p.quit())
PY
	assert_success
	assert_line "retr1 b'Subject: one'"
	assert_line "retr2 b'-ERR [SYS/PERM] message was removed by another session'"
	assert_line "retr3 b'Subject: three'"
	run poplib <<'PY'
print("uidl", p.uidl()[1])
PY
	assert_line --regexp "^uidl \[b'1 [0-9]+\.1', b'2 [0-9]+\.3'\]$"
}

@test "pop3s: a 3 MB message comes through the TLS relay whole, with the size LIST gave" {
	[ -f "$CA" ] || skip "no instance CA"
	python3 - "$MD/new/3000.BIG.host" <<'PY'
import sys
lines = ["Subject: big", ""] + [("." if i % 7 == 0 else "") + ("%06d " % i) + "y" * (i % 200) for i in range(30000)]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
	chown --reference="$MD" "$MD/new/3000.BIG.host"
	start
	ph_wait_port "$POP3S"
	run python3 - "$POP3S" "$CA" "$MD/new/3000.BIG.host" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
p = poplib.POP3_SSL("localhost", int(sys.argv[1]), context=ctx, timeout=30)
p.user("demo@example.test"); p.pass_("demo")
size = int(p.list(1).split()[2])
resp, lines, octets = p.retr(1)
got = b"".join(l + b"\r\n" for l in lines)
want = open(sys.argv[3], "rb").read().replace(b"\n", b"\r\n")
print("same", got == want, "size", size == len(want))
p.quit()
PY
	assert_success
	assert_output "same True size True"
}
