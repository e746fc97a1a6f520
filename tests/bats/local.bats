#!/usr/bin/env bats
# local.bats: local delivery into Maildirs.  The first group drives
# libexec/local directly as qmgr does (tests/bats/localreq.py: socketpair,
# queue file passed by SCM_RIGHTS) and checks its replies and the Maildirs;
# the last group runs a whole instance (SMTP in, Maildir out).

load helper

LR="$BATS_TEST_DIRNAME/localreq.py"
ARRIVAL=1700000000
QID=65A1B2C3D4E5F6
HEAD_DEMO="Return-Path: <sender@example.org>
Delivered-To: demo@example.test"

lr() { python3 "$LR" "$@"; }
md() { echo "$D/mail/example.test/$1"; }
# deliver [args...]: one run of local on the message in $D/msg
deliver() { lr deliver "$D" --msg "$D/msg" --arrival "$ARRIVAL" --qid "$QID" "$@"; }
nfiles() { ls -1 "$1" 2>/dev/null | wc -l; }
# the Maildir name local gives $QID's recipient $1 (index) of size $2
qname() { echo "$ARRIVAL.Q${QID}X$1.mx.example.test,S=$2"; }

setup() {
	[ -x "$PH_ROOT/libexec/local" ] || skip "libexec/local not built"
	D=$(mktemp -d "${TMPDIR:-/tmp}/posthorn-local.XXXXXX")
	lr setup "$D" \
		demo@example.test=example.test/demo/:0 \
		alice@example.test=example.test/alice/:0 \
		bob@example.test=example.test/bob/:0 \
		small@example.test=example.test/small/:200 \
		evil@example.test=../../etc/:0
	printf 'From: someone@example.org\nSubject: test\n\nbody line\n' >"$D/msg"
}

teardown() {
	local bad=0
	# sanitizer (SAN=1) and valgrind reports from local end up in its log
	if [ -n "${D:-}" ] && grep -E "Sanitizer|runtime error|==[0-9]+==" "$D/log/local.log" 2>/dev/null; then
		bad=1
	fi
	[ -n "${D:-}" ] && rm -rf "$D"
	ph_teardown
	return $bad
}

@test "local: delivery lands in new/ with Return-Path and Delivered-To, byte for byte" {
	run deliver --to demo@example.test
	assert_success
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	assert_line --index 1 "exit 0"
	[ "$(nfiles "$(md demo)/new")" -eq 1 ]
	[ "$(nfiles "$(md demo)/tmp")" -eq 0 ]
	[ -d "$(md demo)/cur" ]
	f=$(ls "$(md demo)"/new/*)
	[ "$(head -2 "$f")" = "$HEAD_DEMO" ]
	tail -n +3 "$f" | cmp - "$D/msg"
	size=$(stat -c %s "$f")
	[ "$(basename "$f")" = "$(qname 0 "$size")" ]
	[ "$(stat -c %a "$(md demo)")" = 700 ]
	grep -q "$QID: to=<demo@example.test> status=sent maildir=$(qname 0 "$size")" "$D/log/local.log"
}

@test "local: null sender gives Return-Path: <>" {
	run deliver --from "" --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	[ "$(head -1 "$(md demo)"/new/*)" = "Return-Path: <>" ]
}

@test "local: 8-bit and large messages are copied intact" {
	python3 -c '
import sys
body = b"".join(b"line %d \xc3\xa4\xc3\xb6 \xff\x80\n" % i for i in range(250000))
sys.stdout.buffer.write(b"Subject: \xe2\x82\xac big\n\n" + body)' >"$D/msg"
	[ "$(stat -c %s "$D/msg")" -gt 4000000 ]
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	tail -n +3 "$(md demo)"/new/* | cmp - "$D/msg"
}

@test "local: an alias expanded to two users delivers one copy to each" {
	run deliver --to alice@example.test --to bob@example.test
	assert_success
	assert_line "1 2 2.0.0 delivered to maildir"
	assert_line "2 2 2.0.0 delivered to maildir"
	[ "$(nfiles "$(md alice)/new")" -eq 1 ]
	[ "$(nfiles "$(md bob)/new")" -eq 1 ]
	grep -q "^Delivered-To: alice@example.test$" "$(md alice)"/new/*
	grep -q "^Delivered-To: bob@example.test$" "$(md bob)"/new/*
}

@test "local: +extension falls back to the base user, Delivered-To keeps it" {
	run deliver --to demo+lists@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	grep -q "^Delivered-To: demo+lists@example.test$" "$(md demo)"/new/*
}

@test "local: unknown user is a permanent 5.1.1" {
	run deliver --to nosuch@example.test
	assert_line --index 0 "1 5 5.1.1 user unknown"
	assert_line --index 1 "exit 0"
	run ls "$D/mail/example.test"
	refute_output --partial nosuch
}

@test "local: a mail loop (our Delivered-To already there) bounces with 5.4.6" {
	printf 'Delivered-To: other@example.test\nSubject: fine\n\nbody\n' >"$D/msg"
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	printf 'Received: by x\nDELIVERED-TO:  <Demo@Example.Test>\nSubject: loop\n\nbody\n' >"$D/msg"
	run deliver --qid 65A1B2C3D4E5F7 --to demo@example.test
	assert_line --index 0 --regexp "^1 5 5\.4\.6 mail loop"
	[ "$(nfiles "$(md demo)/new")" -eq 1 ]
	# in the body it is not a header: delivered
	printf 'Subject: quoted\n\nDelivered-To: demo@example.test\n' >"$D/msg"
	run deliver --qid 65A1B2C3D4E5F8 --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
}

@test "local: over quota defers with 4.2.2, under quota delivers and counts" {
	run deliver --to small@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	size=$(stat -c %s "$(md small)"/new/*)
	[ "$(cat "$(md small)/maildirsize")" = "200S
0 0
$size 1" ]
	# a second copy of the same size no longer fits in 200 bytes
	run deliver --qid 65A1B2C3D4E5F7 --to small@example.test
	assert_line --index 0 "1 4 4.2.2 mailbox full"
	[ "$(nfiles "$(md small)/new")" -eq 1 ]
	[ "$(nfiles "$(md small)/tmp")" -eq 0 ]
	grep -q "to=<small@example.test> status=deferred (4.2.2 mailbox full" "$D/log/local.log"
	# the user reads and deletes the mail: a recalculation finds room
	rm "$(md small)"/new/* "$(md small)/maildirsize"
	run deliver --qid 65A1B2C3D4E5F7 --to small@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
}

@test "local: an unwritable Maildir defers; delivered once when fixed" {
	run deliver --to demo@example.test --qid 65A1B2C3D4E5F0
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	chmod 500 "$(md demo)/new"
	run deliver --to demo@example.test
	assert_line --index 0 --regexp "^1 4 4\.2\.0 .*Permission denied"
	grep -q "to=<demo@example.test> status=deferred (4.2.0" "$D/log/local.log"
	[ "$(nfiles "$(md demo)/tmp")" -eq 0 ]
	chmod 700 "$(md demo)/new"
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	[ "$(nfiles "$(md demo)/new")" -eq 2 ]
}

@test "local: a repeated request (after a crash) does not deliver twice" {
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir (by an earlier attempt)"
	[ "$(nfiles "$(md demo)/new")" -eq 1 ]
	# also when a reader has moved it to cur/ meanwhile
	f=$(ls "$(md demo)/new")
	mv "$(md demo)/new/$f" "$(md demo)/cur/$f:2,S"
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir (by an earlier attempt)"
	[ "$(nfiles "$(md demo)/new")" -eq 0 ]
}

@test "local: a delivery process that dies still gets its request answered" {
	run deliver --to demo@example.test --qid 65A1B2C3D4E5F0
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	# a FIFO where the message will be written makes the child wait: kill it
	size=$(( $(printf '%s\n' "$HEAD_DEMO" | wc -c) + $(stat -c %s "$D/msg") ))
	mkfifo -m 666 "$(md demo)/tmp/$(qname 0 $size)"
	run deliver --to demo@example.test --kill-child
	assert_line --index 0 "1 4 4.3.0 delivery process killed by signal 9"
	assert_line --index 1 "exit 0"
	rm "$(md demo)/tmp/$(qname 0 $size)"
	run deliver --to demo@example.test
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	[ "$(nfiles "$(md demo)/new")" -eq 2 ]
}

@test "local: every malformed request gets a 4.3.0 answer and local goes on" {
	for kind in nofd garbage missing toolong range dup notfile crlf; do
		run deliver --to demo@example.test --bad "$kind"
		echo "$kind: $output"
		assert_line --index 0 --regexp "^(1|\?) 4 4\.3\.0 malformed delivery request: "
		assert_line --index 1 "exit 0"
	done
	[ "$(nfiles "$(md demo)/new")" -eq 0 ]
	grep -q "malformed delivery request: no queue file descriptor" "$D/log/local.log"
	grep -q "malformed delivery request: request packet too long" "$D/log/local.log"
	grep -q "malformed delivery request: message range outside the queue file" "$D/log/local.log"
	# an extra descriptor is closed, the request itself is fine
	run deliver --to demo@example.test --bad ctlbad
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
}

@test "local: more requests than local_concurrency are all answered" {
	args=()
	for i in $(seq 1 25); do args+=(--to "demo+$i@example.test"); done
	run deliver "${args[@]}"
	assert_success
	[ "$(echo "$output" | grep -c " 2 2.0.0 delivered to maildir$")" -eq 25 ]
	assert_line --index 25 "exit 0"
	[ "$(nfiles "$(md demo)/new")" -eq 25 ]
	[ "$(grep -c "^Delivered-To: demo+" "$(md demo)"/new/*| grep -c ':1$')" -eq 25 ]
}

@test "local: SIGTERM makes local finish and exit 0" {
	run deliver --to demo@example.test --term
	assert_line --index 0 "1 2 2.0.0 delivered to maildir"
	assert_line --index 1 "exit 0"
}

@test "local: missing mail_dir and a mailbox outside it are temporary errors" {
	run deliver --to evil@example.test
	assert_line --index 0 "1 4 4.3.5 bad mailbox in the users table"
	rm -rf "$D/mail"
	run deliver --to demo@example.test
	assert_line --index 0 --regexp "^1 4 4\.3\.5 mail_dir .* is missing"
	[ ! -e "$D/mail" ]
}

@test "local: without its qmgr socket or with bad arguments it refuses to run" {
	run "$PH_ROOT/libexec/local" -c "$D/etc/posthorn.conf" 3</dev/null
	assert_failure 111
	assert_output --partial "not a SOCK_SEQPACKET socket"
	run "$PH_ROOT/libexec/local" -c "$D/etc/nosuch.conf"
	assert_failure 111
	run "$PH_ROOT/libexec/local" -x
	assert_failure 2
}

# ---- whole instance: smtpd -> enqueue -> qmgr -> local ----

e2e_setup() {
	[ -x "$PH_BIN/posthorn" ] || skip "bin/posthorn not built"
	for p in master smtpd enqueue qmgr; do
		[ -x "$PH_ROOT/libexec/$p" ] || skip "libexec/$p not built"
	done
	rm -rf "$D"
	D=""
	ph_instance
	ph_start
}

@test "local e2e: swaks mail lands with Return-Path and Delivered-To" {
	e2e_setup
	run swaks --server 127.0.0.1:"$PH_SMTP" --from sender@example.org --to demo@example.test \
		--header "Subject: e2e" --body "hello from swaks"
	assert_success
	ph_wait_count "$(ph_maildir demo)/new" 1
	f=$(ls "$(ph_maildir demo)"/new/*)
	[ "$(head -1 "$f")" = "Return-Path: <sender@example.org>" ]
	[ "$(sed -n 2p "$f")" = "Delivered-To: demo@example.test" ]
	grep -q "hello from swaks" "$f"
}

@test "local e2e: a mail loop bounces to the sender" {
	e2e_setup
	echo demo | posthorn -C "$PH_DIR" user add other@example.test >/dev/null
	run swaks --server 127.0.0.1:"$PH_SMTP" --from other@example.test --to demo@example.test \
		--add-header "Delivered-To: demo@example.test" --header "Subject: looping"
	assert_success
	ph_wait_count "$(ph_maildir other)/new" 1
	grep -q "5.4.6" "$(ph_maildir other)"/new/*
	[ "$(ls "$(ph_maildir demo)/new" 2>/dev/null | wc -l)" -eq 0 ]
}

# wait_log PATTERN: waits (up to 30 s) for an extended regexp in the log
wait_log() {
	for _ in $(seq 1 300); do
		grep -Eq "$1" "$PH_DIR/log/posthorn.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no \"$1\" in posthorn.log" >&2
	return 1
}

@test "local e2e: over quota defers with 4.2.2 and the message stays queued" {
	e2e_setup
	echo pw | posthorn -C "$PH_DIR" user add small@example.test --quota 100 >/dev/null
	run swaks --server 127.0.0.1:"$PH_SMTP" --from sender@example.org --to small@example.test \
		--header "Subject: too big for the quota"
	assert_success
	wait_log "to=<small@example.test> status=deferred \\(4\.2\.2 mailbox full"
	[ "$(ls "$(ph_maildir small)/new" 2>/dev/null | wc -l)" -eq 0 ]
	run posthorn -C "$PH_DIR" queue list
	assert_output --partial "small@example.test"
}

@test "local e2e: an unwritable Maildir defers; flush delivers once it is fixed" {
	e2e_setup
	mkdir -p "$(ph_maildir demo)/new"	# normally made by user add
	chmod 500 "$(ph_maildir demo)/new"
	run swaks --server 127.0.0.1:"$PH_SMTP" --from sender@example.org --to demo@example.test \
		--header "Subject: retry me"
	assert_success
	wait_log "to=<demo@example.test> status=deferred \\(4\.2\.0 .*Permission denied"
	chmod 700 "$(ph_maildir demo)/new"
	posthorn -C "$PH_DIR" flush
	ph_wait_count "$(ph_maildir demo)/new" 1
	grep -q "Subject: retry me" "$(ph_maildir demo)"/new/*
	wait_log "to=<demo@example.test> status=sent maildir="
	[ "$(ls "$(ph_maildir demo)/new" | wc -l)" -eq 1 ]
}
