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

# Under SAN=1 a memory error or undefined behaviour in any process of the
# instance (reports land in the log) fails the test; leaks are left to
# each program's own tests.
teardown() {
	local bad=0
	ph_stop
	if [ -f "${LOG:-}" ] && grep -qE "ERROR: AddressSanitizer|runtime error:" "$LOG"; then
		grep -E -A 20 "ERROR: AddressSanitizer|runtime error:" "$LOG" | head -60
		bad=1
	fi
	ph_teardown
	return "$bad"
}

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
port_open() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 2).close()" 2>/dev/null; }
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
	run posthorn -C "$PH_DIR" status
	refute_output --partial "edited since"
	echo "max_recipients = 7" >>"$CONF"
	run posthorn -C "$PH_DIR" status
	assert_output --partial "$CONF was edited since the master accepted it: posthorn reload applies it"
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
	for _ in $(seq 1 50); do port_open $((nb + 110)) && break; sleep 0.1; done
	setconf port_base "$nb"
	run posthorn -C "$PH_DIR" reload
	kill "$blocker"
	assert_failure
	assert_output --partial "reload refused, the running service is unchanged: cannot listen for pop3 on 127.0.0.1 port $((nb + 110)): Address already in use"
	grep -q "cannot listen on 127.0.0.1 port $((nb + 110))" "$LOG"
	[ "$(ehlo_size "$PH_SMTP")" = "26214400" ]
	run ehlo_size $((nb + 25))
	assert_failure	# the new smtp port was bound, then given up again
	# what the sessions read is still the accepted config
	grep -q "^port_base = $PH_BASE$" "$CONF.running"
	# a config naming a missing daemon directory or account is refused too
	cp "$CONF.good" "$CONF"
	setconf libexec_dir /nonexistent/libexec
	run posthorn -C "$PH_DIR" reload
	assert_failure
	assert_output --partial "libexec_dir: /nonexistent/libexec/qmgr: No such file or directory"
	if [ "$(id -u)" -eq 0 ]; then
		cp "$CONF.good" "$CONF"
		setconf user_queue no-such-user-here
		run posthorn -C "$PH_DIR" reload
		assert_failure
		assert_output --partial 'user_queue: no account "no-such-user-here"'
	fi
	! grep -q "nonexistent\|no-such-user" "$CONF.running"
	[ ! -e "$CONF.running.tmp" ]
	posthorn -C "$PH_DIR" status | grep -q running
}

@test "reload: the services key adds and removes listeners; an unknown service is refused" {
	ph_start
	port_open $((PH_BASE + 110))
	setconf services "smtp, submission"
	run posthorn -C "$PH_DIR" reload
	assert_success
	! port_open $((PH_BASE + 110))
	! port_open $((PH_BASE + 993))
	port_open $((PH_BASE + 587))
	[ "$(ehlo_size "$PH_SMTP")" = "26214400" ]
	grep -q "stopped listening for pop3 on 127.0.0.1 port $((PH_BASE + 110))" "$LOG"
	setconf services "smtp submission pop3 pop3x"
	run posthorn -C "$PH_DIR" reload
	assert_failure
	assert_output --partial 'services: unknown service "pop3x"'
	! port_open $((PH_BASE + 110))
	setconf services all
	posthorn -C "$PH_DIR" reload
	port_open $((PH_BASE + 110))
	port_open $((PH_BASE + 993))
	run python3 -c "import poplib; print(poplib.POP3('127.0.0.1', $((PH_BASE + 110)), timeout=5).getwelcome())"
	assert_output --partial "+OK"
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
	python3 - "$PH_SMTP" "$PH_BIN/posthorn" "$PH_DIR" <<'PY' || { cat "$LOG"; false; }
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

@test "reload: a POP3 session logged in before a reload (auth and mailboxd restart) goes on" {
	setconf plaintext_auth_loopback yes
	ph_start
	printf 'Subject: pop me\n\nhello\n' | sm -f x@example.test demo@example.test
	ph_wait_count "$(newdir demo)" 1
	auth=$(pidof_kid auth)
	python3 - "$((PH_BASE + 110))" "$PH_BIN/posthorn" "$PH_DIR" <<'PY'
import poplib, subprocess, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo@example.test"); p.pass_("demo")
r = subprocess.run([sys.argv[2], "-C", sys.argv[3], "reload"], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
assert p.stat()[0] == 1
assert b"Subject: pop me" in b"\n".join(p.retr(1)[1])
p.quit()
# and a new login works with the restarted daemons
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo@example.test"); p.pass_("demo")
assert p.stat()[0] == 1
p.quit()
PY
	[ "$(pidof_kid auth)" != "$auth" ]
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

qid_of() {	# qid_of SUBJECT: queue id of the queued message with that subject
	grep -l "^Subject: $1\$" "$PH_DIR"/queue/{incoming,active,hold}/* 2>/dev/null | head -n 1 | xargs -r basename
}

@test "queue hold: a held message stays (mailq marks it !), others flow; release delivers it once" {
	printf 'Subject: held\n\nwait\n' | sm -f demo@example.test demo@example.test
	q=$(qid_of held)
	[ -n "$q" ]
	run posthorn -C "$PH_DIR" queue hold "$q"
	assert_success
	assert_output --partial "$q: on hold"
	[ -f "$PH_DIR/queue/hold/$q" ]
	run posthorn -C "$PH_DIR" queue hold "$q"
	assert_failure
	assert_output --partial "already on hold"
	ph_start
	printf 'Subject: flows\n\ngo\n' | sm -f demo@example.test demo@example.test
	ph_wait_count "$(newdir demo)" 1
	# delivered is not yet removed: wait until only the held one is left
	for _ in $(seq 1 100); do mq | grep -q -- "-- 1 Kbytes in 1 Request.$" && break; sleep 0.1; done
	run mq
	assert_line --regexp "^$q +! +[0-9]+ "
	assert_output --partial "-- 1 Kbytes in 1 Request."
	run posthorn -C "$PH_DIR" queue
	assert_line --regexp "^$q +! "
	run posthorn -C "$PH_DIR" queue show "$q"
	assert_success
	assert_output --partial "queue id: $q (hold)"
	! grep -rq "^Subject: held" "$(newdir demo)"
	run posthorn -C "$PH_DIR" queue release "$q"
	assert_success
	assert_output --partial "$q: released"
	grep -qE "^[0-9T:-]+Z posthorn\[[0-9]+\]: info: $q: released by posthorn queue release \(uid $(id -u)\)$" "$LOG"
	ph_wait_count "$(newdir demo)" 2
	wait_queue_empty
	[ "$(grep -rl '^Subject: held' "$(newdir demo)" | wc -l)" -eq 1 ]
	run posthorn -C "$PH_DIR" queue release "$q"
	assert_failure
	assert_output --partial "no message $q on hold"
	run posthorn -C "$PH_DIR" queue hold ABCDEF
	assert_failure
	assert_output --partial "no message ABCDEF in the queue"
}

@test "queue hold: a deferred message can be held, deleted from hold, and queue flush works" {
	setconf retry_min 1h
	ph_start
	printf 'Subject: far\n\naway\n' | sm -f demo@example.test someone@remote.example
	for _ in $(seq 1 100); do [ -s "$PH_DIR/queue/defer/$(qid_of far)" ] && break; sleep 0.1; done
	q=$(qid_of far)
	[ -f "$PH_DIR/queue/active/$q" ]
	posthorn -C "$PH_DIR" queue hold "$q"
	[ -f "$PH_DIR/queue/hold/$q" ]
	[ ! -e "$PH_DIR/queue/active/$q" ]
	run posthorn -C "$PH_DIR" queue flush
	assert_success
	assert_output --partial "flush requested"
	run posthorn -C "$PH_DIR" queue delete "$q"
	assert_success
	[ ! -e "$PH_DIR/queue/hold/$q" ]
	grep -q "posthorn\[[0-9]*\]: info: $q: put on hold by posthorn queue hold (uid $(id -u))$" "$LOG"
	grep -q "posthorn\[[0-9]*\]: info: $q: deleted by posthorn queue delete (uid $(id -u))$" "$LOG"
	run mq
	assert_output "Mail queue is empty"
}

@test "queue: a user without rights gets the same clear message from posthorn queue and mailq" {
	[ "$(id -u)" -eq 0 ] || skip "needs root mode (queue owned by the queue user)"
	printf 'Subject: x\n\nx\n' | sm -f demo@example.test demo@example.test
	q=$(qid_of x)
	msg="permission denied: cannot read the queue $PH_DIR/queue: run as root or user_queue (posthorn-queue)"
	run su nobody -s /bin/sh -c "'$PH_BIN/mailq' -c '$CONF'"
	assert_failure 1
	assert_output "mailq: $msg"
	for sub in "" "show $q" "hold $q" "release $q" "delete $q" flush; do
		run su nobody -s /bin/sh -c "'$PH_BIN/posthorn' -c '$CONF' queue $sub"
		assert_failure 1
		assert_output "posthorn queue: $msg"
	done
	run su nobody -s /bin/sh -c "'$PH_BIN/posthorn' -c '$CONF' flush"
	assert_failure 1
	assert_output "posthorn flush: $msg"
	[ -f "$PH_DIR/queue/incoming/$q" ]
	# root sees it all
	run posthorn -C "$PH_DIR" queue
	assert_success
	assert_output --partial "$q "
}

# newer_copy QID NEWQID: a copy of queue file QID that says format version 2
# and carries a record type version 1 does not know
newer_copy() {
	local src=$PH_DIR/queue/incoming/$1
	{ printf 'V1:2\n'; printf 'I%d:%s\n' "${#2}" "$2"; printf 'Z5:hello\n'; sed -n '3,$p' "$src"; } >"$PH_DIR/queue/incoming/$2"
	chown --reference="$src" "$PH_DIR/queue/incoming/$2"
	chmod --reference="$src" "$PH_DIR/queue/incoming/$2"
}

@test "versions: a V2 queue file is left untouched (one log line), listed as needing a newer posthorn; V1 mail flows" {
	printf 'Subject: old\n\nformat one\n' | sm -f demo@example.test demo@example.test
	q=$(qid_of old)
	head -n 1 "$PH_DIR/queue/incoming/$q" | grep -qx 'V1:1'
	newer_copy "$q" FFFF00000000001
	sum=$(md5sum <"$PH_DIR/queue/incoming/FFFF00000000001")
	run mq
	assert_output --regexp "FFFF00000000001 +needs a newer posthorn: queue file format version 2; this posthorn reads up to version 1"
	ph_start
	ph_wait_count "$(newdir demo)" 1
	wait_log "FFFF00000000001: needs a newer posthorn: queue file format version 2"
	posthorn -C "$PH_DIR" flush >/dev/null
	posthorn -C "$PH_DIR" reload >/dev/null
	printf 'Subject: later\n\nafter\n' | sm -f demo@example.test demo@example.test
	ph_wait_count "$(newdir demo)" 2
	[ -f "$PH_DIR/queue/active/FFFF00000000001" ]
	[ "$(md5sum <"$PH_DIR/queue/active/FFFF00000000001")" = "$sum" ]
	[ ! -e "$PH_DIR/queue/corrupt/FFFF00000000001" ]
	[ "$(ls "$(newdir demo)" | wc -l)" -eq 2 ]
	! grep -q "FFFF00000000001.*\(bounce\|corrupt\|status=\)" "$LOG"
	run mq
	assert_output --regexp "FFFF00000000001 +needs a newer posthorn"
	run posthorn -C "$PH_DIR" queue show FFFF00000000001
	assert_failure
	assert_output --partial "needs a newer posthorn"
	# the administrator may still delete it
	run posthorn -C "$PH_DIR" queue delete FFFF00000000001
	assert_success
	wait_queue_empty
}

@test "log: one message followed by its queue id from smtpd through enqueue and qmgr to local, each line in the posthorn-log(5) shape" {
	ph_start
	qid=$(python3 - "$PH_SMTP" "$PH_DIR/etc/tls/ca.pem" <<'PY'
import smtplib, ssl, sys, re
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.example")
s.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))
s.ehlo("client.example")
s.mail("x@example.test")
s.rcpt("demo@example.test")
code, msg = s.data(b"Subject: follow me\r\n\r\nthrough the log\r\n")
s.quit()
print(re.search(r"queued as ([0-9A-F]+)", msg.decode()).group(1))
PY
)
	[ -n "$qid" ]
	ph_wait_count "$(newdir demo)" 1
	wait_log "$qid: removed"
	T='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
	# every line of the log has the documented frame
	run grep -Evc "^$T [a-z0-9-]+\[[0-9]+\]: (info|warning|error|fatal): " "$LOG"
	assert_output 0
	# every line naming the message starts its text with the queue id
	run grep -E "$qid" "$LOG"
	for l in "${lines[@]}"; do
		[[ "$l" =~ ^$T\ [a-z0-9-]+\[[0-9]+\]:\ (info|warning|error):\ $qid:\  ]] || { echo "bad: $l"; false; }
	done
	# the way: enqueue commits, smtpd accepts, local delivers, qmgr records and removes
	grep -nE "^$T enqueue\[[0-9]+\]: info: $qid: from=<x@example.test> size=[0-9]+ nrcpt=1 uid=[0-9]+$" "$LOG" >"$BATS_TEST_TMPDIR/e"
	grep -nE "^$T smtpd\[[0-9]+\]: info: $qid: from=<x@example.test> nrcpt=1 size=[0-9]+ client=127\.0\.0\.1$" "$LOG" >"$BATS_TEST_TMPDIR/s"
	grep -nE "^$T local\[[0-9]+\]: info: $qid: to=<demo@example.test> status=sent maildir=[0-9]+\.Q${qid}X0\.[^ ]+$" "$LOG" >"$BATS_TEST_TMPDIR/l"
	grep -nE "^$T qmgr\[[0-9]+\]: info: $qid: to=<demo@example.test> status=sent \(2\.0\.0 [^)]*\)$" "$LOG" >"$BATS_TEST_TMPDIR/q"
	grep -nE "^$T qmgr\[[0-9]+\]: info: $qid: removed$" "$LOG" >"$BATS_TEST_TMPDIR/r"
	for f in e s l q r; do [ "$(wc -l <"$BATS_TEST_TMPDIR/$f")" -eq 1 ]; done
	n() { cut -d: -f1 "$BATS_TEST_TMPDIR/$1"; }
	[ "$(n e)" -lt "$(n l)" ] && [ "$(n s)" -lt "$(n r)" ] && [ "$(n l)" -lt "$(n q)" ] && [ "$(n q)" -lt "$(n r)" ]
	# the connection that brought it: client IP on the master's and smtpd's
	# lines, TLS details, all from the smtpd process that logged the message
	pid=$(sed -E 's/.* smtpd\[([0-9]+)\]: .*/\1/' "$BATS_TEST_TMPDIR/s")
	grep -qE "^$T master\[[0-9]+\]: info: smtp connection from 127\.0\.0\.1 port [0-9]+ \(pid $pid\)$" "$LOG"
	grep -qE "^$T smtpd\[$pid\]: info: connect from unknown\[127\.0\.0\.1\]$" "$LOG"
	grep -qE "^$T smtpd\[$pid\]: info: TLS established from 127\.0\.0\.1: TLSv1\.[23] with cipher [A-Z0-9_-]+ \([0-9]+/[0-9]+ bits\)$" "$LOG"
	grep -qE "^$T smtpd\[$pid\]: info: disconnect from unknown\[127\.0\.0\.1\] helo=client\.example messages=1 errors=0$" "$LOG"
}

# start_sink: an SMTP server on 127.0.0.1:$sport that writes each message
# to $sink/got.N and holds its reply to the final dot until $sink/go exists
start_sink() {
	sink=$BATS_TEST_TMPDIR/sink
	mkdir -p "$sink"
	sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	python3 - "$sport" "$sink" <<'PY' &
import socket, sys, os, time
port, d = int(sys.argv[1]), sys.argv[2]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(5); srv.settimeout(60)
n = 0
while True:
    try:
        c, _ = srv.accept()
    except OSError:
        break
    f = c.makefile("rb"); c.sendall(b"220 sink\r\n")
    while True:
        l = f.readline()
        if not l:
            break
        cmd = l.strip().upper()
        if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
            c.sendall(b"250 sink\r\n")
        elif cmd == b"DATA":
            c.sendall(b"354 go\r\n")
            body = b""
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
                body += l
            n += 1
            open(os.path.join(d, "got.%d" % n), "wb").write(body)
            for _ in range(200):
                if os.path.exists(os.path.join(d, "go")):
                    break
                time.sleep(0.05)
            c.sendall(b"250 2.0.0 taken\r\n")
        elif cmd == b"QUIT":
            c.sendall(b"221 bye\r\n"); break
        else:
            c.sendall(b"250 ok\r\n")
    c.close()
PY
	server=$!
}

@test "reload: a remote delivery in flight is finished by the draining qmgr and recorded once, not sent again" {
	start_sink
	setconf relay_host "[127.0.0.1]:$sport"
	ph_start
	qmgr=$(pidof_kid qmgr)
	printf 'Subject: far away\n\nslowly\n' | sm -f demo@example.test someone@remote.example
	for _ in $(seq 1 100); do [ -e "$sink/got.1" ] && break; sleep 0.1; done
	[ -e "$sink/got.1" ]
	run posthorn -C "$PH_DIR" reload
	assert_success
	wait_log "draining for a reload: 1 messages in flight"
	touch "$sink/go"
	wait_queue_empty
	wait_log "to=<someone@remote.example> relay=127.0.0.1\[127.0.0.1\]:$sport status=sent"
	for _ in $(seq 1 50); do q=$(pidof_kid qmgr); [ -n "$q" ] && [ "$q" != "$qmgr" ] && break; sleep 0.1; done
	[ "$q" != "$qmgr" ]
	# the new qmgr has nothing left to send: one copy at the sink
	posthorn -C "$PH_DIR" flush >/dev/null
	sleep 1
	kill "$server" 2>/dev/null || true
	[ "$(ls "$sink" | grep -c '^got\.')" -eq 1 ]
	grep -q "^Subject: far away" "$sink/got.1"
}

@test "queue hold: a message held while its delivery is in flight keeps the result; release sends nothing twice" {
	start_sink
	setconf relay_host "[127.0.0.1]:$sport"
	ph_start
	printf 'Subject: held in flight\n\nonce\n' | sm -f demo@example.test someone@remote.example
	for _ in $(seq 1 100); do [ -e "$sink/got.1" ] && break; sleep 0.1; done
	[ -e "$sink/got.1" ]
	q=$(qid_of "held in flight")
	run posthorn -C "$PH_DIR" queue hold "$q"
	assert_success
	touch "$sink/go"
	wait_log "$q: to=<someone@remote.example> relay=.* status=sent"
	wait_log "$q: put on hold during the attempt: result recorded"
	! grep -q "$q: removed" "$LOG"
	# the held copy records the recipient as done
	for _ in $(seq 1 50); do grep -q "^D22:someone@remote.example$" "$PH_DIR/queue/hold/$q" && break; sleep 0.1; done
	grep -q "^D22:someone@remote.example$" "$PH_DIR/queue/hold/$q"
	posthorn -C "$PH_DIR" queue release "$q"
	wait_queue_empty
	wait_log "$q: removed"
	kill "$server" 2>/dev/null || true
	[ "$(ls "$sink" | grep -c '^got\.')" -eq 1 ]
}

@test "reload and queue: usage and a stopped system are explained" {
	run posthorn -C "$PH_DIR" reload
	assert_failure 1
	assert_output --partial "reload: posthorn is not running"
	run posthorn -C "$PH_DIR" reload now
	assert_failure 2
	run posthorn -C "$PH_DIR" queue hold
	assert_failure 2
	assert_output --partial "usage: posthorn queue [list] | show ID | delete ID | hold ID | release ID | flush"
	run posthorn -C "$PH_DIR" queue hold ../etc
	assert_failure 1
	assert_output --partial '"../etc" is not a queue id'
	run posthorn -C "$PH_DIR" queue flush
	assert_failure 1
	assert_output --partial "qmgr is not running"
}
