#!/usr/bin/env bats
# queue_remote: qmgr's routing of non-local recipients and its DSNs
# (issue 4).  The real qmgr and enqueue run; tests/bats/remotereq.py stands
# in for master, local and remote on SOCK_SEQPACKET socketpairs (fd 3, fd 4)
# and logs every remote request to log/remote.req.  Reports to the local
# sender land in pylocal/bob@example.test.N.

load helper

RR="$BATS_TEST_DIRNAME/remotereq.py"

setup() {
	ph_instance
	HARNESS=
}

teardown() {
	[ -n "$HARNESS" ] && kill "$HARNESS" 2>/dev/null && wait "$HARNESS" 2>/dev/null
	ph_teardown
}

conf() { printf '%s\n' "$@" >>"$PH_DIR/etc/posthorn.conf"; }
rules() { printf '%s\n' "$@" >"$PH_DIR/etc/remote.rules"; }

run_qmgr() {
	python3 "$RR" run "$PH_DIR" &
	HARNESS=$!
	wait_log "started"
}

inject() { python3 "$RR" inject "$PH_DIR" "$@" | tail -1 | sed -n 's/^ok //p'; }

wait_log() {	# wait_log PATTERN: until qmgr's log has it
	for _ in $(seq 1 150); do
		grep -q -- "$1" "$PH_DIR/log/qmgr.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "not in qmgr.log: $1" >&2
	cat "$PH_DIR/log/qmgr.log" >&2
	return 1
}

reports() { ls "$PH_DIR/pylocal" 2>/dev/null | grep -c '^bob@example.test\.' || true; }
report() { cat "$PH_DIR"/pylocal/bob@example.test.*; }

@test "routing: one request per next hop (domain, transport table, relay_host), local domains stay local" {
	printf 'routed.test smtp:[127.0.0.1]:2525\nhere.test local\n' >"$PH_DIR/etc/transport"
	posthorn -C "$PH_DIR" makemap
	run_qmgr
	qid=$(inject --to a@far.test --to b@FAR.test --to c@other.test --to d@routed.test \
		--to e@here.test --to demo@example.test)
	[ -n "$qid" ]
	wait_log "$qid: removed"
	run cat "$PH_DIR/log/remote.req"
	assert_line --partial "H=far.test A= 0:a@far.test:: 1:b@far.test::"
	assert_line --partial "H=other.test A= 2:c@other.test::"
	assert_line --partial "H=[127.0.0.1]:2525 A= 3:d@routed.test::"
	[ "${#lines[@]}" -eq 3 ]
	[ -f "$PH_DIR/pylocal/e@here.test.1" ] || [ -f "$PH_DIR/pylocal/e@here.test.2" ]
	ls "$PH_DIR/pylocal" | grep -q '^demo@example.test\.'
	# relay_host takes every domain without a transport entry
	kill "$HARNESS"; wait "$HARNESS" || true
	conf "relay_host = [127.0.0.1]:2626"
	: >"$PH_DIR/log/remote.req"
	run_qmgr
	qid=$(inject --to x@far.test --to y@routed.test)
	wait_log "$qid: removed"
	run cat "$PH_DIR/log/remote.req"
	assert_line --partial "H=[127.0.0.1]:2626 A= 0:x@far.test::"
	assert_line --partial "H=[127.0.0.1]:2525 A= 1:y@routed.test::"
}

@test "routing: remote_rcpt_limit splits one destination into several requests, each recipient once" {
	conf "remote_rcpt_limit = 2"
	run_qmgr
	qid=$(inject --to 1@far.test --to 2@far.test --to 3@far.test --to 4@far.test --to 5@far.test)
	wait_log "$qid: removed"
	run cat "$PH_DIR/log/remote.req"
	[ "${#lines[@]}" -eq 3 ]
	for n in 1 2 3 4 5; do
		[ "$(grep -o ":$n@far.test:" "$PH_DIR/log/remote.req" | wc -l)" -eq 1 ]
	done
}

@test "bounce: a 5xx from the remote server reaches the sender with the reply and Remote-MTA; the others are delivered once" {
	rules "nobody@ 5 5.1.1 550 5.1.1 <nobody@far.test>: no such user here"
	run_qmgr
	qid=$(inject --to ok@far.test --to nobody@far.test)
	wait_log "$qid: removed"
	[ "$(reports)" -eq 1 ]
	run report
	assert_line "Subject: Undelivered Mail Returned to Sender"
	assert_line "Final-Recipient: rfc822; nobody@far.test"
	assert_line "Action: failed"
	assert_line "Status: 5.1.1"
	assert_line "Remote-MTA: dns; mx.far.test[127.0.0.1]"
	assert_line "Diagnostic-Code: smtp; 5.1.1 550 5.1.1 <nobody@far.test>: no such user here"
	refute_line --partial "Final-Recipient: rfc822; ok@far.test"
	[ "$(grep -c 'ok@far.test' "$PH_DIR/log/remote.req")" -eq 1 ]
	grep -q "to=<ok@far.test> status=sent" "$PH_DIR/log/qmgr.log"
}

@test "backoff: a dead destination is deferred as a whole (mailq shows why) while others flow; flush retries it" {
	conf "retry_min = 10m"
	rules "@dead.test down 4.4.1 connection refused by all MX hosts of dead.test"
	run_qmgr
	q1=$(inject --to a@dead.test)
	wait_log "$q1: to=<a@dead.test> status=deferred"
	wait_log "next hop dead.test backed off"
	q2=$(inject --to b@dead.test --to c@live.test)
	wait_log "$q2: to=<c@live.test> status=sent"
	wait_log "$q2: to=<b@dead.test> status=deferred"
	# the second message to dead.test made no request: the hop is backed off
	[ "$(grep -c '^H=dead.test' "$PH_DIR/log/remote.req")" -eq 1 ]
	run "$PH_BIN/mailq" -c "$PH_DIR/etc/posthorn.conf"
	assert_output --partial "4.4.1 connection refused by all MX hosts of dead.test"
	assert_output --partial "dead.test is backed off after"
	rules ""
	run posthorn -C "$PH_DIR" flush
	assert_success
	wait_log "$q1: removed"
	wait_log "$q2: removed"
	[ "$(grep -c '^H=dead.test' "$PH_DIR/log/remote.req")" -ge 2 ]
	[ "$(reports)" -eq 0 ]
}

@test "DSN: NOTIFY, ORCPT, RET and ENVID go to remote; NOTIFY=NEVER gets no bounce, SUCCESS gets a success report" {
	rules "never@ 5 5.7.1 550 5.7.1 refused" "fail@ 5 5.7.1 550 5.7.1 refused"
	run_qmgr
	qid=$(inject --ret HDRS --envid 'env id 42' --to 'never@far.test,NEVER' \
		--to 'yes@far.test,SUCCESS+FAILURE,rfc822;Orig@far.test' --to fail@far.test)
	wait_log "$qid: removed"
	run cat "$PH_DIR/log/remote.req"
	assert_output --partial "A=ret=HDRS,envid=env id 42"
	assert_output --partial "0:never@far.test::NEVER"
	assert_output --partial "1:yes@far.test:rfc822;Orig@far.test:SUCCESS,FAILURE"
	assert_output --partial "2:fail@far.test::"
	grep -q "to=<never@far.test> status=bounced notify=no-report (" "$PH_DIR/log/qmgr.log"
	[ "$(reports)" -eq 1 ]
	run report
	assert_line "Subject: Undelivered Mail Returned to Sender"
	assert_line "Original-Envelope-Id: env id 42"
	assert_line "Final-Recipient: rfc822; fail@far.test"
	assert_line "Final-Recipient: rfc822; yes@far.test"
	assert_line "Original-Recipient: rfc822;Orig@far.test"
	assert_line "Action: relayed"
	assert_line "Content-Type: text/rfc822-headers"
	refute_line --partial "never@far.test"
	# only successes: a success report
	rm -f "$PH_DIR"/pylocal/bob@*
	qid=$(inject --to 'ok@far.test,SUCCESS' --to plain@far.test)
	wait_log "$qid: removed"
	[ "$(reports)" -eq 1 ]
	run report
	assert_line "Subject: Successful Mail Delivery Report"
	assert_line "Final-Recipient: rfc822; ok@far.test"
	refute_line --partial "plain@far.test"
}

@test "DSN: one delay notice after delay_warning, only where NOTIFY allows; none for the null sender" {
	conf "delay_warning = 1s" "retry_min = 1s" "retry_max = 2s"
	rules "slow@ 4 4.2.1 451 4.2.1 try later" "quiet@ 4 4.2.1 451 4.2.1 try later"
	run_qmgr
	qid=$(inject --to slow@far.test --to 'quiet@far.test,FAILURE')
	wait_log "$qid: delay notice to <bob@example.test> queued"
	# more attempts come, but no second notice
	n=$(grep -c "^H=far.test" "$PH_DIR/log/remote.req")
	for _ in $(seq 1 100); do
		[ "$(grep -c '^H=far.test' "$PH_DIR/log/remote.req")" -ge $((n + 2)) ] && break
		sleep 0.1
	done
	[ "$(grep -c '^H=far.test' "$PH_DIR/log/remote.req")" -ge $((n + 2)) ]
	[ "$(grep -c "$qid: delay notice" "$PH_DIR/log/qmgr.log")" -eq 1 ]
	[ -e "$PH_DIR/queue/defer/$qid.delayed" ]
	[ "$(reports)" -eq 1 ]
	run report
	assert_line "Subject: Delayed Mail (still being retried)"
	assert_line "Action: delayed"
	assert_line "Final-Recipient: rfc822; slow@far.test"
	refute_line --partial "quiet@far.test"
	q2=$(inject --from '' --to slow@other.test)
	wait_log "$q2: to=<slow@other.test> status=deferred"
	sleep 1.5
	run posthorn -C "$PH_DIR" flush
	wait_log "$q2: to=<slow@other.test> status=deferred"
	! grep -q "$q2: delay notice" "$PH_DIR/log/qmgr.log"
}

@test "enqueue: malformed DSN records are refused" {
	run python3 "$RR" inject "$PH_DIR" --to 'a@far.test,NEVER+SUCCESS'
	assert_failure
	assert_output --partial "5.5.4 bad DSN NOTIFY value"
	run python3 "$RR" inject "$PH_DIR" --to 'a@far.test,SUCCESS+SUCCESS'
	assert_failure
	run python3 "$RR" inject "$PH_DIR" --to 'a@far.test,success'
	assert_failure
	run python3 "$RR" inject "$PH_DIR" --ret NONE --to a@far.test
	assert_failure
	assert_output --partial "5.5.4 bad DSN RET value"
	run python3 "$RR" inject "$PH_DIR" --envid "$(printf 'x%.0s' $(seq 101))" --to a@far.test
	assert_failure
	assert_output --partial "5.5.4 bad DSN ENVID value"
	run python3 "$RR" inject "$PH_DIR" --to 'a@far.test,DELAY+FAILURE,rfc822;o@far.test'
	assert_success
}

@test "end to end: smtpd takes RET, ENVID, NOTIFY and ORCPT; NOTIFY=SUCCESS brings a success report with them" {
	ph_start
	run python3 - "$PH_SMTP" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("client.test")
assert s.has_extn("dsn")
msg = b"Subject: dsn e2e\r\nMessage-ID: <e2e@example.test>\r\n\r\nhello\r\n"
s.sendmail("demo@example.test", ["demo@example.test"], msg,
           mail_options=["RET=HDRS", "ENVID=e2e+2Bid"],
           rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Demo+2Bx@example.test"])
code, text = s.docmd("MAIL FROM:<demo@example.test> RET=ALL")
print(code, text.decode())
code, text = s.docmd("MAIL FROM:<demo@example.test> ENVID=a+4")
print(code, text.decode())
s.docmd("MAIL FROM:<demo@example.test>")
code, text = s.docmd("RCPT TO:<demo@example.test> NOTIFY=NEVER,DELAY")
print(code, text.decode())
code, text = s.docmd("RCPT TO:<demo@example.test> ORCPT=demo@example.test")
print(code, text.decode())
s.quit()
PY
	assert_success
	assert_line "501 5.5.4 Error: bad RET parameter"
	assert_line "501 5.5.4 Error: bad ENVID parameter"
	assert_line "501 5.5.4 Error: bad NOTIFY parameter"
	assert_line "501 5.5.4 Error: bad ORCPT parameter"
	ph_wait_count "$(ph_maildir demo)/new" 2
	run sh -c "cat '$(ph_maildir demo)'/new/*"
	assert_line "Subject: Successful Mail Delivery Report"
	assert_line "Original-Envelope-Id: e2e+id"
	assert_line "Original-Recipient: rfc822;Demo+x@example.test"
	assert_line "Action: delivered"
	assert_line "Status: 2.0.0"
	assert_line "Content-Type: text/rfc822-headers"
}
