#!/usr/bin/env bats
# syslog.bats: with log_syslog = yes the master sends every child's lines
# to syslog, facility mail, tagged prog[pid], with the level's priority,
# and writes nothing to posthorn.log.  Needs /dev/log to be free: the
# test binds it itself (a small python receiver) and removes it again.

load helper

setup() {
	[ "$(id -u)" = 0 ] || skip "binding /dev/log needs root"
	[ -e /dev/log ] && skip "/dev/log exists (a syslog daemon runs): not ours to read"
	ph_instance
	echo "log_syslog = yes" >>"$PH_DIR/etc/posthorn.conf"
	SYSLOG_OUT=$PH_TOP/syslog.txt
	python3 - "$SYSLOG_OUT" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PY
	SYSLOG_PID=$!
	for _ in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.1; done
}

teardown() {
	ph_teardown
	if [ -n "${SYSLOG_PID:-}" ]; then
		kill "$SYSLOG_PID" 2>/dev/null
		wait "$SYSLOG_PID" 2>/dev/null
		rm -f /dev/log
	fi
	return 0
}

@test "syslog: one line per event, facility mail, the queue id from arrival to delivery" {
	ph_start
	swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.org >/dev/null
	ph_wait_count "$(ph_maildir demo)/new" 1
	qid=$(basename "$(ls "$(ph_maildir demo)/new")" | sed 's/.*\.Q\([0-9A-F]*\)X.*/\1/')
	[ -n "$qid" ]
	for _ in $(seq 1 50); do grep -q "local\[[0-9]*\]: $qid" "$SYSLOG_OUT" && break; sleep 0.1; done
	posthorn -C "$PH_DIR" stop >/dev/null
	run cat "$SYSLOG_OUT"
	# <22> = facility mail (2) * 8 + info (6)
	assert_line --regexp "^<22>.* master\[[0-9]+\]: info: master started"
	assert_line --regexp "^<22>.* smtpd\[[0-9]+\]: info: connect from "
	assert_line --regexp "^<22>.* enqueue\[[0-9]+\]: info: $qid: from=<a@example.org>"
	assert_line --regexp "^<22>.* local\[[0-9]+\]: info: $qid: to=<demo@example.test> status=sent maildir="
	# nothing went to the file
	run grep -c . "$PH_DIR/log/posthorn.log"
	assert_output 0
}
