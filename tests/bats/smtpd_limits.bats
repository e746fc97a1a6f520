#!/usr/bin/env bats
# smtpd_limits.bats: the limits that keep a hostile client from holding a
# session or spoiling a message: a whole-command deadline (not just a
# per-read timeout), a whole-DATA deadline, the junk-command cap, NUL bytes
# in DATA, an alias loop refused at RCPT for that recipient only, and the
# size limit counting the client's bytes, not the Received: smtpd adds.

load helper

setup() {
	ph_instance
	conf=$PH_DIR/etc/posthorn.conf
	echo "smtp_error_delay = 0" >>"$conf"
}

teardown() {
	ph_teardown
}

chat() { run ph_smtp_raw; }

# trickle PORT PREFIX: sends PREFIX, then one byte every 0.5 s for up to
# 12 s without ever ending the line; prints what the server said.
trickle() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(0.2)
out = b""
def rd():
    global out
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return False
            out += d
    except socket.timeout:
        return True
    except OSError:
        return False
rd()
s.sendall(sys.argv[2].encode().replace(b"|", b"\r\n"))
alive = True
for _ in range(24):
    if not rd():
        alive = False
        break
    try:
        s.sendall(b"x")
    except OSError:
        alive = False
        break
    time.sleep(0.5)
print(out.decode().replace("\r\n", "\n"), end="")
print("closed" if not alive else "still open")
PY
}

@test "a command trickled one byte at a time is cut off at smtp_timeout in total" {
	echo "smtp_timeout = 2s" >>"$conf"
	ph_start
	run trickle "$PH_SMTP" "EHLO client.test|NOOP "
	assert_line --partial "421 4.4.2"
	assert_line "closed"
	grep -q "timeout after command from 127.0.0.1" "$PH_DIR/log/posthorn.log"
}

@test "DATA trickled one byte at a time is cut off at smtp_data_deadline" {
	echo "smtp_data_deadline = 2s" >>"$conf"
	ph_start
	run trickle "$PH_SMTP" "EHLO client.test|MAIL FROM:<a@client.test>|RCPT TO:<demo@example.test>|DATA|Subject: slow|"
	assert_line --partial "354 "
	assert_line --partial "421 4.4.2"
	assert_line "closed"
	[ -z "$(ls "$(ph_maildir demo)/new")" ]
}

@test "too many NOOP/RSET/VRFY/HELP end the session with 421" {
	echo "max_junk_commands = 5" >>"$conf"
	ph_start
	chat <<'END'
EHLO client.test
NOOP
RSET
VRFY demo
HELP
NOOP
NOOP
MAIL FROM:<a@client.test>
END
	[ "$(grep -c '^2[0-9][0-9] ' <<<"$output")" -ge 6 ]
	assert_line --partial "421 4.7.0"
	refute_line --partial "2.1.0"
}

@test "a NUL byte in DATA refuses the message with 554 5.6.0; the session goes on" {
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
DATA
Subject: nul
<wait>
body with a \x00 byte
.
MAIL FROM:<a@client.test>
QUIT
END
	assert_line "554 5.6.0 Error: NUL byte in message"
	refute_line --partial "queued as"
	[ "$(grep -c '^250 2.1.0' <<<"$output")" -eq 2 ]
	[ -z "$(ls "$(ph_maildir demo)/new")" ]
}

@test "an alias loop is refused at RCPT for that recipient only; the others get the message" {
	printf 'loop1: loop2\nloop2: loop1\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<demo@example.test>
RCPT TO:<loop1@example.test>
DATA
Subject: loop

hello
.
QUIT
END
	assert_line "550 5.4.6 <loop1@example.test>: Error: alias expansion failed for this recipient"
	assert_line --partial "queued as"
	ph_wait_count "$(ph_maildir demo)/new" 1
}

@test "postmaster without a postmaster alias is refused at RCPT, not bounced later" {
	sed -i '/^postmaster:/d' "$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap
	ph_start
	chat <<'END'
EHLO client.test
MAIL FROM:<a@client.test>
RCPT TO:<postmaster@example.test>
RCPT TO:<postmaster>
QUIT
END
	[ "$(grep -c '^550 5.1.1' <<<"$output")" -eq 2 ]
}

@test "a message exactly at max_message_size is accepted (Received: does not count)" {
	echo "max_message_size = 2000" >>"$conf"
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import smtplib, sys
body = "Subject: size\r\n\r\n" + "x" * 1000 + "\r\n"
# exactly 2000 bytes as sent (smtplib declares SIZE=2000 too)
body = body[:-2] + "y" * (2000 - len(body)) + "\r\n"
assert len(body) == 2000
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@client.test", ["demo@example.test"], body)
s.quit()
print("sent")
PY
	assert_output "sent"
}
