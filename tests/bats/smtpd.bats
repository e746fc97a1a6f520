#!/usr/bin/env bats
# smtpd.bats: the SMTP server (smtpd/) through a running instance: every
# command and its error paths in raw sessions (smtpchat.py), limits,
# relay policy, SMTP smuggling attempts, and mail from swaks and python3
# smtplib that must arrive in the Maildir exactly as sent apart from the
# added header fields and CRLF -> LF.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	echo "smtp_error_delay = 0" >>"$conf"
}

teardown() {
	ph_teardown
}

# chat: a raw session; the script is on stdin, replies go to $output.
chat() {
	run ph_smtp_raw
}

# set_conf KEY VALUE: overrides a key (the last line wins).
set_conf() {
	echo "$1 = $2" >>"$conf"
}

md_new() { echo "$(ph_maildir "${1:-demo}")/new"; }

# The delivered message without the header fields added on the way.
delivered_body() {
	local f
	f=$(ls "$(md_new "${1:-demo}")"/* | head -1)
	python3 - "$f" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\n\n")
out, skip = [], False
for line in head.split(b"\n"):
    if line[:1] in (b" ", b"\t"):
        if not skip:
            out.append(line)
        continue
    name = line.split(b":", 1)[0].lower()
    skip = name in (b"received", b"return-path", b"delivered-to")
    if not skip:
        out.append(line)
sys.stdout.buffer.write(b"\n".join(out) + sep + body)
PY
}

@test "greeting and EHLO list exactly the supported extensions" {
	ph_start
	chat <<'END'
EHLO client.test
QUIT
END
	assert_line --index 0 "220 mx.example.test ESMTP posthorn"
	assert_line --index 1 "250-mx.example.test"
	assert_line "250-PIPELINING"
	assert_line "250-SIZE 26214400"
	assert_line "250-8BITMIME"
	assert_line "250-DSN"
	assert_line "250-SMTPUTF8"
	assert_line "250-STARTTLS"
	assert_line "250 ENHANCEDSTATUSCODES"
	assert_line "221 2.0.0 mx.example.test closing connection"
	[ "$(grep -c '^250' <<<"$output")" -eq 8 ]
	refute_line --partial "AUTH"
}

@test "SMTPUTF8 is not offered when switched off" {
	set_conf smtputf8 no
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test> SMTPUTF8
QUIT
END
	refute_line --partial "SMTPUTF8"
	assert_line "555 5.5.4 Error: unsupported parameter"
}

@test "HELO, NOOP, RSET, VRFY, HELP, EXPN, QUIT and unknown commands" {
	ph_start
	chat <<'END'
HELO
EHLO
HELO client.test
NOOP
NOOP with a string
RSET
RSET now
VRFY demo
VRFY
HELP
EXPN staff
ETRN
FROBNICATE
QUIT now
QUIT
END
	assert_line --index 1 "501 5.5.4 Syntax: HELO hostname"
	assert_line --index 2 "501 5.5.4 Syntax: EHLO hostname"
	assert_line --index 3 "250 2.0.0 mx.example.test"
	assert_line --index 4 "250 2.0.0 Ok"
	assert_line --index 5 "250 2.0.0 Ok"
	assert_line --index 6 "250 2.0.0 Ok"
	assert_line --index 7 "501 5.5.4 Syntax: no parameters allowed"
	assert_line --index 8 --regexp "^252 2\.5\.0 "
	assert_line --index 9 "501 5.5.4 Syntax: VRFY address"
	assert_line --index 10 --regexp "^214 2\.0\.0 "
	assert_line --index 11 "502 5.5.1 Error: EXPN not supported"
	assert_line --index 12 "502 5.5.1 Error: command not implemented"
	assert_line --index 13 "500 5.5.2 Error: command not recognized"
	assert_line --index 14 "501 5.5.4 Syntax: no parameters allowed"
	assert_line --index 15 "221 2.0.0 mx.example.test closing connection"
}

@test "bad sequences get 503 5.5.1" {
	ph_start
	chat <<'END'
MAIL FROM:<a@client.test>
EHLO client.test
RCPT TO:<demo@example.test>
DATA
MAIL FROM:<a@client.test>
MAIL FROM:<b@client.test>
DATA
RSET
RCPT TO:<demo@example.test>
QUIT
END
	assert_line --index 1 "503 5.5.1 Error: send HELO/EHLO first"
	assert_line --index 10 "503 5.5.1 Error: need MAIL command"
	assert_line --index 11 "503 5.5.1 Error: need MAIL command"
	assert_line --index 12 "250 2.1.0 Ok"
	assert_line --index 13 "503 5.5.1 Error: nested MAIL command"
	assert_line --index 14 "503 5.5.1 Error: need RCPT command"
	assert_line --index 15 "250 2.0.0 Ok"
	assert_line --index 16 "503 5.5.1 Error: need MAIL command"
}

@test "DATA after only refused recipients gets 554 5.5.1" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<nobody@example.test>
DATA
QUIT
END
	assert_line "550 5.1.1 <nobody@example.test>: Error: user unknown"
	assert_line "554 5.5.1 Error: no valid recipients"
}

@test "MAIL and RCPT syntax and parameters" {
	set_conf max_errors 50
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:a@client.test
MAIL TO:<a@client.test>
MAIL FROM:<a@@client.test>
MAIL FROM:<a@client.test> SIZE=abc
MAIL FROM:<a@client.test> SIZE=99999999999
MAIL FROM:<a@client.test> BODY=BINARYMIME
MAIL FROM:<a@client.test> FOO=bar
MAIL FROM:<a@client.test> =x
MAIL FROM:<a@client.test> SIZE=1000 BODY=8BITMIME
RCPT TO:<demo@example.test> XFOO=1
RCPT TO:demo@example.test
RCPT TO:<demo@example..test>
RCPT TO:<demo@example.test>
QUIT
END
	assert_line --index 9 "501 5.5.4 Syntax: MAIL FROM:<address>"
	assert_line --index 10 "501 5.5.4 Syntax: MAIL FROM:<address>"
	assert_line --index 11 "501 5.1.7 Error: bad sender address syntax"
	assert_line --index 12 "501 5.5.4 Error: bad SIZE parameter"
	assert_line --index 13 "552 5.3.4 Error: message size exceeds fixed limit"
	assert_line --index 14 "504 5.5.4 Error: unsupported BODY value"
	assert_line --index 15 "555 5.5.4 Error: unsupported parameter"
	assert_line --index 16 "501 5.5.4 Error: bad parameter syntax"
	assert_line --index 17 "250 2.1.0 Ok"
	assert_line --index 18 "555 5.5.4 Error: unsupported parameter"
	assert_line --index 19 "501 5.5.4 Syntax: RCPT TO:<address>"
	assert_line --index 20 "501 5.1.3 Error: bad recipient address syntax"
	assert_line --index 21 "250 2.1.5 Ok"
}

@test "parameters after HELO (not EHLO) are refused" {
	ph_start
	chat <<'END'
HELO client.test
MAIL FROM:<a@client.test> SIZE=10
MAIL FROM:<a@client.test>
QUIT
END
	assert_line --index 2 "555 5.5.4 Error: parameters need EHLO"
	assert_line --index 3 "250 2.1.0 Ok"
}

@test "unknown local user gets 550 5.1.1, known user and the null sender 250" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<>
RCPT TO:<nobody@example.test>
RCPT TO:<demo@EXAMPLE.test>
QUIT
END
	assert_line --index 9 "250 2.1.0 Ok"
	assert_line --index 10 "550 5.1.1 <nobody@example.test>: Error: user unknown"
	assert_line --index 11 "250 2.1.5 Ok"
}

@test "a foreign domain is refused with 554 5.7.1 (no open relay)" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<someone@elsewhere.test>
RCPT TO:<"demo@example.test"@elsewhere.test>
RCPT TO:<demo%example.test@elsewhere.test>
RCPT TO:<@example.test:someone@elsewhere.test>
QUIT
END
	assert_line "554 5.7.1 <someone@elsewhere.test>: Error: relay access denied"
	[ "$(grep -c '^554 5.7.1' <<<"$output")" -eq 4 ]
	refute_line --partial "2.1.5"
}

@test "a client inside a relay-clients block may relay" {
	printf '# test\n10.0.0.0/8\n127.0.0.0/8\n' >>"$PH_DIR/etc/relay-clients"
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<someone@elsewhere.test>
QUIT
END
	assert_line "250 2.1.5 Ok"
	refute_line --partial "5.7.1"
}

@test "relay-clients not covering the client still refuses" {
	printf '10.0.0.0/8\n::1\n127.0.0.2\n' >>"$PH_DIR/etc/relay-clients"
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<someone@elsewhere.test>
QUIT
END
	assert_line "554 5.7.1 <someone@elsewhere.test>: Error: relay access denied"
}

@test "RCPT TO:<postmaster> without a domain is accepted" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<Postmaster>
RCPT TO:<postmaster@example.test>
QUIT
END
	assert_line --index 10 "250 2.1.5 Ok"
	assert_line --index 11 "250 2.1.5 Ok"
}

@test "too many recipients gets 452 4.5.3 and the message still goes" {
	set_conf max_recipients 2
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
RCPT TO:<postmaster@example.test>
RCPT TO:<demo@example.test>
DATA
Subject: three

.
QUIT
END
	assert_line "452 4.5.3 Error: too many recipients"
	assert_line --regexp "^250 2\.0\.0 Ok: queued as [0-9A-F]+$"
}

@test "an overlong command line gets 500 5.5.2 and the session goes on" {
	ph_start
	long=$(printf 'x%.0s' $(seq 1 3000))
	chat <<END
EHLO client.test
NOOP $long
NOOP
QUIT
END
	assert_line --index 9 "500 5.5.2 Error: line too long"
	assert_line --index 10 "250 2.0.0 Ok"
	assert_line --index 11 "221 2.0.0 mx.example.test closing connection"
}

@test "a NUL byte or a bare CR in a command gets 500 5.5.2" {
	ph_start
	chat <<'END'
EHLO client.test
NO\x00OP
NOOP\rX-Injected: yes
MAIL FROM:<a@client.test>\x00 SIZE=1
NOOP
QUIT
END
	[ "$(grep -c '^500 5.5.2 Error: bad character in command' <<<"$output")" -eq 3 ]
	assert_line --index 12 "250 2.0.0 Ok"
}

@test "too many errors: 421 4.7.0 and the connection is closed" {
	set_conf max_errors 3
	ph_start
	chat <<'END'
EHLO client.test
BAD1
BAD2
BAD3
NOOP
END
	assert_line "421 4.7.0 mx.example.test Error: too many errors"
	refute_line "250 2.0.0 Ok"
	[ "$(grep -c '^500' <<<"$output")" -eq 3 ]
}

@test "idle client: 421 4.4.2 after smtp_timeout" {
	set_conf smtp_timeout 1s
	ph_start
	chat <<'END'
EHLO client.test
<wait>
<wait>
<wait>
END
	assert_line "421 4.4.2 mx.example.test Error: timeout exceeded"
}

@test "pipelining: all commands in one write, replies in order" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO client.test\r\n")
while not f.readline().startswith(b"250 "):
    pass
s.sendall(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<nobody@example.test>\r\n"
          b"RCPT TO:<demo@example.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n")
for _ in range(5):
    print(f.readline().decode().rstrip())
s.sendall(b"Subject: pipelined\r\n\r\nhello\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
for _ in range(4):
    print(f.readline().decode().rstrip())
PY
	assert_success
	assert_line --index 0 "250 2.1.0 Ok"
	assert_line --index 1 "550 5.1.1 <nobody@example.test>: Error: user unknown"
	assert_line --index 2 "250 2.1.5 Ok"
	assert_line --index 3 "554 5.7.1 <x@elsewhere.test>: Error: relay access denied"
	assert_line --index 4 "354 End data with <CR><LF>.<CR><LF>"
	assert_line --index 5 --regexp "^250 2\.0\.0 Ok: queued as [0-9A-F]+$"
	assert_line --index 6 "250 2.0.0 Ok"
	assert_line --index 7 "250 2.0.0 Ok"
	assert_line --index 8 "221 2.0.0 mx.example.test closing connection"
}

# smuggle SEQUENCE: a message with SEQUENCE in the middle followed by a
# second, smuggled transaction; the whole thing must be one refused message
# and the smuggled commands must never run.
smuggle() {
	chat <<END
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: smuggle

first part$1MAIL FROM:<evil@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: smuggled
.
NOOP
QUIT
END
	assert_line "354 End data with <CR><LF>.<CR><LF>"
	[ "$(grep -c '^354' <<<"$output")" -eq 1 ]
	assert_line "554 5.6.0 Error: bare CR or LF in message: lines must end in CRLF"
	refute_line --partial "queued as"
	[ "$(grep -c '^250 2.1' <<<"$output")" -eq 2 ]
	assert_line "250 2.0.0 Ok"
}

@test "smuggling: \\n.\\n neither ends nor splits the message" {
	ph_start
	smuggle '\n.\n'
}

@test "smuggling: \\r.\\r neither ends nor splits the message" {
	ph_start
	smuggle '\r.\r'
}

@test "smuggling: \\r\\n.\\n neither ends nor splits the message" {
	ph_start
	smuggle '\r\n.\n'
}

@test "smuggling: \\n.\\r\\n neither ends nor splits the message" {
	ph_start
	smuggle '\n.\r\n'
}

@test "a bare LF line end rejects the message, the session goes on" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: bare

one\ntwo
.
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: clean

.
QUIT
END
	assert_line "554 5.6.0 Error: bare CR or LF in message: lines must end in CRLF"
	assert_line --regexp "^250 2\.0\.0 Ok: queued as"
	[ "$(grep -c 'queued as' <<<"$output")" -eq 1 ]
}

@test "an oversized message is read to its end, then 552 5.3.4" {
	set_conf max_message_size 10k
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
f.readline()
s.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
for _ in range(4):
    print(f.readline().decode().rstrip())
s.sendall(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 1000 + b".\r\nNOOP\r\nQUIT\r\n")
for _ in range(3):
    print(f.readline().decode().rstrip())
PY
	assert_line --index 3 "354 End data with <CR><LF>.<CR><LF>"
	assert_line --index 4 "552 5.3.4 Error: message size exceeds fixed limit"
	assert_line --index 5 "250 2.0.0 Ok"
	assert_line --index 6 "221 2.0.0 mx.example.test closing connection"
}

@test "a data line over smtp_data_line_max is refused after the data" {
	set_conf smtp_data_line_max 1000
	ph_start
	long=$(printf 'y%.0s' $(seq 1 1500))
	chat <<END
HELO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: long

$long
.
QUIT
END
	assert_line "554 5.6.0 Error: message line too long"
}

@test "more than max_hops Received: fields is a mail loop: 554 5.4.6" {
	set_conf max_hops 3
	ph_start
	chat <<'END'
HELO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000
Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000
received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000
RECEIVED: from a by b; Thu, 1 Jan 2026 00:00:00 +0000
Subject: loop

.
QUIT
END
	assert_line "554 5.4.6 Error: too many hops: mail loop"
}

@test "a header block over max_header_size is refused with 552 5.3.4" {
	set_conf max_header_size 1k
	ph_start
	hdr=$(for i in $(seq 1 40); do printf 'X-Filler-%d: 0123456789012345678901234567890123456789\n' "$i"; done)
	chat <<END
HELO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
$hdr

body
.
QUIT
END
	assert_line "552 5.3.4 Error: message header size exceeds limit"
}

@test "swaks: the message arrives in the Maildir as sent, plus trace fields" {
	ph_start
	printf 'Subject: from swaks\r\nFrom: a@client.test\r\nTo: demo@example.test\r\nMessage-ID: <swaks.1@client.test>\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n\r\nlast line' >"$BATS_TEST_TMPDIR/msg"
	run swaks --server 127.0.0.1:"$PH_SMTP" --helo client.test --from a@client.test \
		--to demo@example.test --data @"$BATS_TEST_TMPDIR/msg"
	assert_success
	assert_output --regexp "<-  250 2\.0\.0 Ok: queued as [0-9A-F]+"
	qid=$(sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p' <<<"$output")
	ph_wait_count "$(md_new)" 1
	# swaks ends the data with CRLF.CRLF itself
	{ tr -d '\r' <"$BATS_TEST_TMPDIR/msg"; echo; } >"$BATS_TEST_TMPDIR/want"
	delivered_body >"$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	f=$(ls "$(md_new)"/*)
	grep -q "^Received: from client.test (.*\[127.0.0.1\])" "$f"
	grep -q "with ESMTP id $qid" "$f"
	grep -q "for <demo@example.test>;" "$f"
	grep -q "^Return-Path: <a@client.test>" "$f"
	grep -q "^Delivered-To: demo@example.test" "$f"
}

@test "python smtplib: the message arrives byte for byte, 8-bit body" {
	ph_start
	run python3 - "$PH_SMTP" "$BATS_TEST_TMPDIR/sent" <<'PY'
import smtplib, sys
body = ("Subject: smtplib\r\nFrom: a@client.test\r\nTo: demo@example.test\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Gr\u00fc\u00dfe aus K\u00f6ln\r\n.\r\n..\r\nend\r\n").encode("utf-8")
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
s.ehlo()
assert s.has_extn("8bitmime")
r = s.sendmail("a@client.test", ["demo@example.test"], body, mail_options=["BODY=8BITMIME"])
assert r == {}, r
s.quit()
open(sys.argv[2], "wb").write(body.replace(b"\r\n", b"\n"))
PY
	assert_success
	ph_wait_count "$(md_new)" 1
	delivered_body >"$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/sent" "$BATS_TEST_TMPDIR/got"
}

@test "SMTPUTF8: a UTF-8 local part is refused without SMTPUTF8, accepted with it" {
	printf 'j\xc3\xb6rg: demo\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap >/dev/null
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
s.ehlo()
assert s.has_extn("smtputf8")
s.command_encoding = "utf-8"
code, _ = s.docmd("MAIL FROM:<a@client.test>")
print("plain", code, s.docmd("RCPT TO:<j\u00f6rg@example.test>")[0])
s.rset()
msg = "Subject: Gr\u00fc\u00dfe\r\nFrom: j\u00f6rg@client.test\r\n\r\nHall\u00f6\r\n".encode()
r = s.sendmail("j\u00f6rg@client.test", ["j\u00f6rg@example.test"], msg,
               mail_options=["SMTPUTF8", "BODY=8BITMIME"])
print("utf8", r)
s.quit()
PY
	assert_success
	assert_line "plain 250 553"
	assert_line "utf8 {}"
	ph_wait_count "$(md_new)" 1
	grep -q "Subject: Grüße" "$(md_new)"/*
	grep -q "with UTF8SMTP id" "$(md_new)"/*
}

@test "the Received: field names the queue id, and no recipient for two" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
s.sendmail("a@client.test", ["demo@example.test", "postmaster@example.test"],
           b"Subject: two\r\n\r\nx\r\n")
s.quit()
PY
	assert_success
	ph_wait_count "$(md_new)" 1
	f=$(ls "$(md_new)"/* | head -1)
	grep -q "by mx.example.test (posthorn) with ESMTP id [0-9A-F]*;" "$f"
	run grep -c "for <" "$f"
	assert_output "0"
}

# submit: a session straight into smtpd -m submission on stdin/stdout
submit() {
	TCPREMOTEIP=127.0.0.1 "$PH_ROOT/libexec/smtpd" -c "$conf" -m submission 2>/dev/null
}

@test "submission mode adds Date: and Message-ID: when missing" {
	set_conf plaintext_auth_loopback yes	# submission needs AUTH (auth.bats)
	ph_start
	run submit < <(printf 'EHLO client.test\r\nAUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AGRlbW8=\r\nMAIL FROM:<demo@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nSubject: bare\r\n\r\nhi\r\n.\r\nQUIT\r\n')
	assert_line --partial "queued as"
	ph_wait_count "$(md_new)" 1
	f=$(ls "$(md_new)"/*)
	grep -q "^Date: [A-Z][a-z][a-z], [0-9]* [A-Z][a-z][a-z] 20[0-9][0-9] " "$f"
	grep -q "^Message-ID: <[^@>]*@mx.example.test>" "$f"
	# the added fields are part of the header block, before the empty line
	run awk '/^$/ {exit} /^(Date|Message-ID):/ {n++} END {print n}' "$f"
	assert_output "2"
}

@test "submission mode keeps an existing Date: and Message-ID:" {
	set_conf plaintext_auth_loopback yes	# submission needs AUTH (auth.bats)
	ph_start
	run submit < <(printf 'EHLO client.test\r\nAUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AGRlbW8=\r\nMAIL FROM:<demo@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <keep@client.test>\r\n\r\nhi\r\n.\r\nQUIT\r\n')
	assert_line --partial "queued as"
	ph_wait_count "$(md_new)" 1
	f=$(ls "$(md_new)"/*)
	[ "$(grep -c '^Date:' "$f")" -eq 1 ]
	[ "$(grep -c '^Message-ID:' "$f")" -eq 1 ]
	grep -q "^Message-ID: <keep@client.test>" "$f"
}

@test "plain smtp mode adds nothing but Received:" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test")
s.sendmail("a@client.test", ["demo@example.test"], b"Subject: none\r\n\r\nx\r\n")
s.quit()
PY
	ph_wait_count "$(md_new)" 1
	f=$(ls "$(md_new)"/*)
	run grep -c -E "^(Date|Message-ID):" "$f"
	assert_output "0"
}

@test "smtpd logs session start and end, accepted messages and rejections" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<nobody@example.test>
RCPT TO:<demo@example.test>
DATA
Subject: log

.
QUIT
END
	qid=$(sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p' <<<"$output")
	[ -n "$qid" ]
	log=$PH_DIR/log/posthorn.log
	grep -q "smtpd\[[0-9]*\]: info: connect from unknown\[127.0.0.1\]" "$log"
	grep -q "smtpd\[[0-9]*\]: info: reject: RCPT from .* 550 5.1.1" "$log"
	grep -q "smtpd\[[0-9]*\]: info: $qid: from=<a@client.test> nrcpt=1 size=" "$log"
	grep -q "smtpd\[[0-9]*\]: info: disconnect from .* helo=client.test messages=1" "$log"
}

@test "a stalled DATA: 421 4.4.2 after smtp_data_timeout, nothing queued" {
	set_conf smtp_data_timeout 1s
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
<wait>
Subject: stalled
<wait>
<wait>
<wait>
END
	assert_line "354 End data with <CR><LF>.<CR><LF>"
	assert_line "421 4.4.2 mx.example.test Error: timeout exceeded"
	# smtpd reaps enqueue before it replies: no queue file is left behind
	[ -z "$(find "$PH_DIR/queue/tmp" "$PH_DIR/queue/incoming" "$PH_DIR/queue/active" -type f)" ]
	[ -z "$(ls "$(md_new)")" ]
}

@test "smtpd on stdin/stdout with REMOTE_ADDR (inetd style)" {
	run env -u TCPREMOTEIP REMOTE_ADDR=192.0.2.7 "$PH_ROOT/libexec/smtpd" -c "$conf" \
		< <(printf 'EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\nQUIT\r\n')
	assert_success
	assert_line --partial "554 5.7.1"
	assert_line --partial "reject: RCPT from unknown[192.0.2.7]"
	run "$PH_ROOT/libexec/smtpd" -c "$conf" -m bogus </dev/null
	assert_failure 2
	run "$PH_ROOT/libexec/smtpd" -c /nonexistent/posthorn.conf </dev/null
	assert_failure 111
	assert_output --partial "421 4.3.0"
}

@test "8-bit data without BODY=8BITMIME is accepted (be liberal)" {
	ph_start
	chat <<'END'
HELO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: 8bit \xc3\xa4

K\xc3\xb6ln \xff
.
QUIT
END
	assert_line --regexp "^250 2\.0\.0 Ok: queued as [0-9A-F]+$"
	ph_wait_count "$(md_new)" 1
	grep -q "$(printf 'K\xc3\xb6ln \xff')" "$(md_new)"/*
}
