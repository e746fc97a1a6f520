#!/usr/bin/env bats
# imap_login.bats: imapd-login (the IMAP login stage) through a running
# instance: python3 imaplib over STARTTLS (base+143) and implicit TLS
# (base+993) verified against the instance CA, raw sessions (pop3chat.py
# is protocol-neutral) for literals, SASL-IR, cancels and error paths, the
# hand-off to imapd (tagged first line), curl imaps://, the privilege
# split in root mode, and imapd-login under systemd-socket-activate and
# tcpserver.  Tests that need imapd itself skip until libexec/imapd exists.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	IMAP=$((PH_BASE + 143))
	IMAPS=$((PH_BASE + 993))
	CA=$PH_DIR/etc/tls/ca.pem
	set_conf auth_fail_delay 0
	MD=$(ph_maildir demo)
	export MD
}

teardown() {
	ph_teardown
}

set_conf() { echo "$1 = $2" >>"$conf"; }

start() {
	ph_start
	ph_wait_port "$IMAP"
	ph_wait_port "$IMAPS"
}

have_imapd() { [ -x "$PH_ROOT/libexec/imapd" ]; }

chat() { run python3 "$BATS_TEST_DIRNAME/pop3chat.py" "$@"; }

b64() { printf '%s' "$1" | base64 -w0; }
# plain USER PASSWORD: a SASL PLAIN response (no authzid)
plain() { printf '\0%s\0%s' "$1" "$2" | base64 -w0; }

# imaplib SCRIPT on stdin: python with PORT, PORTS, CA and ctx (a
# verifying context) defined.
pyimap() {
	python3 - "$IMAP" "$IMAPS" "$CA" <<PY
import imaplib, socket, ssl, sys
PORT = int(sys.argv[1]); PORTS = int(sys.argv[2]); CA = sys.argv[3]
ctx = ssl.create_default_context(cafile=CA)
$(cat)
PY
}

@test "imap: before TLS LOGINDISABLED and STARTTLS, no AUTH=; LOGIN refused; after STARTTLS (verified) AUTH=PLAIN AUTH=LOGIN" {
	[ -f "$CA" ] || skip "no instance CA"
	start
	run pyimap <<'PY'
m = imaplib.IMAP4("127.0.0.1", PORT, timeout=10)
print("welcome", m.welcome)
print("caps", sorted(m.capabilities))
try:
    m.login("demo@example.test", "demo")
except imaplib.IMAP4.error as e:
    print("login", e)
m.starttls(ssl_context=ctx)
print("tlscaps", sorted(m.capabilities))
try:
    m.login("demo@example.test", "wrong")
except imaplib.IMAP4.error as e:
    print("wrong", e)
print("noop", m.noop())
print("logout", m.logout())
PY
	assert_success
	assert_line "welcome b'* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID STARTTLS LOGINDISABLED] posthorn IMAP4rev1 ready'"
	assert_line "caps ['ID', 'IMAP4REV1', 'LITERAL+', 'LOGINDISABLED', 'SASL-IR', 'STARTTLS']"
	assert_line "login b'[PRIVACYREQUIRED] no passwords without TLS: use STARTTLS first (or port 993)'"
	assert_line "tlscaps ['AUTH=LOGIN', 'AUTH=PLAIN', 'ID', 'IMAP4REV1', 'LITERAL+', 'SASL-IR']"
	assert_line "wrong b'[AUTHENTICATIONFAILED] authentication failed'"
	assert_line "noop ('OK', [b'NOOP completed'])"
	assert_line "logout ('BYE', [b'posthorn IMAP4rev1 server logging out'])"
	run grep -c "wrong" "$PH_DIR/log/posthorn.log"
	assert_output "0"
	grep -q "TLS established from 127.0.0.1: TLSv1" "$PH_DIR/log/posthorn.log"
}

@test "imaps: implicit TLS on 993 with IMAP4_SSL (verified): AUTH= offered, wrong password NO [AUTHENTICATIONFAILED], session goes on" {
	[ -f "$CA" ] || skip "no instance CA"
	start
	run pyimap <<'PY'
m = imaplib.IMAP4_SSL("127.0.0.1", PORTS, ssl_context=ctx, timeout=10)
print("caps", sorted(m.capabilities))
for pw in ("wrong", "wrong2"):
    try:
        m.login("demo@example.test", pw)
    except imaplib.IMAP4.error as e:
        print("wrong", e)
print("id", m.xatom("ID", "NIL"))
print("untagged", m.untagged_responses.get("ID"))
print("noop", m.noop())
try:
    m.login("demo@example.test", "wrong3")
except imaplib.IMAP4.abort as e:
    print("abort", e)
except imaplib.IMAP4.error as e:
    print("third", e)
PY
	assert_success
	assert_line "caps ['AUTH=LOGIN', 'AUTH=PLAIN', 'ID', 'IMAP4REV1', 'LITERAL+', 'SASL-IR']"
	[ "$(echo "$output" | grep -c "^wrong b'\[AUTHENTICATIONFAILED\]")" -eq 2 ]
	assert_line "id ('OK', [b'ID completed'])"
	assert_line "untagged [b'(\"name\" \"posthorn\" \"vendor\" \"posthorn\")']"
	assert_line "noop ('OK', [b'NOOP completed'])"
	# auth_max_failures (3): the third failure ends the session with a BYE
	assert_line --regexp "^(abort|third) .*"
	chat "$IMAPS" --tls "$CA" <<'EOF'
a LOGIN demo@example.test wrong
b LOGIN demo@example.test wrong
c LOGIN demo@example.test wrong
d NOOP
EOF
	[ "$(echo "$output" | grep -c 'NO \[AUTHENTICATIONFAILED\]')" -eq 3 ]
	assert_line "* BYE too many failed logins, closing"
	refute_line --partial "d OK"
}

@test "imap: LOGIN with quoted strings, synchronising and non-synchronising literals; AUTHENTICATE PLAIN with and without SASL-IR, LOGIN, cancel" {
	set_conf plaintext_auth_loopback yes
	set_conf auth_max_failures 10
	start
	chat "$IMAP" <<EOF
a1 LOGIN "demo@example.test" "wr\\"ong"
<pause>
a2 LOGIN {17}
<pause>
demo@example.test {5+}
wrong
<pause>
a3 AUTHENTICATE PLAIN $(plain demo@example.test nope)
<pause>
a4 AUTHENTICATE PLAIN
<pause>
$(plain demo@example.test nope)
<pause>
a5 AUTHENTICATE LOGIN
<pause>
$(b64 demo@example.test)
<pause>
$(b64 nope)
<pause>
a6 AUTHENTICATE PLAIN
<pause>
*
<pause>
a7 AUTHENTICATE PLAIN !!!notbase64
a8 AUTHENTICATE CRAM-MD5
a9 CAPABILITY
b1 LOGOUT
EOF
	assert_line --index 0 "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID STARTTLS AUTH=PLAIN AUTH=LOGIN] posthorn IMAP4rev1 ready"
	assert_line "a1 NO [AUTHENTICATIONFAILED] authentication failed"
	assert_line "+ go ahead"
	assert_line "a2 NO [AUTHENTICATIONFAILED] authentication failed"
	assert_line "a3 NO [AUTHENTICATIONFAILED] authentication failed"
	assert_line "a4 NO [AUTHENTICATIONFAILED] authentication failed"
	assert_line "+ "
	assert_line "+ VXNlcm5hbWU6"
	assert_line "+ UGFzc3dvcmQ6"
	assert_line "a5 NO [AUTHENTICATIONFAILED] authentication failed"
	assert_line "a6 BAD authentication cancelled"
	assert_line "a7 BAD malformed SASL response"
	assert_line "a8 NO unsupported mechanism (PLAIN and LOGIN are)"
	assert_line "a9 OK CAPABILITY completed"
	assert_line "b1 OK LOGOUT completed"
}

@test "imap: bad commands get BAD and the session goes on; overlong lines and literals; too many errors close" {
	set_conf plaintext_auth_loopback yes
	set_conf auth_max_failures 10
	set_conf max_errors 8
	start
	long=$(head -c 9000 /dev/zero | tr '\0' 'x')
	chat "$IMAP" <<EOF
a SELECT INBOX
b LOGIN onlyuser
+bad NOOP
c NOOP extra
d LOGIN {9000}
<pause>
e NOOP
f $long
g ID ("a" "b" "c")
h ID NIL
i NOOP
j FROB
k FROB
EOF
	assert_line "a BAD command unknown or not valid before login (use LOGIN or AUTHENTICATE)"
	assert_line "b BAD usage: LOGIN user password"
	assert_line "* BAD malformed command"
	assert_line "c BAD this command takes no arguments"
	assert_line "d BAD [TOOBIG] literal too big before login"
	assert_line "e OK NOOP completed"
	assert_line "* BAD command line too long"
	assert_line --partial "g BAD usage: ID"
	assert_line "h OK ID completed"
	assert_line "i OK NOOP completed"
	assert_line "* BYE too many bad commands, closing"
	refute_line --partial "k BAD"
	# a non-synchronising literal over 4 KiB ends the session (RFC 7888 4)
	chat "$IMAP" <<EOF
a LOGIN demo@example.test {5000+}
b NOOP
EOF
	assert_line "* BYE [TOOBIG] literal too big before login, closing"
	refute_line --partial "b OK"
	# 100 commands without a login are enough
	run python3 - "$IMAP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.sendall(b"".join(b"n%d NOOP\r\n" % i for i in range(120)))
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print("ok", data.count(b" OK NOOP completed"))
print("last", data.splitlines()[-1])
PY
	assert_success
	assert_line "ok 100"
	assert_line "last b'* BYE too many commands without a login, closing'"
}

@test "imap: bytes pipelined after STARTTLS are discarded; a second STARTTLS is BAD" {
	[ -f "$CA" ] || skip "no instance CA"
	start
	run pyimap <<'PY'
s = socket.create_connection(("127.0.0.1", PORT), 10)
f = s.makefile("rb"); f.readline()
s.sendall(b"a STARTTLS\r\nb LOGIN demo@example.test demo\r\n")
print(f.readline())
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"c NOOP\r\n")
print("first", t.recv(1000))
t.sendall(b"d STARTTLS\r\n")
print("again", t.recv(1000))
PY
	assert_success
	assert_line "b'a OK begin TLS negotiation now\r\n'"
	assert_line "first b'c OK NOOP completed\r\n'"
	assert_line "again b'd BAD TLS is already active\r\n'"
}

@test "imap: a TLS ClientHello on 143 gets a BYE; plain text on 993 is closed and logged" {
	[ -f "$CA" ] || skip "no instance CA"
	start
	run pyimap <<'PY'
s = socket.create_connection(("127.0.0.1", PORT), 10)
try:
    ctx.wrap_socket(s, server_hostname="localhost")
    print("handshake succeeded")
except (ssl.SSLError, OSError) as e:
    print("handshake failed")
s = socket.create_connection(("127.0.0.1", PORT), 10)
f = s.makefile("rb"); f.readline()
s.sendall(bytes.fromhex("160301002a010000260303") + b"\0" * 40)
print("hello", f.readline())
print("closed", f.read() == b"")
s = socket.create_connection(("127.0.0.1", PORTS), 10)
s.sendall(b"a CAPABILITY\r\n")
s.settimeout(10)
data = b""
try:
    while True:
        d = s.recv(1000)
        if not d:
            break
        data += d
except ConnectionResetError:
    pass
print("plain993", b"CAPABILITY" in data)
PY
	assert_success
	assert_line "handshake failed"
	assert_line "hello b'* BYE TLS ClientHello on a plain IMAP port: use port 993 or STARTTLS\r\n'"
	assert_line "closed True"
	assert_line "plain993 False"
	grep -q "TLS ClientHello on the plain IMAP port from 127.0.0.1" "$PH_DIR/log/posthorn.log"
	grep -q "imapd-login.*TLS handshake failed from 127.0.0.1" "$PH_DIR/log/posthorn.log"
}

@test "imap: a mailbox stage that cannot start: NO [UNAVAILABLE], the client stays unauthenticated" {
	set_conf plaintext_auth_loopback yes
	# no imapd where mailboxd looks for it: its exec fails.  Root mode:
	# remove the instance's own copy once started; single-user mode: a
	# libexec_dir of links to everything else.
	lib=$(sed -n 's/^libexec_dir *= *//p' "$conf" | tail -1)
	if [ "$lib" = "$PH_DIR/libexec" ]; then
		start
		rm -f "$lib/imapd"
	else
		mkdir "$PH_TOP/lx"
		for f in "$lib"/*; do
			[ "${f##*/}" = imapd ] || ln -s "$f" "$PH_TOP/lx/${f##*/}"
		done
		set_conf libexec_dir "$PH_TOP/lx"
		start
	fi
	chat "$IMAP" <<'EOF'
a LOGIN demo@example.test demo
<pause>
b NOOP
c SELECT INBOX
d LOGOUT
EOF
	assert_line "a NO [UNAVAILABLE] mailbox not available, try again later"
	assert_line "b OK NOOP completed"
	assert_line --partial "c BAD command unknown or not valid before login"
	assert_line "d OK LOGOUT completed"
	grep -q "mailboxd.*imapd session for demo@example.test" "$PH_DIR/log/posthorn.log"
	grep -q "no answer from the mailbox stage for demo@example.test" "$PH_DIR/log/posthorn.log"
}

@test "imap: a login reaches imapd: its tagged answer, SELECT shows the message delivered over SMTP" {
	have_imapd || skip "libexec/imapd not built yet"
	set_conf plaintext_auth_loopback yes
	start
	swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.test \
		--header "Subject: via imap" --body "hello imap" >/dev/null
	ph_wait_count "$MD/new" 1
	run pyimap <<'PY'
m = imaplib.IMAP4("127.0.0.1", PORT, timeout=10)
typ, data = m.login("demo@example.test", "demo")
print("login", typ, "IMAP4REV1" in m.capabilities)
print("select", m.select("INBOX"))
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("subject", data[0][1].strip())
print("logout", m.logout()[0])
PY
	assert_success
	assert_line "login OK True"
	assert_line "select ('OK', [b'1'])"
	assert_line "subject b'Subject: via imap'"
	assert_line "logout BYE"
}

@test "imap: the users table's quota reaches imapd: an APPEND over it gets NO [OVERQUOTA], one under it is stored" {
	have_imapd || skip "libexec/imapd not built yet"
	set_conf plaintext_auth_loopback yes
	echo secret | posthorn -C "$PH_DIR" user add small@example.test --quota 3000 >/dev/null
	start
	run pyimap <<'PY'
m = imaplib.IMAP4("127.0.0.1", PORT, timeout=10)
m.login("small@example.test", "secret")
big = b"Subject: big\r\n\r\n" + b"x" * 5000 + b"\r\n"
small = b"Subject: small\r\n\r\nhello\r\n"
try:
    print("big", m.append("INBOX", None, None, big))
except m.error as e:
    print("big error", e)
print("small", m.append("INBOX", None, None, small)[0])
print("select", m.select("INBOX"))
m.logout()
PY
	assert_success
	assert_line --regexp "^big .*NO.*\[OVERQUOTA\]"
	assert_line "small OK"
	assert_line "select ('OK', [b'1'])"
}

@test "imap: AUTHENTICATE PLAIN with SASL-IR over imaps logs in (imaplib); curl imaps:// with --cacert lists INBOX" {
	[ -f "$CA" ] || skip "no instance CA"
	have_imapd || skip "libexec/imapd not built yet"
	start
	run pyimap <<'PY'
m = imaplib.IMAP4_SSL("localhost", PORTS, ssl_context=ctx, timeout=10)
typ, data = m.authenticate("PLAIN", lambda _: b"\0demo@example.test\0demo")
print("auth", typ)
print("select", m.select("INBOX")[0])
m.logout()
PY
	assert_success
	assert_line "auth OK"
	assert_line "select OK"
	run curl -s --cacert "$CA" --user demo@example.test:demo "imaps://localhost:$IMAPS/"
	assert_success
	assert_output --partial "INBOX"
	run curl -s --cacert "$CA" --user demo@example.test:wrong "imaps://localhost:$IMAPS/"
	assert_failure
}

@test "imap: curl imap:// --ssl-reqd and imaps:// with --cacert: a wrong password is refused after TLS" {
	[ -f "$CA" ] || skip "no instance CA"
	start
	run curl -sv --cacert "$CA" --user demo@example.test:wrong "imaps://localhost:$IMAPS/"
	assert_failure 67	# login denied
	assert_output --partial "AUTHENTICATIONFAILED"
	assert_output --partial "SSL certificate verify ok"
	run curl -sv --ssl-reqd --cacert "$CA" --user demo@example.test:wrong "imap://localhost:$IMAP/"
	assert_failure 67
	assert_output --partial "STARTTLS"
	assert_output --partial "AUTHENTICATIONFAILED"
}

@test "imap: privileges: imapd-login runs as user_login and can read neither mail, passwd.cdb nor the key; imapd as user_mail" {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	set_conf plaintext_auth_loopback yes
	start
	python3 - "$IMAP" "$PH_TOP/ready" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
s.recv(1000)
open(sys.argv[2], "w").close()
time.sleep(3)
s.sendall(b"a LOGOUT\r\n")
PY
	for _ in $(seq 1 50); do [ -e "$PH_TOP/ready" ] && break; sleep 0.1; done
	login=$(pgrep -f "imapd-login -c $PH_DIR" | head -1)
	[ -n "$login" ]
	assert_equal "$(ps -o user:32= -p "$login" | tr -d ' ')" posthorn-login
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups cat "$PH_DIR/etc/passwd.cdb"
	assert_failure
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups ls "$MD"
	assert_failure
	run setpriv --reuid posthorn-login --regid posthorn-login --init-groups cat "$PH_DIR/etc/tls/key.pem"
	assert_failure
	wait
	have_imapd || skip "libexec/imapd not built yet: imapd's user not checked"
	python3 - "$IMAP" "$PH_TOP/ready2" <<'PY' &
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
m.login("demo@example.test", "demo")
open(sys.argv[2], "w").close()
time.sleep(3)
m.logout()
PY
	for _ in $(seq 1 50); do [ -e "$PH_TOP/ready2" ] && break; sleep 0.1; done
	stage=$(pgrep -f "^imapd -c $PH_DIR" | head -1)
	[ -n "$stage" ]
	assert_equal "$(ps -o user:32= -p "$stage" | tr -d ' ')" posthorn-mail
	wait
}

@test "imap: a connection over max_connections_per_ip gets * BYE from master" {
	set_conf max_connections_per_ip 1
	start
	run python3 - "$IMAP" <<'PY'
import socket, sys
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), 10)
print("first", a.makefile("rb").readline()[:4])
b = socket.create_connection(("127.0.0.1", port), 10)
print("second", b.makefile("rb").readline())
PY
	assert_success
	assert_line "first b'* OK'"
	assert_line "second b'* BYE [UNAVAILABLE] too many connections, try again later\r\n'"
}

# inetd style: imapd-login on an accepted socket, started by the invoker
# (systemd-socket-activate --inetd -a, tcpserver), the daemons from master.
@test "imap: imapd-login under systemd-socket-activate --inetd and tcpserver answers and checks passwords" {
	set_conf plaintext_auth_loopback yes
	start
	lib=$(sed -n 's/^libexec_dir *= *//p' "$conf" | tail -1)
	n=0
	if command -v systemd-socket-activate >/dev/null; then
		p1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		systemd-socket-activate --inetd -a -l "127.0.0.1:$p1" "$lib/imapd-login" -c "$conf" 2>/dev/null &
		echo $! >"$PH_TOP/ssa.pid"
		ph_wait_port "$p1"
		chat "$p1" <<'EOF'
a CAPABILITY
b LOGIN demo@example.test wrong
c LOGOUT
EOF
		kill "$(cat "$PH_TOP/ssa.pid")"
		assert_line "* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID STARTTLS AUTH=PLAIN AUTH=LOGIN"
		assert_line "b NO [AUTHENTICATIONFAILED] authentication failed"
		assert_line "c OK LOGOUT completed"
		n=$((n + 1))
	fi
	if command -v tcpserver >/dev/null; then
		p2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		tcpserver -R -H 127.0.0.1 "$p2" "$lib/imapd-login" -c "$conf" 2>/dev/null &
		echo $! >"$PH_TOP/tcpserver.pid"
		ph_wait_port "$p2"
		chat "$p2" <<'EOF'
a LOGIN demo@example.test wrong
b LOGOUT
EOF
		kill "$(cat "$PH_TOP/tcpserver.pid")"
		assert_line "a NO [AUTHENTICATIONFAILED] authentication failed"
		assert_line "b OK LOGOUT completed"
		n=$((n + 1))
	fi
	[ "$n" -gt 0 ] || skip "neither systemd-socket-activate nor tcpserver installed"
}
