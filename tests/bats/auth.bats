#!/usr/bin/env bats
# auth.bats: SMTP AUTH (RFC 4954, PLAIN and LOGIN) and submission (RFC
# 6409) through the auth daemon: swaks and smtplib over STARTTLS and
# implicit TLS, the replies of every error path, failure limits, relaying
# and sender ownership, which users the processes run as, and that no
# password reaches the log.  Most raw sessions use plaintext_auth_loopback
# so that the exchange can be scripted; the TLS tests use real clients.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	PH_SUB=$((PH_BASE + 587))
	PH_SMTPS=$((PH_BASE + 465))
	# failure delays are checked in the log, not by the clock
	set_conf auth_fail_delay 0s
}

teardown() {
	ph_teardown
}

set_conf() {
	echo "$1 = $2" >>"$conf"
}

chat() {	# chat PORT: a raw session (see smtpchat.py)
	run ph_smtp_raw "$1"
}

b64() { printf '%b' "$1" | base64 -w0; }

PLAIN_DEMO=$(printf '\0demo@example.test\0demo' | base64 -w0)

add_user() {	# add_user ADDRESS PASSWORD
	echo "$2" | posthorn -C "$PH_DIR" user add "$1" >/dev/null
}

msg_with() {	# msg_with TEXT: waits for one message in demo's new/ holding TEXT
	ph_wait_count "$(ph_maildir demo)/new" 1
	grep -l -- "$1" "$(ph_maildir demo)"/new/* >/dev/null
}

@test "auth runs as posthorn-auth; auth.sock is posthorn-auth:posthorn-login 0660; smtpd cannot read passwd.cdb" {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	for _ in $(seq 50); do
		u=$(ps -o user:32=,comm= --ppid "$m" | awk '$2 == "auth" { print $1; exit }')
		[ -n "$u" ] && break
		sleep 0.1
	done
	assert_equal "$u" posthorn-auth
	assert_equal "$(stat -c '%U:%G:%a' "$PH_DIR/run/auth.sock")" "posthorn-auth:posthorn-login:660"
	assert_equal "$(stat -c '%U:%G:%a' "$PH_DIR/etc/passwd.cdb")" "root:posthorn-auth:640"
	run runuser -u posthorn-smtpd -- cat "$PH_DIR/etc/passwd.cdb"
	assert_failure
	run runuser -u posthorn-auth -- cat "$PH_DIR/etc/passwd.cdb"
	assert_success
	# smtpd runs with the login group only as a supplementary group
	python3 -c "import socket,time
s=socket.create_connection(('127.0.0.1', $PH_SUB)); s.recv(512); time.sleep(3)" &
	for _ in $(seq 50); do
		p=$(ps -o pid=,comm= --ppid "$m" | awk '$2 == "smtpd" { print $1; exit }')
		[ -n "$p" ] && break
		sleep 0.1
	done
	assert_equal "$(ps -o user:32= -p "$p" | tr -d ' ')" posthorn-smtpd
	grep -q "^Groups:.*\b$(getent group posthorn-login | cut -d: -f3)\b" "/proc/$p/status"
}

@test "in clear without plaintext_auth_loopback: AUTH not advertised, refused with 538" {
	ph_start
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $PLAIN_DEMO
MAIL FROM:<demo@example.test>
QUIT
END
	refute_line --partial "AUTH"
	assert_line "538 5.7.11 Encryption required for requested authentication mechanism"
	assert_line "530 5.7.0 Authentication required"
}

@test "plaintext_auth_loopback: PLAIN with initial response, then submission to a local user" {
	set_conf plaintext_auth_loopback yes
	ph_start
	chat "$PH_SUB" <<END
EHLO client.test
MAIL FROM:<demo@example.test>
AUTH PLAIN $PLAIN_DEMO
MAIL FROM:<demo@example.test> AUTH=<>
RCPT TO:<demo@example.test>
DATA
Subject: plain auth

hello
.
QUIT
END
	assert_line "250-AUTH PLAIN LOGIN"
	assert_line "530 5.7.0 Authentication required"
	assert_line "235 2.7.0 Authentication successful"
	assert_line "250 2.1.0 Ok"
	assert_line --partial "queued as"
	msg_with "Subject: plain auth"
	f=$(ls "$(ph_maildir demo)"/new/*)
	grep -q "with ESMTPA id" "$f"
	grep -q "(Authenticated sender: demo@example.test)" "$f"
	grep -q "^Message-ID: " "$f"
	grep -q "smtpd.*AUTH user=demo@example.test from 127.0.0.1 ok" "$PH_DIR/log/posthorn.log"
}

@test "PLAIN without initial response, \"=\" (empty, malformed for PLAIN); LOGIN with challenges" {
	set_conf plaintext_auth_loopback yes
	ph_start
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN =
AUTH PLAIN
$PLAIN_DEMO
QUIT
END
	assert_line "501 5.5.2 Error: malformed authentication data"
	assert_line "334 "
	assert_line "235 2.7.0 Authentication successful"
	chat "$PH_SUB" <<END
EHLO client.test
AUTH LOGIN
$(b64 demo@example.test)
$(b64 demo)
QUIT
END
	assert_line "334 VXNlcm5hbWU6"
	assert_line "334 UGFzc3dvcmQ6"
	assert_line "235 2.7.0 Authentication successful"
	chat "$PH_SUB" <<END
EHLO client.test
AUTH login $(b64 demo@example.test)
$(b64 demo)
QUIT
END
	refute_line "334 VXNlcm5hbWU6"
	assert_line "235 2.7.0 Authentication successful"
}

@test "AUTH error replies: mechanism, base64, cancel, sequence, authzid, overlong line" {
	set_conf plaintext_auth_loopback yes
	set_conf max_errors 50
	set_conf smtp_error_delay 0s
	ph_start
	long=$(head -c 13000 /dev/zero | tr '\0' A)
	chat "$PH_SMTP" <<END
AUTH PLAIN $PLAIN_DEMO
EHLO client.test
AUTH
AUTH CRAM-MD5
AUTH PLAIN not-base64!
AUTH PLAIN
*
AUTH LOGIN
*
AUTH PLAIN $(b64 'other@example.test\0demo@example.test\0demo')
AUTH PLAIN
$long
MAIL FROM:<x@client.test>
AUTH PLAIN $PLAIN_DEMO
RSET
AUTH PLAIN $PLAIN_DEMO
AUTH PLAIN $PLAIN_DEMO
QUIT
END
	assert_line --index 1 "503 5.5.1 Error: send EHLO first"
	assert_line "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
	assert_line "504 5.5.4 Error: unsupported authentication mechanism"
	assert_line "501 5.5.2 Error: malformed authentication data"
	[ "$(grep -c '^501 5.0.0 Authentication cancelled' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^501 5.5.2 Error: malformed authentication data' <<<"$output")" -eq 2 ]
	assert_line "500 5.5.6 Authentication Exchange line is too long"
	assert_line "503 5.5.1 Error: AUTH not allowed during a mail transaction"
	assert_line "235 2.7.0 Authentication successful"
	assert_line "503 5.5.1 Error: already authenticated"
	assert_line --partial "221 2.0.0"
}

@test "wrong passwords: 535 5.7.8, delays doubling per IP, 421 4.7.0 after auth_max_failures" {
	set_conf plaintext_auth_loopback yes
	set_conf auth_fail_delay 1s
	set_conf auth_max_failures 2
	ph_start
	# the delayed answers come slowly: read until the server closes
	run python3 - "$PH_SUB" "$(b64 '\0demo@example.test\0wrong')" \
		"$(b64 '\0nobody@example.test\0wrong')" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(60)
s.sendall(("EHLO client.test\r\nAUTH PLAIN %s\r\nAUTH PLAIN %s\r\nNOOP\r\n"
           % (sys.argv[2], sys.argv[3])).encode())
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
print(out.decode().replace("\r\n", "\n"), end="")
PY
	[ "$(grep -c '^535 5.7.8 Error: authentication credentials invalid' <<<"$output")" -eq 2 ]
	assert_line --regexp "^421 4\.7\.0 .*too many failed authentications"
	refute_line --partial "250 2.0.0 Ok"
	grep -q "user=demo@example.test service=smtp ip=127.0.0.1: failed, answer delayed 1s" "$PH_DIR/log/posthorn.log"
	grep -q "user=nobody@example.test service=smtp ip=127.0.0.1: failed, answer delayed 2s" "$PH_DIR/log/posthorn.log"
	grep -q "smtpd.*AUTH user=nobody@example.test from 127.0.0.1 failed" "$PH_DIR/log/posthorn.log"
}

@test "relaying: refused on port 25 without AUTH (554 5.7.1), accepted at RCPT after AUTH on 25 and 587" {
	set_conf plaintext_auth_loopback yes
	ph_start
	chat "$PH_SMTP" <<END
EHLO client.test
MAIL FROM:<x@client.test>
RCPT TO:<someone@foreign.test>
RSET
AUTH PLAIN $PLAIN_DEMO
MAIL FROM:<demo@example.test>
RCPT TO:<someone@foreign.test>
QUIT
END
	assert_line "554 5.7.1 <someone@foreign.test>: Error: relay access denied"
	assert_line "235 2.7.0 Authentication successful"
	assert_line "250 2.1.5 Ok"
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $PLAIN_DEMO
MAIL FROM:<demo@example.test>
RCPT TO:<someone@foreign.test>
QUIT
END
	assert_line "250 2.1.5 Ok"
}

@test "sender ownership on 587: own address, owned alias and <> accepted, forgery 553 5.7.1" {
	set_conf plaintext_auth_loopback yes
	add_user other@example.test otherpw
	printf 'sales: demo, other\nceo: other\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap
	ph_start
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $PLAIN_DEMO
MAIL FROM:<other@example.test>
MAIL FROM:<ceo@example.test>
MAIL FROM:<boss@foreign.test>
MAIL FROM:<DEMO@Example.Test>
RSET
MAIL FROM:<sales@example.test>
RSET
MAIL FROM:<demo+lists@example.test>
RSET
MAIL FROM:<>
QUIT
END
	[ "$(grep -c '^553 5.7.1 Sender address rejected: not owned by user demo@example.test' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^250 2.1.0 Ok' <<<"$output")" -eq 4 ]
}

@test "the password never appears in the log" {
	set_conf plaintext_auth_loopback yes
	add_user secretive@example.test 'Sekr1t-Pa55'
	ph_start
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $(b64 '\0secretive@example.test\0Sekr1t-Pa55')
QUIT
END
	assert_line "235 2.7.0 Authentication successful"
	chat "$PH_SUB" <<END
EHLO client.test
AUTH LOGIN
$(b64 secretive@example.test)
$(b64 Sekr1t-Wrong)
QUIT
END
	assert_line "535 5.7.8 Error: authentication credentials invalid"
	sleep 0.5
	grep -q "secretive@example.test" "$PH_DIR/log/posthorn.log"
	run grep -c -e "Sekr1t" -e "$(b64 Sekr1t-Pa55)" -e "$(b64 '\0secretive@example.test\0Sekr1t-Pa55')" "$PH_DIR/log/posthorn.log"
	assert_output 0
}

@test "swaks --auth PLAIN over STARTTLS on 587 delivers; Received names TLS and the user" {
	ph_start
	run swaks --server 127.0.0.1:"$PH_SUB" --tls --auth PLAIN --auth-user demo@example.test \
		--auth-password demo --from demo@example.test --to demo@example.test \
		--header "Subject: swaks plain" --helo client.test
	assert_success
	assert_output --partial "235 2.7.0 Authentication successful"
	msg_with "Subject: swaks plain"
	grep -q "with ESMTPSA id" "$(ph_maildir demo)"/new/*
	grep -q "(Authenticated sender: demo@example.test)" "$(ph_maildir demo)"/new/*
}

@test "swaks --auth LOGIN with --tls-on-connect on 465 delivers" {
	ph_start
	run swaks --server 127.0.0.1:"$PH_SMTPS" --tls-on-connect --auth LOGIN \
		--auth-user demo@example.test --auth-password demo --from demo@example.test \
		--to demo@example.test --header "Subject: swaks login" --helo client.test
	assert_success
	assert_output --partial "235 2.7.0 Authentication successful"
	msg_with "Subject: swaks login"
}

@test "python smtplib starttls() + login() sends; relaying to a foreign domain is accepted" {
	ph_start
	run python3 - "$PH_SUB" "$PH_DIR/etc/tls/ca.pem" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=30)
s.starttls(context=ctx)
s.ehlo("client.test")
print("auth" in s.esmtp_features and s.esmtp_features["auth"])
print(s.login("demo@example.test", "demo"))
s.mail("demo@example.test")
print(s.rcpt("someone@foreign.test"))
s.rset()
s.sendmail("demo@example.test", ["demo@example.test"], "Subject: smtplib tls\r\n\r\nhi\r\n")
s.quit()
PY
	assert_success
	assert_line --partial "PLAIN LOGIN"
	assert_line --partial "(235, b'2.7.0 Authentication successful')"
	assert_line --partial "(250, b'2.1.5 Ok')"
	msg_with "Subject: smtplib tls"
}

@test "smtps without AUTH: MAIL gets 530; wrong password over TLS gets 535" {
	ph_start
	run python3 - "$PH_SMTPS" <<'PY'
import smtplib, ssl
ctx = ssl._create_unverified_context()
s = smtplib.SMTP_SSL("127.0.0.1", int(__import__("sys").argv[1]), local_hostname="client.test",
                     context=ctx, timeout=30)
s.ehlo("client.test")
print(s.mail("demo@example.test"))
try:
    s.login("demo@example.test", "nope")
except smtplib.SMTPAuthenticationError as e:
    print("535", e.smtp_code)
PY
	assert_success
	assert_line --partial "(530, b'5.7.0 Authentication required')"
	assert_line "535 535"
}

@test "a killed auth daemon is restarted by master; the socket stays and AUTH works again" {
	set_conf plaintext_auth_loopback yes
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	for _ in $(seq 50); do
		a=$(ps -o pid=,comm= --ppid "$m" | awk '$2 == "auth" { print $1; exit }')
		[ -n "$a" ] && break
		sleep 0.1
	done
	[ -n "$a" ]
	kill -9 "$a"
	for _ in $(seq 100); do
		b=$(ps -o pid=,comm= --ppid "$m" | awk '$2 == "auth" { print $1; exit }')
		[ -n "$b" ] && [ "$b" != "$a" ] && break
		sleep 0.1
	done
	[ -n "$b" ] && [ "$b" != "$a" ]
	[ -S "$PH_DIR/run/auth.sock" ]
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $PLAIN_DEMO
QUIT
END
	assert_line "235 2.7.0 Authentication successful"
	grep -q "restarting auth in 1 s" "$PH_DIR/log/posthorn.log"
}

@test "posthorn user passwd and del take effect at once for the running auth daemon" {
	set_conf plaintext_auth_loopback yes
	ph_start
	echo newpass | posthorn -C "$PH_DIR" user passwd demo@example.test >/dev/null
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $PLAIN_DEMO
AUTH PLAIN $(b64 '\0demo@example.test\0newpass')
QUIT
END
	assert_line "535 5.7.8 Error: authentication credentials invalid"
	assert_line "235 2.7.0 Authentication successful"
	posthorn -C "$PH_DIR" user del demo@example.test >/dev/null
	chat "$PH_SUB" <<END
EHLO client.test
AUTH PLAIN $(b64 '\0demo@example.test\0newpass')
QUIT
END
	assert_line "535 5.7.8 Error: authentication credentials invalid"
}
