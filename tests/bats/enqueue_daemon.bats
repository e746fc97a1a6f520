#!/usr/bin/env bats
# enqueue_daemon.bats: the queue writer on run_dir/enqueue.sock (enqueue -d,
# started by master): the pipe protocol over the socket, who may connect,
# the peer-credential trust rule for trace attributes, kill -9 in the
# middle of a message, and smtpd's fallback to the setuid enqueue when
# there is no socket (smtpd run as by inetd).

load helper

ES="$BATS_TEST_DIRNAME/enqsock.py"

setup() {
	ph_instance
	CONF=$PH_DIR/etc/posthorn.conf
	SOCK=$PH_DIR/run/enqueue.sock
}

teardown() {
	[ -n "${BG:-}" ] && kill "$BG" 2>/dev/null
	ph_teardown
}

wait_log() {	# wait_log PATTERN: until the instance log has it
	for _ in $(seq 1 100); do
		grep -q -- "$1" "$PH_DIR/log/posthorn.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "log has no $1" >&2
	return 1
}

# the pid of master's enqueue daemon (waits up to 5 s for it)
daemon_pid() {
	local m p
	m=$(cat "$PH_DIR/log/master.pid")
	for _ in $(seq 50); do
		p=$(ps -o pid=,comm= --ppid "$m" | awk '$2 == "enqueue" { print $1; exit }')
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

msg() { python3 "$ES" "$SOCK" S:bob@example.test "$@" R:demo@example.test \
	'M:Subject: over the socket\n\nbody\n' E:; }

@test "enqueue daemon: a message over the socket is queued and delivered" {
	ph_start
	[ -S "$SOCK" ]
	run msg A:proto=ESMTP
	assert_success
	qid=${lines[0]}
	[[ "$qid" =~ ^[0-9A-F]+$ ]]
	assert_line --index 1 "ok $qid"
	ph_wait_count "$(ph_maildir demo)/new" 1
	grep -q "^Subject: over the socket" "$(ph_maildir demo)"/new/*
	wait_log "enqueue\[[0-9]*\]: info: $qid: from=<bob@example.test> size=.* uid=$(id -u)"
}

@test "enqueue daemon: bad records get the protocol's error and nothing is queued" {
	ph_start
	run python3 "$ES" "$SOCK" R:demo@example.test E:
	assert_success
	assert_line --index 1 --regexp "^error 554 5\.6\.0 unexpected 'R' record"
	run python3 "$ES" "$SOCK" S:bob@example.test A:nosuch=1 R:demo@example.test E:
	assert_line --index 1 --regexp "^error 554 5\.6\.0 unknown attribute"
	# the daemon goes on
	run msg
	assert_line --index 1 --regexp "^ok [0-9A-F]+$"
	[ -z "$(ls "$PH_DIR/queue/tmp")" ]
}

@test "enqueue daemon: the socket is posthorn-queue:posthorn-smtpd 0660; nobody else may connect" {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	ph_start
	assert_equal "$(stat -c '%U:%G:%a' "$SOCK")" posthorn-queue:posthorn-smtpd:660
	cp "$ES" "$PH_TOP/enqsock.py"
	run runuser -u nobody -- /usr/bin/python3 "$PH_TOP/enqsock.py" "$SOCK" S:x@example.test \
		R:demo@example.test E:
	assert_failure
	assert_output --partial "PermissionError"
}

@test "enqueue daemon: trace attributes only from user_smtpd (by SO_PEERCRED), not from another member of its group" {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	ph_start
	cp "$ES" "$PH_TOP/enqsock.py"
	# posthorn-login, let into the socket's group: may queue, may not vouch
	run setpriv --reuid=posthorn-login --regid=posthorn-login --groups=posthorn-smtpd -- \
		/usr/bin/python3 "$PH_TOP/enqsock.py" "$SOCK" S:bob@example.test A:client=10.9.9.9 A:helo=forged.example \
		A:auth=demo@example.test A:body=8BITMIME R:demo@example.test 'M:Subject: x\n\nhi\n' E:
	assert_success
	q1=${lines[0]}
	assert_line --index 1 "ok $q1"
	wait_log "$q1: uid=$(id -u posthorn-login) may not set the client attribute: dropped"
	grep -q "$q1: uid=$(id -u posthorn-login) may not set the auth attribute: dropped" "$PH_DIR/log/posthorn.log"
	run grep -c "$q1: uid=.* may not set the body attribute" "$PH_DIR/log/posthorn.log"
	assert_output 0
	# posthorn-smtpd itself: kept
	run runuser -u posthorn-smtpd -- /usr/bin/python3 "$PH_TOP/enqsock.py" "$SOCK" \
		S:bob@example.test A:client=10.9.9.9 \
		R:demo@example.test 'M:Subject: y\n\nhi\n' E:
	q2=${lines[0]}
	assert_line --index 1 "ok $q2"
	wait_log "$q2: from=<bob@example.test> .* uid=$(id -u posthorn-smtpd)"
	run grep -c "$q2: .*may not set" "$PH_DIR/log/posthorn.log"
	assert_output 0
}

@test "enqueue daemon: kill -9 mid-message loses nothing accepted and leaves no half file in incoming/" {
	ph_start
	run swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.test \
		--body "accepted before the kill"
	assert_success
	out=$PH_TOP/partial.out
	python3 "$ES" --partial "$SOCK" S:bob@example.test R:demo@example.test \
		'M:Subject: half\n\nnever queued\n' >"$out" 2>&1 &
	BG=$!
	for _ in $(seq 50); do grep -q sent "$out" && break; sleep 0.1; done
	qid=$(head -1 "$out")
	[[ "$qid" =~ ^[0-9A-F]+$ ]]
	sleep 0.3
	d=$(daemon_pid)
	kill -9 -- "-$d"	# the daemon and every process serving a message
	wait "$BG" || true
	BG=
	assert_equal "$(tail -1 "$out")" closed
	[ ! -e "$PH_DIR/queue/incoming/$qid" ]
	[ ! -e "$PH_DIR/queue/active/$qid" ]
	# master starts it again; the next message goes through
	wait_log "restarting enqueue"
	for _ in $(seq 50); do
		d2=$(daemon_pid) && [ "$d2" != "$d" ] && break
		sleep 0.1
	done
	run swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.test \
		--body "accepted after the restart"
	assert_success
	ph_wait_count "$(ph_maildir demo)/new" 2
	run grep -l "accepted before the kill" "$(ph_maildir demo)"/new/*
	assert_success
	run grep -l "accepted after the restart" "$(ph_maildir demo)"/new/*
	assert_success
	run grep -l "never queued" "$(ph_maildir demo)"/new/*
	assert_failure
}

@test "enqueue daemon: smtpd without master (no socket) queues through the setuid enqueue" {
	[ ! -e "$SOCK" ]
	run bash -c "printf 'HELO t\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nSubject: inetd\r\n\r\nhi\r\n.\r\nQUIT\r\n' |
		TCPREMOTEIP=127.0.0.1 '$PH_ROOT/libexec/smtpd' -c '$CONF' 2>&1"
	assert_success
	assert_output --regexp "250 2\.0\.0 Ok: queued as [0-9A-F]+"
	qid=$(sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p' <<<"$output" | head -1)
	[ -f "$PH_DIR/queue/incoming/$qid" ]
}
