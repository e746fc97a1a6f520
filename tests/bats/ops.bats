#!/usr/bin/env bats
# ops.bats: operating a running instance: posthorn reload (config, tables,
# listeners; open sessions and mail in flight survive it), posthorn queue
# hold/release and the rights message, queue file versions, and the log
# format documented in posthorn-log(5).  Each test makes its own instance.

load helper

setup() {
	ph_instance
	CONF=$PH_DIR/etc/posthorn.conf
	LOG=$PH_DIR/log/posthorn.log
}

teardown() { ph_teardown; }

sm() { POSTHORN_CONFIG=$CONF "$PH_BIN/sendmail" "$@"; }
mq() { "$PH_BIN/mailq" -c "$CONF"; }
newdir() { echo "$(ph_maildir "$1")/new"; }
setconf() {	# setconf KEY VALUE: replaces or appends the key
	sed -i "/^$1 *=/d" "$CONF"
	echo "$1 = $2" >>"$CONF"
}
pidof_kid() {	# pidof_kid NAME: pid of the master's child NAME (waits for it)
	local p
	for _ in $(seq 1 50); do
		p=$(ps -o pid=,comm= --ppid "$(cat "$PH_DIR/log/master.pid")" | awk -v n="$1" '$2 == n { print $1 }')
		[ -n "$p" ] && break
		sleep 0.1
	done
	echo "$p"
}
wait_log() {	# wait_log PATTERN: until the instance log has it
	for _ in $(seq 1 300); do
		grep -q -- "$1" "$LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "log has no $1" >&2
	return 1
}
wait_queue_empty() {
	for _ in $(seq 1 300); do
		mq | grep -q "Mail queue is empty" && return 0
		sleep 0.1
	done
	mq >&2
	return 1
}
ehlo_size() {	# ehlo_size PORT: the SIZE value in the EHLO reply
	python3 - "$1" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.example")
print(s.esmtp_features.get("size", ""))
s.quit()
PY
}

@test "reload: a new port_base moves the listeners; the old port closes, a new max_message_size shows in EHLO" {
	ph_start
	[ "$(ehlo_size "$PH_SMTP")" = "26214400" ]
	qmgr=$(pidof_kid qmgr)
	nb=$(ph_free_base)
	setconf port_base "$nb"
	setconf max_message_size 1M
	run posthorn -C "$PH_DIR" reload
	assert_success
	assert_output --partial "reloaded"
	ph_wait_port $((nb + 25))
	[ "$(ehlo_size $((nb + 25)))" = "1048576" ]
	run ehlo_size "$PH_SMTP"
	assert_failure	# nothing listens on the old port any more
	grep -q "listening for smtp on 127.0.0.1 port $((nb + 25))" "$LOG"
	grep -q "listening for pop3 on 127.0.0.1 port $((nb + 110))" "$LOG"
	# qmgr was restarted and reads the new config
	for _ in $(seq 1 50); do
		q=$(pidof_kid qmgr)
		[ -n "$q" ] && [ "$q" != "$qmgr" ] && break
		sleep 0.1
	done
	[ -n "$q" ] && [ "$q" != "$qmgr" ]
	grep -q "^1 ok$" "$PH_DIR/log/master.reload"
	PH_SMTP=$((nb + 25))
}

@test "reload: a config that does not load is refused with its error; the running service stays as it was" {
	ph_start
	cp "$CONF" "$CONF.good"
	qmgr=$(pidof_kid qmgr)
	echo "no_such_key = 1" >>"$CONF"
	run posthorn -C "$PH_DIR" reload
	assert_failure
	assert_output --partial "no_such_key"
	assert_output --partial "reload refused"
	# signalled directly, the master refuses it too, and says so
	kill -HUP "$(cat "$PH_DIR/log/master.pid")"
	wait_log "reload refused, the running config stays"
	for _ in $(seq 1 50); do grep -q "failed:.*no_such_key" "$PH_DIR/log/master.reload" && break; sleep 0.1; done
	grep -q "failed:.*no_such_key" "$PH_DIR/log/master.reload"
	[ "$(pidof_kid qmgr)" = "$qmgr" ]
	[ "$(ehlo_size "$PH_SMTP")" = "26214400" ]
	# a listener that cannot be bound: refused, the old ones stay
	cp "$CONF.good" "$CONF"
	nb=$(ph_free_base)
	python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $nb + 110)); s.listen(1); time.sleep(30)" &
	blocker=$!
	sleep 0.5
	setconf port_base "$nb"
	run posthorn -C "$PH_DIR" reload
	kill "$blocker"
	assert_failure
	assert_output --partial "cannot be bound"
	grep -q "cannot listen on 127.0.0.1 port $((nb + 110))" "$LOG"
	[ "$(ehlo_size "$PH_SMTP")" = "26214400" ]
	run ehlo_size $((nb + 25))
	assert_failure	# the new smtp port was bound, then given up again
	posthorn -C "$PH_DIR" status | grep -q running
}

@test "reload: a domain and a user added with makemap get mail, with and without a reload" {
	ph_start
	echo "sms.test" >>"$PH_DIR/etc/domains"
	posthorn -C "$PH_DIR" makemap >/dev/null
	echo pw | posthorn -C "$PH_DIR" user add neo@sms.test >/dev/null
	printf 'Subject: t1\n\nnew domain\n' | sm -f demo@example.test neo@sms.test
	ph_wait_count "$PH_DIR/mail/sms.test/neo/new" 1 || { cat $LOG; false; }
	posthorn -C "$PH_DIR" reload
	printf 'Subject: t2\n\nafter reload\n' | sm -f demo@example.test neo@sms.test
	ph_wait_count "$PH_DIR/mail/sms.test/neo/new" 2
	# over SMTP too: smtpd reads the tables per session
	ph_smtp_raw >"$BATS_TEST_TMPDIR/out" <<-EOF
	EHLO c.example
	MAIL FROM:<x@example.test>
	RCPT TO:<neo@sms.test>
	DATA
	Subject: t3

	over smtp
	.
	QUIT
	EOF
	grep -q "^250 .*queued as" "$BATS_TEST_TMPDIR/out"
	ph_wait_count "$PH_DIR/mail/sms.test/neo/new" 3
}

@test "reload: an SMTP session open across a reload completes its message" {
	ph_start
	python3 - "$PH_SMTP" "$PH_BIN/posthorn" "$PH_DIR" <<'PY'
import smtplib, subprocess, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
s.mail("x@example.test")
s.rcpt("demo@example.test")
r = subprocess.run([sys.argv[2], "-C", sys.argv[3], "reload"], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
code, msg = s.data(b"Subject: across a reload\r\n\r\nstill here\r\n")
assert code == 250, (code, msg)
s.quit()
PY
	ph_wait_count "$(newdir demo)" 1
	grep -rq "across a reload" "$(newdir demo)"
}

@test "reload: 150 messages sent during three reloads are each delivered once" {
	ph_start
	(
		for i in $(seq 1 150); do
			printf 'Subject: m%d\n\nbody %d\n' "$i" "$i" | sm -f demo@example.test demo@example.test || echo "send $i failed"
		done
	) >"$BATS_TEST_TMPDIR/send.out" 2>/dev/null &
	sender=$!
	for _ in 1 2 3; do
		sleep 0.3
		posthorn -C "$PH_DIR" reload
	done
	wait "$sender"
	cat "$BATS_TEST_TMPDIR/send.out"
	[ ! -s "$BATS_TEST_TMPDIR/send.out" ]
	ph_wait_count "$(newdir demo)" 150 60
	wait_queue_empty
	[ "$(ls "$(newdir demo)" | wc -l)" -eq 150 ]
	# each subject exactly once
	[ "$(grep -rh '^Subject: m' "$(newdir demo)" | sort -u | wc -l)" -eq 150 ]
	[ "$(grep -c 'reloaded ' "$LOG")" -eq 3 ]
}
