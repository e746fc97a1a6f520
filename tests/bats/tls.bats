#!/usr/bin/env bats
# tls.bats: TLS in posthorn (common/tls.c, smtpd/starttls.c, master's key
# passing, posthorn init's certificates and tls renew) through a running
# instance and real clients: swaks --tls / --tls-on-connect, python3
# smtplib and ssl with a verifying context, openssl s_client.  Covers the
# STARTTLS rules of RFC 3207 (injection, reset, no second STARTTLS), the
# protocol policy, broken handshakes of every kind ending only their own
# connection, certificate renewal under a running service, and who can
# read the key.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	echo "smtp_error_delay = 0" >>"$conf"
	CA=$PH_DIR/etc/tls/ca.pem
	SUB=$((PH_BASE + 587))
	SMTPS=$((PH_BASE + 465))
	LOG=$PH_DIR/log/posthorn.log
	export CA SUB SMTPS
}

teardown() {
	ph_teardown
}

set_conf() { echo "$1 = $2" >>"$conf"; }

md_new() { echo "$(ph_maildir demo)/new"; }

# wait_log PATTERN: waits (up to 10 s) for an extended regexp in the log.
wait_log() {
	for _ in $(seq 1 100); do
		grep -Eq "$1" "$LOG" && return 0
		sleep 0.1
	done
	echo "not in the log: $1" >&2
	return 1
}

# swaks with AUTH when the server offers it (submission ports require it
# once AUTH exists; --auth-optional goes on without it otherwise).
swaks_tls() {
	swaks --server 127.0.0.1 --from demo@example.test --to demo@example.test \
		--auth-optional PLAIN --auth-user demo@example.test --auth-password demo \
		--helo client.test --timeout 20 "$@"
}

received_tls() {
	local f
	f=$(ls "$(md_new)"/* | head -1)
	grep -q "with ESMTPS" "$f"
	grep -Eq "^	\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \([0-9]+/[0-9]+ bits\)\)" "$f"
}

@test "swaks --tls on port 25: STARTTLS, delivered, TLS in Received: and the log" {
	ph_start
	run swaks_tls --port "$PH_SMTP" --tls
	assert_success
	assert_output --partial "TLS started with cipher TLSv1.3"
	assert_output --partial "queued as"
	ph_wait_count "$(md_new)" 1
	received_tls
	grep -Eq "smtpd\[[0-9]+\]: info: TLS established from 127\.0\.0\.1: TLSv1\.3 with cipher TLS_" "$LOG"
}

@test "swaks --tls on submission (587) delivers over STARTTLS" {
	ph_start
	run swaks_tls --port "$SUB" --tls
	assert_success
	assert_output --partial "TLS started with cipher"
	assert_output --partial "queued as"
	ph_wait_count "$(md_new)" 1
	received_tls
}

@test "swaks --tls-on-connect on smtps (465): handshake first, then the greeting" {
	ph_start
	ph_wait_port "$SMTPS"
	run swaks_tls --port "$SMTPS" --tls-on-connect
	assert_success
	assert_output --partial "TLS started with cipher TLSv1.3"
	# the greeting comes over TLS (swaks marks TLS lines with ~)
	assert_line --regexp "^<~ +220 mx\.example\.test ESMTP posthorn"
	refute_output --partial "STARTTLS"
	assert_output --partial "queued as"
	ph_wait_count "$(md_new)" 1
	received_tls
}

@test "python smtplib starttls() verifies the chain against etc/tls/ca.pem for localhost" {
	ph_start
	run python3 - "$PH_SMTP" "$CA" <<'PY'
import smtplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)   # CERT_REQUIRED, check_hostname
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=20)
s._host = "localhost"       # the name the certificate must carry (SAN)
s.starttls(context=ctx)
print("version", s.sock.version())
s.sendmail("a@client.test", ["demo@example.test"], b"Subject: verified\r\n\r\nover TLS\r\n")
s.quit()
# the same check must fail for a name the certificate does not carry
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=20)
s._host = "not-this-host.test"
try:
    s.starttls(context=ctx)
    print("wrong name accepted")
except ssl.SSLCertVerificationError as e:
    print("wrong name refused")
PY
	assert_success
	assert_line "version TLSv1.3"
	assert_line "wrong name refused"
	ph_wait_count "$(md_new)" 1
	received_tls
}

@test "openssl s_client -starttls smtp: TLSv1.3 and the chain verifies" {
	ph_start
	# QUIT after the handshake: the session details are printed once the
	# server's first TLS 1.3 records (tickets) have arrived
	run bash -c 'echo QUIT | openssl s_client -crlf -ign_eof -starttls smtp \
		-connect "127.0.0.1:$1" -CAfile "$2" -verify_return_error -verify_hostname localhost' \
		_ "$PH_SMTP" "$CA"
	assert_success
	assert_output --regexp "Protocol *: TLSv1\.3"
	assert_output --partial "221 2.0.0 mx.example.test closing connection"
	assert_output --partial "Verify return code: 0 (ok)"
	run openssl s_client -starttls smtp -connect "127.0.0.1:$SUB" -CAfile "$CA" \
		-verify_return_error -verify_ip 127.0.0.1 </dev/null
	assert_success
	assert_output --partial "Verify return code: 0 (ok)"
}

@test "policy: TLS 1.1 and non-ECDHE TLS 1.2 ciphers refused, ECDHE AEAD TLS 1.2 accepted" {
	ph_start
	ph_wait_port "$SMTPS"
	# SECLEVEL=0 so that the client really offers TLS 1.1
	run openssl s_client -connect "127.0.0.1:$SMTPS" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null
	assert_failure
	wait_log "TLS handshake failed from 127\.0\.0\.1: .*(unsupported protocol|version)"
	run openssl s_client -connect "127.0.0.1:$SMTPS" -tls1_2 -cipher 'AES128-GCM-SHA256' </dev/null
	assert_failure
	wait_log "TLS handshake failed from 127\.0\.0\.1: .*(no shared cipher|handshake failure)"
	run openssl s_client -connect "127.0.0.1:$SMTPS" -tls1_2 -CAfile "$CA" </dev/null
	assert_success
	assert_output --regexp "Protocol *: TLSv1\.2"
	assert_output --regexp "Cipher *: ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)"
	assert_output --partial "Compression: NONE"
}

@test "STARTTLS injection: commands pipelined after STARTTLS are discarded (CVE-2011-0411)" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO client.test\r\n")
while not f.readline().startswith(b"250 "):
    pass
s.sendall(b"STARTTLS\r\nRSET\r\n")           # one write: RSET is injected
print(f.readline().decode().rstrip())
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
tf = t.makefile("rb")
t.sendall(b"EHLO after.test\r\n")
print("first:", tf.readline().decode().rstrip())
while True:
    l = tf.readline()
    if l.startswith(b"250 "):
        break
t.sendall(b"QUIT\r\n")
for l in tf:
    print("then:", l.decode().rstrip())
PY
	assert_success
	assert_line --index 0 "220 2.0.0 Ready to start TLS"
	# the first reply after the handshake answers EHLO, not the RSET
	assert_line --index 1 "first: 250-mx.example.test"
	assert_line --index 2 "then: 221 2.0.0 mx.example.test closing connection"
	[ "${#lines[@]}" -eq 3 ]
}

@test "after STARTTLS: EHLO again, no STARTTLS offered, a second STARTTLS is 503, arguments 501" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
f = s.makefile("rb")
def cmd(sock, fh, line):
    sock.sendall(line + b"\r\n")
    out = []
    while True:
        l = fh.readline().decode().rstrip()
        out.append(l)
        if l[3:4] != "-":
            return out
f.readline()
print("plain:", cmd(s, f, b"EHLO client.test"))
print("arg:", cmd(s, f, b"STARTTLS now"))
cmd(s, f, b"MAIL FROM:<a@client.test>")        # a transaction to be forgotten
print("start:", cmd(s, f, b"STARTTLS"))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
tf = t.makefile("rb")
print("mail:", cmd(t, tf, b"MAIL FROM:<a@client.test>"))
print("rcpt:", cmd(t, tf, b"RCPT TO:<demo@example.test>"))
print("ehlo:", cmd(t, tf, b"EHLO client.test"))
print("again:", cmd(t, tf, b"STARTTLS"))
print("mail2:", cmd(t, tf, b"MAIL FROM:<a@client.test>"))
print("quit:", cmd(t, tf, b"QUIT"))
PY
	assert_success
	assert_line --regexp "^plain: .*'250-STARTTLS'"
	assert_line --regexp "^arg: \['501 5\.5\.4 "
	assert_line "start: ['220 2.0.0 Ready to start TLS']"
	assert_line "mail: ['503 5.5.1 Error: send HELO/EHLO first']"
	assert_line "rcpt: ['503 5.5.1 Error: need MAIL command']"
	assert_line --regexp "^ehlo: \['250-mx\.example\.test'"
	refute_line --regexp "^ehlo: .*STARTTLS"
	assert_line "again: ['503 5.5.1 Error: TLS already active']"
	assert_line --regexp "^mail2: \['(250 2\.1\.0 Ok|530 5\.7\.0 .*)'\]"
	assert_line --regexp "^quit: \['221 "
}

@test "plain text on 465 and a ClientHello on 25 end only their own connection, logged with the IP" {
	ph_start
	ph_wait_port "$SMTPS"
	run python3 - "$PH_SMTP" "$SMTPS" <<'PY'
import socket, ssl, sys
smtp, smtps = int(sys.argv[1]), int(sys.argv[2])
# an ordinary session that stays open the whole time
good = socket.create_connection(("127.0.0.1", smtp), 20)
gf = good.makefile("rb")
print("good:", gf.readline().decode().rstrip())
# plain SMTP on the implicit TLS port
p = socket.create_connection(("127.0.0.1", smtps), 20)
p.sendall(b"EHLO client.test\r\n")
try:
    d = p.recv(4096)
    print("465 closed:", d == b"")
except ConnectionResetError:
    print("465 closed:", True)
# a TLS ClientHello on the plain port
raw = socket.create_connection(("127.0.0.1", smtp), 20)
rf = raw.makefile("rb")
rf.readline()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    ctx.wrap_socket(raw, server_hostname="localhost")
    print("25 tls: accepted")
except (ssl.SSLError, OSError) as e:
    print("25 tls: failed")
# the first session is unharmed
good.sendall(b"EHLO client.test\r\n")
while True:
    l = gf.readline().decode().rstrip()
    if l.startswith("250 "):
        break
good.sendall(b"NOOP\r\nQUIT\r\n")
print("good:", gf.readline().decode().rstrip())
print("good:", gf.readline().decode().rstrip())
PY
	assert_success
	assert_line "465 closed: True"
	assert_line "25 tls: failed"
	assert_line "good: 250 2.0.0 Ok"
	assert_line "good: 221 2.0.0 mx.example.test closing connection"
	wait_log "TLS handshake failed from 127\.0\.0\.1: plain text instead of a TLS ClientHello"
	wait_log "TLS ClientHello on a plain SMTP port from 127\.0\.0\.1"
	run grep -c "killed by signal" "$LOG"
	assert_output "0"
}

@test "a client that stops mid-handshake affects no other session; it is logged when it goes" {
	set_conf tls_handshake_timeout 2s
	ph_start
	ph_wait_port "$SMTPS"
	run python3 - "$SMTPS" "$CA" <<'PY'
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
# a real ClientHello, cut short: the record header promises more bytes
hello = bytes.fromhex("16030100f4010000f00303") + b"\x01" * 20
stalled = socket.create_connection(("127.0.0.1", port), 20)
stalled.sendall(hello)
gone = socket.create_connection(("127.0.0.1", port), 20)
gone.sendall(hello)
# meanwhile a complete session on the same port
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port), 20) as s:
    with ctx.wrap_socket(s, server_hostname="localhost") as t:
        f = t.makefile("rb")
        print("other:", f.readline().decode().rstrip())
        t.sendall(b"QUIT\r\n")
        print("other:", f.readline().decode().rstrip())
gone.close()
# the stalled one is ended by the server (tls_handshake_timeout)
stalled.settimeout(30)
try:
    print("stalled closed:", stalled.recv(100) == b"" or True)
except ConnectionResetError:
    print("stalled closed:", True)
PY
	assert_success
	assert_line "other: 220 mx.example.test ESMTP posthorn"
	assert_line "other: 221 2.0.0 mx.example.test closing connection"
	assert_line "stalled closed: True"
	wait_log "TLS handshake failed from 127\.0\.0\.1: peer closed the connection during the handshake"
	wait_log "TLS handshake failed from 127\.0\.0\.1: timed out"
}

# serial PORT: the serial number of the certificate the server presents now
serial() {
	openssl s_client -connect "127.0.0.1:$1" -CAfile "$CA" </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//'
}

@test "posthorn tls renew: the next connection gets the new certificate, the service keeps running" {
	ph_start
	ph_wait_port "$SMTPS"
	master=$(cat "$PH_DIR/log/master.pid")
	old=$(serial "$SMTPS")
	[ -n "$old" ]
	run posthorn -C "$PH_DIR" tls renew
	assert_success
	new=$(sed -n 's/^new certificate serial //p' <<<"$output")
	[ -n "$new" ]
	[ "$new" != "$old" ]
	assert_equal "$(serial "$SMTPS")" "$new"
	run openssl verify -CAfile "$CA" "$PH_DIR/etc/tls/cert.pem"
	assert_success
	# same master, still serving, verified chain over STARTTLS too
	assert_equal "$(cat "$PH_DIR/log/master.pid")" "$master"
	kill -0 "$master"
	run openssl s_client -starttls smtp -connect "127.0.0.1:$PH_SMTP" -CAfile "$CA" \
		-verify_return_error -verify_hostname localhost </dev/null
	assert_success
}

@test "init: CA and server certificate with the host name, localhost and 127.0.0.1" {
	run openssl x509 -in "$PH_DIR/etc/tls/cert.pem" -noout -text
	assert_success
	assert_output --partial "DNS:mx.example.test, DNS:localhost, IP Address:127.0.0.1"
	assert_output --partial "TLS Web Server Authentication"
	assert_output --partial "CA:FALSE"
	assert_output --partial "X509v3 Authority Key Identifier"
	run openssl x509 -in "$CA" -noout -text
	assert_output --partial "CA:TRUE"
	run openssl verify -CAfile "$CA" "$PH_DIR/etc/tls/cert.pem"
	assert_success
	# valid for years, not days
	openssl x509 -in "$PH_DIR/etc/tls/cert.pem" -noout -checkend $((5 * 365 * 86400))
	[ "$(stat -c %a "$PH_DIR/etc/tls/key.pem")" = 600 ]
	[ "$(stat -c %a "$PH_DIR/etc/tls/ca.key")" = 600 ]
	[ "$(stat -c %a "$CA")" = 644 ]
}

@test "root mode: the key is 0600 root, smtpd's user cannot open it, smtpd holds no key fd" {
	[ "$(id -u)" -eq 0 ] || skip "root mode only"
	assert_equal "$(stat -c '%a %U' "$PH_DIR/etc/tls/key.pem")" "600 root"
	assert_equal "$(stat -c '%a %U' "$PH_DIR/etc/tls/ca.key")" "600 root"
	user=$(sed -n 's/^# *user_smtpd = \([^	 ]*\).*/\1/p' "$conf" | head -1)
	[ -n "$user" ]
	run runuser -u "$user" -- cat "$PH_DIR/etc/tls/key.pem"
	assert_failure
	assert_output --partial "Permission denied"
	ph_start
	master=$(cat "$PH_DIR/log/master.pid")
	# a TLS session held open while we look at its smtpd
	coproc HOLD { python3 -c '
import socket, ssl, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 20)
f = s.makefile("rb"); f.readline()
s.sendall(b"EHLO c.test\r\n")
while not f.readline().startswith(b"250 "): pass
s.sendall(b"STARTTLS\r\n"); f.readline()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
print("ready", flush=True)
sys.stdin.readline()
' "$PH_SMTP"; }
	read -r -t 20 ready <&"${HOLD[0]}"
	[ "$ready" = ready ]
	pid=$(ps -o pid=,comm= --ppid "$master" | awk '$2 == "smtpd" { print $1; exit }')
	[ -n "$pid" ]
	assert_equal "$(ps -o user:32= -p "$pid" | tr -d ' ')" "$user"
	run ls -l "/proc/$pid/fd"
	refute_output --partial "key.pem"
	refute_output --partial "cert.pem"
	echo done >&"${HOLD[1]}"
	wait "$HOLD_PID" || true
	grep -q "TLS established from 127.0.0.1" "$LOG"
}

@test "without a readable key: no STARTTLS on 25, smtps connections refused with a log line" {
	mv "$PH_DIR/etc/tls/key.pem" "$PH_DIR/etc/tls/key.pem.away"
	ph_start
	ph_wait_port "$SMTPS"
	run ph_smtp_raw <<'END'
EHLO client.test
STARTTLS
QUIT
END
	assert_line "250 ENHANCEDSTATUSCODES"
	refute_line "250-STARTTLS"
	assert_line --regexp "^454 4\.7\.0 "
	run openssl s_client -connect "127.0.0.1:$SMTPS" </dev/null
	assert_failure
	wait_log "TLS key or certificate unavailable for 127\.0\.0\.1"
	wait_log "refused smtps connection from 127\.0\.0\.1: no TLS key"
}

# stdin_tls: smtpd on a socketpair (inetd / systemd Accept=yes style), a
# STARTTLS session verified against the instance CA; prints the replies.
stdin_tls() {
	python3 - "$PH_ROOT/libexec/smtpd" "$conf" "$CA" <<'PY'
import os, socket, ssl, subprocess, sys
smtpd, conf, ca = sys.argv[1:4]
a, b = socket.socketpair()
p = subprocess.Popen([smtpd, "-c", conf], stdin=b, stdout=b, stderr=subprocess.DEVNULL,
                     env=dict(os.environ, TCPREMOTEIP="127.0.0.1"))
b.close()
f = a.makefile("rb")
f.readline()
a.sendall(b"EHLO client.test\r\n")
ehlo = []
while True:
    l = f.readline().decode().rstrip()
    ehlo.append(l)
    if l.startswith("250 "):
        break
print("starttls offered:", "250-STARTTLS" in ehlo)
if "250-STARTTLS" in ehlo:
    a.sendall(b"STARTTLS\r\n")
    f.readline()
    t = ssl.create_default_context(cafile=ca).wrap_socket(a, server_hostname="localhost")
    print("tls:", t.version())
    t.sendall(b"QUIT\r\n")
    print(t.makefile("rb").readline().decode().rstrip())
else:
    a.sendall(b"QUIT\r\n")
print("exit:", p.wait())
PY
}

@test "inetd/systemd style: the key from \$CREDENTIALS_DIRECTORY, else the config's files" {
	run stdin_tls
	assert_success
	assert_line "starttls offered: True"
	assert_line "tls: TLSv1.3"
	cred=$PH_TOP/cred
	mkdir "$cred"
	cp "$PH_DIR/etc/tls/cert.pem" "$cred/tls.crt"
	cp "$PH_DIR/etc/tls/key.pem" "$cred/tls.key"
	set_conf tls_key /nonexistent/key.pem
	run stdin_tls
	assert_line "starttls offered: False"
	CREDENTIALS_DIRECTORY=$cred run stdin_tls
	assert_success
	assert_line "starttls offered: True"
	assert_line "tls: TLSv1.3"
	assert_line "221 2.0.0 mx.example.test closing connection"
	assert_line "exit: 0"
}

# subject PORT [SERVERNAME]: the CN of the certificate the server presents
subject() {
	openssl s_client -connect "127.0.0.1:$1" ${2:+-servername "$2"} </dev/null 2>/dev/null |
		openssl x509 -noout -subject | sed 's/.*CN *= *//'
}

@test "SNI: tls_sni_dir/HOST.pem is chosen by server name, the default otherwise" {
	sni=$PH_DIR/etc/tls/sni
	mkdir "$sni"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=alt.example.test -addext subjectAltName=DNS:alt.example.test \
		-keyout "$PH_TOP/alt.key" -out "$PH_TOP/alt.crt" 2>/dev/null
	cat "$PH_TOP/alt.crt" "$PH_TOP/alt.key" >"$sni/alt.example.test.pem"
	chmod 600 "$sni/alt.example.test.pem"
	echo junk >"$sni/bad..name.pem"
	set_conf tls_sni_dir tls/sni
	ph_start
	ph_wait_port "$SMTPS"
	assert_equal "$(subject "$SMTPS" alt.example.test)" alt.example.test
	assert_equal "$(subject "$SMTPS" ALT.example.test)" alt.example.test
	assert_equal "$(subject "$SMTPS" other.example.test)" mx.example.test
	assert_equal "$(subject "$SMTPS")" mx.example.test
}
