#!/usr/bin/env bats
# queue.bats: enqueue's pipe protocol, sendmail, mailq, bounces, posthorn
# flush/queue, and no loss or duplicate when qmgr and a delivery are
# killed with -9 while 500 messages flow.  Each test makes its own instance.

load helper

setup() {
	ph_instance
	CONF=$PH_DIR/etc/posthorn.conf
	LIBEXEC=$(sed -n 's/^libexec_dir = //p' "$CONF")
	echo demo2 | posthorn -C "$PH_DIR" user add other@example.test >/dev/null
}

teardown() { ph_teardown; }

sm() { POSTHORN_CONFIG=$CONF "$PH_BIN/sendmail" "$@"; }
mq() { "$PH_BIN/mailq" -c "$CONF"; }
newdir() { echo "$(ph_maildir "$1")/new"; }

# records for enqueue: rec TYPE DATA
rec() { printf '%s%d:%s\n' "$1" "${#2}" "$2"; }

# waits until the queue is empty (mailq says so)
wait_queue_empty() {
	for _ in $(seq 1 300); do
		mq | grep -q "Mail queue is empty" && return 0
		sleep 0.1
	done
	mq >&2
	return 1
}

wait_log() {	# wait_log PATTERN: until the instance log has it
	for _ in $(seq 1 300); do
		grep -q -- "$1" "$PH_DIR/log/posthorn.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "log has no $1" >&2
	return 1
}

@test "enqueue: a well-formed message is queued with its id and expanded recipients" {
	run bash -c "{ $(declare -f rec); rec S bob@example.test; rec A client=127.0.0.1; rec R Demo@EXAMPLE.test; rec R postmaster@example.test; rec M \$'Subject: x\n\nhi\n'; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_success
	qid=${lines[0]}
	[[ "$qid" =~ ^[0-9A-F]+$ ]]
	assert_line "ok $qid"
	f=$PH_DIR/queue/incoming/$qid
	[ -f "$f" ]
	grep -q "^R17:demo@example.test$" "$f"
	grep -q "^M000000000015:Subject: x$" "$f"
	[ "$(tail -n 1 "$f")" = "E0:" ]
}

@test "enqueue: the caller's uid is recorded; client/helo/proto/auth only from root, the queue user or smtpd" {
	[ "$(id -u)" -eq 0 ] || skip "needs root mode (setuid enqueue)"
	nobody=$(id -u nobody)
	run su nobody -s /bin/bash -c "{ $(declare -f rec); rec S bob@example.test; rec A client=10.9.9.9; rec A helo=forged.example; rec A proto=ESMTPA; rec A auth=demo@example.test; rec A body=8BITMIME; rec R demo@example.test; rec M \$'Subject: x\n\nhi\n'; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_success
	qid=${lines[0]}
	assert_line "ok $qid"
	assert_output --partial "uid=$nobody may not set the auth attribute: dropped"
	assert_output --regexp "$qid: from=<bob@example.test> .* uid=$nobody"
	run posthorn -C "$PH_DIR" queue show "$qid"
	assert_success
	assert_line "attribute: uid=$nobody"
	assert_line "attribute: body=8BITMIME"
	refute_output --partial "auth="
	refute_output --partial "client="
	refute_output --partial "helo="
	refute_output --partial "proto="
	# root is trusted: its trace attributes stay
	run bash -c "{ $(declare -f rec); rec S bob@example.test; rec A client=127.0.0.1; rec A auth=demo@example.test; rec R demo@example.test; rec M \$'Subject: y\n\nhi\n'; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_success
	run posthorn -C "$PH_DIR" queue show "${lines[0]}"
	assert_line "attribute: uid=0"
	assert_line "attribute: client=127.0.0.1"
	assert_line "attribute: auth=demo@example.test"
	# a caller cannot forge the uid record
	run bash -c "{ $(declare -f rec); rec S bob@example.test; rec A uid=0; rec R demo@example.test; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure 1
	assert_line --partial "unknown attribute"
}

@test "enqueue: bad records, a bad address, an alias loop fail permanently; EOF before E0: is temporary; nothing is left" {
	run bash -c "printf 'X3:abc\n' | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure 1
	assert_line --partial "error 554 5.6.0"
	run bash -c "{ $(declare -f rec); rec S 'bad address'; rec R demo@example.test; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure 1
	assert_line --partial "error 554 5.1.7"
	printf 'loop1: loop2\nloop2: loop1\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap >/dev/null
	run bash -c "{ $(declare -f rec); rec S bob@example.test; rec R loop1@example.test; rec E ''; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure 1
	assert_line --partial "5.4.6"
	run bash -c "{ $(declare -f rec); rec S bob@example.test; rec R demo@example.test; rec M 'Subject: x'; } | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure 111
	assert_line --partial "error 451"
	run bash -c "printf 'S99999999:x' | '$LIBEXEC/enqueue' -c '$CONF'"
	assert_failure
	[ -z "$(ls -A "$PH_DIR/queue/tmp" "$PH_DIR/queue/incoming" | grep -v ':$' | grep .)" ]
}

@test "enqueue: a stuck client meets enqueue_timeout: temp file removed, 451 4.4.2, exit 111" {
	printf 'enqueue_timeout = 2s\n' >>"$CONF"
	fifo=$BATS_TEST_TMPDIR/in
	mkfifo "$fifo"
	python3 -c 'import sys, time
sys.stdout.write("S16:bob@example.test\nR17:demo@example.test\nM5:hello")
sys.stdout.flush()
time.sleep(60)' >"$fifo" 3>&- &
	writer=$!
	run timeout 30 "$LIBEXEC/enqueue" -c "$CONF" <"$fifo"
	kill "$writer"
	assert_failure 111
	assert_line "error 451 4.4.2 enqueue deadline passed"
	[ -z "$(ls -A "$PH_DIR/queue/tmp" "$PH_DIR/queue/incoming" | grep -v ':$' | grep .)" ]
}

@test "sendmail -t: To and Cc delivered, Bcc delivered and removed from the message" {
	ph_start
	printf 'To: demo@example.test\nCc: Other <other@example.test>\nBcc: postmaster@example.test\nSubject: sm-t\n\nbody\n' >"$BATS_TEST_TMPDIR/m"
	printf 'postmaster: demo\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap >/dev/null
	run sm -t -f sender@example.test <"$BATS_TEST_TMPDIR/m"
	assert_success
	ph_wait_count "$(newdir other)" 1
	# demo gets it once although it is both To and (through the alias) Bcc
	ph_wait_count "$(newdir demo)" 1
	wait_queue_empty
	[ "$(ls "$(newdir demo)" | wc -l)" -eq 1 ]
	f=$(ls "$(newdir other)"/*)
	grep -q '^Subject: sm-t' "$f"
	! grep -qi '^Bcc:' "$f"
	! grep -q 'postmaster' "$f"
	grep -q '^Received: by mx.example.test (posthorn) id [0-9A-F]*;' "$f"
	grep -q '^Message-ID: <' "$f"
	grep -q '^Date: ' "$f"
	grep -q '^Return-Path: <sender@example.test>' "$f"
}

@test "sendmail: recipients as arguments, -f, -F, CRLF input, exit codes" {
	ph_start
	run sm -f bob@example.test -F 'Bob Example' -- demo@example.test <<<$'Subject: args\r\n\r\nline\r\n'
	assert_success
	ph_wait_count "$(newdir demo)" 1
	f=$(ls "$(newdir demo)"/*)
	grep -q '^Return-Path: <bob@example.test>' "$f"
	grep -q '^From: "Bob Example" <bob@example.test>' "$f"
	! grep -q $'\r' "$f"
	run sm </dev/null
	assert_failure 64
	run sm -Z demo@example.test </dev/null
	assert_failure 64
	run sm 'not an address@@' </dev/null
	assert_failure 65
}

@test "sendmail: without -i a lone dot ends the message; with -i and -oi it does not" {
	ph_start
	printf 'Subject: dot1\n\nbefore\n.\nafter\n' | sm demo@example.test
	printf 'Subject: dot2\n\nbefore\n.\nafter\n' | sm -i demo@example.test
	printf 'Subject: dot3\n\nbefore\n.\nafter\n' | sm -oi demo@example.test
	ph_wait_count "$(newdir demo)" 3
	d=$(newdir demo)
	f1=$(grep -l '^Subject: dot1' "$d"/*)
	f2=$(grep -l '^Subject: dot2' "$d"/*)
	f3=$(grep -l '^Subject: dot3' "$d"/*)
	! grep -q '^after' "$f1"
	grep -q '^after' "$f2"
	grep -q '^\.$' "$f2"
	grep -q '^after' "$f3"
}

@test "mailq: empty queue; a deferred message with its reason; fixed + flush delivers it exactly once" {
	run mq
	assert_success
	assert_output "Mail queue is empty"
	ph_start
	d=$(newdir demo)
	chmod 500 "$d"
	printf 'Subject: deferred\n\nx\n' | sm -f bob@example.test demo@example.test
	wait_log "status=deferred"
	run mq
	assert_success
	assert_output --partial "bob@example.test"
	assert_output --partial "demo@example.test"
	assert_output --regexp "\(4\.[0-9]+\.[0-9]+ [^)]*\)"
	assert_output --partial "1 Request."
	chmod 700 "$d"
	run posthorn -C "$PH_DIR" flush
	assert_success
	ph_wait_count "$d" 1
	wait_queue_empty
	sleep 1
	[ "$(ls "$d" | wc -l)" -eq 1 ]
}

@test "mailq: truncated and wrong-length queue files are listed as damaged with a reason" {
	printf 'Subject: ok\n\nx\n' | sm -f bob@example.test demo@example.test
	qid=$(ls "$PH_DIR/queue/incoming")
	f=$PH_DIR/queue/incoming/$qid
	head -c 40 "$f" >"$PH_DIR/queue/incoming/AAAA1"
	sed -E 's/^M[0-9]{12}:/M000000999999:/' "$f" >"$PH_DIR/queue/incoming/BBBB2"
	sed -E 's/^M[0-9]{12}:/M000000000001:/' "$f" >"$PH_DIR/queue/incoming/CCCC3"
	run mq
	assert_success
	assert_output --regexp "AAAA1 +damaged: file ends inside the envelope"
	assert_output --regexp "BBBB2 +damaged: message length 999999 runs past the end of the file"
	assert_output --regexp "CCCC3 +damaged: no end record after the message"
	assert_output --partial "$qid "
	refute_output --partial "unreadable queue file: )"
	assert_output --partial "4 Requests."
}

@test "qmgr: a queue file without recipients (or sender) is moved to corrupt/, not deleted; mailq lists it" {
	[ "$(stat -c %a "$PH_DIR/queue/corrupt")" = 700 ]
	printf 'V1:1\nI5:DDDD4\nT10:1700000000\nS16:bob@example.test\nM000000000002:x\n\nE0:\n' \
		>"$PH_DIR/queue/incoming/DDDD4"
	printf 'V1:1\nI5:EEEE5\nT10:1700000000\nR17:demo@example.test\nM000000000002:x\n\nE0:\n' \
		>"$PH_DIR/queue/incoming/EEEE5"
	[ "$(id -u)" -ne 0 ] || chown --reference="$PH_DIR/queue/incoming" "$PH_DIR"/queue/incoming/*
	rmdir "$PH_DIR/queue/corrupt"	# an older instance: qmgr makes it
	ph_start
	wait_log "DDDD4: malformed queue file (no recipient record): moved to corrupt/"
	wait_log "EEEE5: malformed queue file (no sender record): moved to corrupt/"
	[ -f "$PH_DIR/queue/corrupt/DDDD4" ]
	[ -f "$PH_DIR/queue/corrupt/EEEE5" ]
	[ "$(stat -c %a "$PH_DIR/queue/corrupt")" = 700 ]
	! grep -q "DDDD4: removed" "$PH_DIR/log/posthorn.log"
	run mq
	assert_success
	assert_output --regexp "DDDD4 +damaged \(set aside in corrupt/\): no recipient record"
	assert_output --regexp "EEEE5 +damaged \(set aside in corrupt/\): no sender record"
	run posthorn -C "$PH_DIR" queue delete DDDD4
	assert_success
	[ ! -e "$PH_DIR/queue/corrupt/DDDD4" ]
}

@test "mailq: an unreadable queue is explained" {
	[ "$(id -u)" -eq 0 ] || skip "needs root mode (queue owned by the queue user)"
	run su nobody -s /bin/sh -c "'$PH_BIN/mailq' -c '$CONF'"
	assert_failure 1
	assert_output --partial "mailq: permission denied: cannot read the queue $PH_DIR/queue: run as root or user_queue (posthorn-queue)"
}

@test "bounce: an alias to an unknown user bounces an RFC 3464 report to the sender" {
	printf 'lost: nobody-here\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap >/dev/null
	ph_start
	printf 'Subject: will bounce\nMessage-ID: <orig-1@example.test>\n\nsecret body\n' |
		sm -f demo@example.test lost@example.test
	ph_wait_count "$(newdir demo)" 1
	wait_queue_empty
	f=$(ls "$(newdir demo)"/*)
	grep -q '^Return-Path: <>' "$f"
	grep -q 'multipart/report; report-type=delivery-status' "$f"
	grep -q '^Content-Type: message/delivery-status' "$f"
	grep -q '^Reporting-MTA: dns; mx.example.test' "$f"
	grep -q '^Arrival-Date: ' "$f"
	grep -q '^Final-Recipient: rfc822; nobody-here@example.test' "$f"
	grep -q '^Original-Recipient: rfc822; lost@example.test' "$f"
	grep -q '^Action: failed' "$f"
	grep -q '^Status: 5\.[0-9]*\.[0-9]*' "$f"
	grep -q '^Diagnostic-Code: ' "$f"
	grep -q '^Content-Type: text/rfc822-headers' "$f"
	grep -q '^Subject: will bounce' "$f"
	grep -q '^<nobody-here@example.test>: ' "$f"
	! grep -q 'secret body' "$f"
}

@test "bounce: none for the null sender" {
	printf 'lost: nobody-here\n' >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap >/dev/null
	ph_start
	run swaks --server "127.0.0.1:$PH_SMTP" --from '<>' --to lost@example.test --h-Subject nullsender
	assert_success
	wait_log "no bounce: the sender is <>"
	wait_queue_empty
	[ "$(ls "$(newdir demo)" | wc -l)" -eq 0 ]
}

@test "qmgr: day-old files in tmp/ are removed while it runs (hourly and on flush), fresh ones stay" {
	ph_start
	wait_log "qmgr.*started"
	touch -d '2 days ago' "$PH_DIR/queue/tmp/1.000001.99999"
	touch "$PH_DIR/queue/tmp/2.000002.99998"
	run posthorn -C "$PH_DIR" flush
	assert_success
	wait_log "removed stale temporary file tmp/1.000001.99999"
	[ ! -e "$PH_DIR/queue/tmp/1.000001.99999" ]
	[ -e "$PH_DIR/queue/tmp/2.000002.99998" ]
}

@test "queue show and delete; flush without qmgr says so" {
	printf 'Subject: stays\n\nremote body\n' | sm -f bob@example.test far@remote.example
	qid=$(ls "$PH_DIR/queue/incoming")
	[ -n "$qid" ]
	run posthorn -C "$PH_DIR" flush
	assert_failure
	assert_output --partial "qmgr is not running"
	ph_start
	wait_log "$qid: to=<far@remote.example> status=deferred"
	run posthorn -C "$PH_DIR" queue show "$qid"
	assert_success
	assert_line "sender: <bob@example.test>"
	assert_line "recipient: <far@remote.example> pending"
	assert_line "remote body"
	run posthorn -C "$PH_DIR" queue list
	assert_output --partial "(4.4."	# the deferral reason (remote: DNS failure; without remote 4.4.1)
	run posthorn -C "$PH_DIR" queue delete "$qid"
	assert_success
	run mq
	assert_output "Mail queue is empty"
	[ -z "$(ls "$PH_DIR/queue/defer" "$PH_DIR/queue/active" "$PH_DIR/queue/tmp" | grep -v ':$' | grep .)" ]
	run posthorn -C "$PH_DIR" queue show "$qid"
	assert_failure
	run posthorn -C "$PH_DIR" queue delete ../etc
	assert_failure
	# qmgr goes on working after the delete
	printf 'Subject: after\n\nx\n' | sm demo@example.test
	ph_wait_count "$(newdir demo)" 1
}

@test "kill -9 of qmgr and of deliveries while 500 messages flow: all 500 arrive, none twice" {
	# a killed delivery is a temporary failure: retry it soon
	printf 'retry_min = 1s\nretry_max = 2s\n' >>"$CONF"
	ph_start
	master=$(cat "$PH_DIR/log/master.pid")
	python3 - "$PH_SMTP" >"$BATS_TEST_TMPDIR/send.log" 2>&1 <<'PY' &
import smtplib, sys, threading
port = int(sys.argv[1])
failed = []
def worker(k):
    for i in range(k, 500, 10):
        msg = "From: bob@example.test\r\nTo: demo@example.test\r\nSubject: n%d\r\nMessage-ID: <flow-%d@example.test>\r\n\r\nmessage %d\r\n" % (i, i, i)
        for attempt in range(20):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                    s.sendmail("bob@example.test", ["demo@example.test"], msg)
                break
            except Exception as e:
                if attempt == 19:
                    failed.append((i, repr(e)))
ts = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
for t in ts: t.start()
for t in ts: t.join()
print("failed", len(failed), failed[:3])
PY
	sender=$!
	d=$(newdir demo)
	ph_wait_count "$d" 50 60
	q=$(pgrep -P "$master" -x qmgr)
	[ -n "$q" ]
	kill -9 "$q"
	ph_wait_count "$d" 200 60
	# the delivery process itself, at a known point of the flow
	l=$(pgrep -P "$master" -x local)
	[ -n "$l" ]
	kill -9 "$l"
	# master restarts the qmgr/local pair; then kill delivery children of
	# the new local whenever one can be caught (timing decides how many)
	killed=0
	for _ in $(seq 1 1000); do
		l2=$(pgrep -P "$master" -x local) || { sleep 0.05; continue; }
		for c in $(pgrep -P "$l2" 2>/dev/null); do kill -9 "$c" 2>/dev/null && killed=$((killed + 1)); done
		[ "$killed" -ge 3 ] && break
		[ "$(ls "$d" | wc -l)" -ge 500 ] && break
		sleep 0.01
	done
	# and the restarted qmgr too
	q2=""
	for _ in $(seq 1 100); do
		q2=$(pgrep -P "$master" -x qmgr) || true
		[ -n "$q2" ] && [ "$q2" != "$q" ] && break
		sleep 0.1
	done
	[ -n "$q2" ] && [ "$q2" != "$q" ]
	kill -9 "$q2"
	wait "$sender"
	grep -q "^failed 0 " "$BATS_TEST_TMPDIR/send.log"
	ph_wait_count "$d" 500 120
	wait_queue_empty
	sleep 1
	ids=$(cat "$d"/* | grep -i '^Message-ID: <flow-' | sort)
	echo "killed local, then $killed delivery children" >&3
	grep -q "local pid $l killed by signal 9" "$PH_DIR/log/posthorn.log"
	grep -q "qmgr pid $q killed by signal 9" "$PH_DIR/log/posthorn.log"
	grep -q "qmgr pid $q2 killed by signal 9" "$PH_DIR/log/posthorn.log"
	[ "$(echo "$ids" | uniq | wc -l)" -eq 500 ]
	dups=$(echo "$ids" | uniq -d | wc -l)
	echo "duplicates: $dups" >&3
	[ "$dups" -eq 0 ]
	[ "$(ls "$d" | wc -l)" -eq 500 ]
}

@test "expiry: a message deferred past queue_lifetime bounces with 4.4.7 and the whole original when bounce_headers_only = no" {
	printf 'retry_min = 1s\nretry_max = 1s\nqueue_lifetime = 3s\nbounce_headers_only = no\n' >>"$CONF"
	ph_start
	printf 'Subject: expires\n\nthe body comes back\n' | sm -f demo@example.test far@remote.example
	wait_log "status=deferred"
	ph_wait_count "$(newdir demo)" 1 30
	wait_queue_empty
	f=$(ls "$(newdir demo)"/*)
	grep -q '^Final-Recipient: rfc822; far@remote.example' "$f"
	grep -q '^Status: 4.4.7' "$f"
	grep -q '^Action: failed' "$f"
	grep -q '^Content-Type: message/rfc822' "$f"
	grep -q '^the body comes back' "$f"
	grep -q 'status=bounced' "$PH_DIR/log/posthorn.log"
}
