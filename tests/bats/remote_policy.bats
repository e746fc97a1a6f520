#!/usr/bin/env bats
# remote_policy.bats: the remote delivery features remote.bats leaves out:
# the tls-policy table (none, encrypt, verify), SIZE, SMTPUTF8 and DSN
# parameters passed on to the next hop.  Three real posthorn instances and
# a real DNS server (dnsmasq) on loopback; root only (port 25, the users).
#   A  127.0.0.1 (a port base): the sender side, relays for 127.0.0.1
#   B  127.0.0.13:25, hostname mx.b.test, STARTTLS, SMTPUTF8, DSN;
#      domains b.test enc.test ver.test none.test; its mail for a.test
#      goes to A through the transport table
#   C  127.0.0.14:25, no TLS key (no STARTTLS), max_message_size 10k,
#      smtputf8 = no; domains c.test small.test
# Every domain's MX is mx.b.test or mx.c.test (dnsmasq --local=/test/).
# Different addresses from remote.bats (127.0.0.3) so both may run at once.
load helper

dns_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# init_peer DIR DOMAIN IP: a port-25 instance resolving through dnsmasq
init_peer() {
	posthorn init "$1" --domain "$2" --hostname "mx.$2" --listen "$3" --port-base 0 >/dev/null
	printf 'dns_resolver = 127.0.0.1:%s\nsmtp_connect_timeout = 5s\n' "$RP_DNS" >>"$1/etc/posthorn.conf"
}

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	for ip in 127.0.0.13 127.0.0.14; do
		python3 -c "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$ip',25))" 2>/dev/null || return 0
	done
	RP_TOP=$(mktemp -d /tmp/posthorn-test.XXXXXX)
	chmod 755 "$RP_TOP"
	export RP_TOP RP_A=$RP_TOP/a RP_B=$RP_TOP/b RP_C=$RP_TOP/c
	RP_DNS=$(dns_port)
	RP_BASE=$(ph_free_base)
	export RP_DNS RP_BASE RP_SMTP=$((RP_BASE + 25))
	local mx=()
	for d in b.test enc.test ver.test none.test; do mx+=(--mx-host=$d,mx.b.test,10); done
	for d in c.test small.test; do mx+=(--mx-host=$d,mx.c.test,10); done
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --port="$RP_DNS" \
		--listen-address=127.0.0.1 --bind-interfaces --pid-file= --log-facility=- \
		--host-record=mx.b.test,127.0.0.13 --host-record=mx.c.test,127.0.0.14 \
		"${mx[@]}" --local=/test/ >"$RP_TOP/dnsmasq.log" 2>&1 &
	echo $! >"$RP_TOP/dnsmasq.pid"

	posthorn init "$RP_A" --domain a.test --hostname mx.a.test --listen 127.0.0.1 \
		--port-base "$RP_BASE" >/dev/null
	for u in demo s1 s2 s3 s4; do echo pw | posthorn -C "$RP_A" user add "$u@a.test" >/dev/null; done
	echo 127.0.0.1/32 >>"$RP_A/etc/relay-clients"
	printf 'dns_resolver = 127.0.0.1:%s\nsmtp_connect_timeout = 5s\n' "$RP_DNS" >>"$RP_A/etc/posthorn.conf"
	# verify starts with a CA that did not sign B's certificate (A's own)
	echo "smtp_tls_ca = $RP_A/etc/tls/ca.pem" >>"$RP_A/etc/posthorn.conf"
	printf 'enc.test encrypt\nver.test verify\nnone.test none\nc.test encrypt\n' >>"$RP_A/etc/tls-policy"
	posthorn -C "$RP_A" makemap >/dev/null

	init_peer "$RP_B" b.test 127.0.0.13
	printf 'enc.test\nver.test\nnone.test\n' >>"$RP_B/etc/domains"
	echo "a.test smtp:[127.0.0.1]:$RP_SMTP" >>"$RP_B/etc/transport"
	posthorn -C "$RP_B" makemap >/dev/null
	for d in b.test enc.test ver.test none.test; do
		echo pw | posthorn -C "$RP_B" user add "demo@$d" >/dev/null
	done

	init_peer "$RP_C" c.test 127.0.0.14
	mv "$RP_C/etc/tls/key.pem" "$RP_C/etc/tls/key.pem.away"
	printf 'max_message_size = 10k\nsmtputf8 = no\n' >>"$RP_C/etc/posthorn.conf"
	echo small.test >>"$RP_C/etc/domains"
	posthorn -C "$RP_C" makemap >/dev/null
	for d in c.test small.test; do
		echo pw | posthorn -C "$RP_C" user add "demo@$d" >/dev/null
	done

	posthorn -C "$RP_B" start >/dev/null
	posthorn -C "$RP_C" start >/dev/null
	posthorn -C "$RP_A" start >/dev/null
}

teardown_file() {
	[ -n "${RP_TOP:-}" ] || return 0
	for i in "$RP_A" "$RP_B" "$RP_C"; do posthorn -C "$i" stop >/dev/null 2>&1 || true; done
	[ -f "$RP_TOP/dnsmasq.pid" ] && kill "$(cat "$RP_TOP/dnsmasq.pid")" 2>/dev/null
	case "$RP_TOP" in /tmp/posthorn-test.?*) rm -rf "$RP_TOP" ;; esac
	return 0
}

setup() {
	[ -n "${RP_TOP:-}" ] || skip "needs root and 127.0.0.13:25, 127.0.0.14:25 free"
}

box() { echo "$1/mail/${3}/${2}/new"; }	# box INSTANCE USER DOMAIN

send() {	# send FROM TO BODY [swaks options...]
	local from=$1 to=$2 body=$3
	shift 3
	swaks --server "127.0.0.1:$RP_SMTP" --from "$from" --to "$to" --body "$body" \
		--h-Subject "policy test" "$@" >/dev/null
}

# wait_log FILE PATTERN: waits for a line matching PATTERN (grep -E)
wait_log() {
	local i
	for i in $(seq 1 300); do
		grep -Eq -- "$2" "$1" && return 0
		sleep 0.1
	done
	echo "no '$2' in $1" >&2
	tail -20 "$1" >&2
	return 1
}

alog() { echo "$RP_A/log/posthorn.log"; }

@test "tls-policy encrypt: B offers STARTTLS, delivered over TLS" {
	send x@a.test demo@enc.test "encrypt ok"
	ph_wait_count "$(box "$RP_B" demo enc.test)" 1
	run grep "to=<demo@enc.test> relay=mx.b.test\[127.0.0.13\]:25 status=sent" "$(alog)"
	assert_success
	assert_output --partial "tls=TLSv1."
	grep -q "using TLS" "$(box "$RP_B" demo enc.test)"/*
}

@test "tls-policy encrypt: a peer without STARTTLS defers 4.7.5, nothing sent in clear" {
	send s1@a.test demo@c.test "must not travel in clear"
	wait_log "$(alog)" "demo@c.test.*4\.7\.5"
	run "$PH_BIN/mailq" -c "$RP_A/etc/posthorn.conf"
	assert_output --partial "demo@c.test"
	assert_output --partial "4.7.5"
	# C saw a connection but no message
	[ "$(ls "$(box "$RP_C" demo c.test)" | wc -l)" = 0 ]
	run grep "from=<s1@a.test>" "$RP_C/log/posthorn.log"
	assert_failure
	# A said QUIT rather than dropping the connection
	run grep -E "lost connection|disconnect" "$RP_C/log/posthorn.log"
	assert_output --partial "helo=mx.a.test messages=0"
	refute_output --partial "lost connection"
}

@test "tls-policy verify: a CA that did not sign B's certificate defers, the right CA delivers" {
	send s2@a.test demo@ver.test "verified"
	wait_log "$(alog)" "demo@ver.test.*4\.7\.5"
	[ "$(ls "$(box "$RP_B" demo ver.test)" | wc -l)" = 0 ]
	run grep "from=<s2@a.test>" "$RP_B/log/posthorn.log"
	assert_failure
	posthorn -C "$RP_A" stop >/dev/null
	sed -i "s|^smtp_tls_ca = .*|smtp_tls_ca = $RP_B/etc/tls/ca.pem|" "$RP_A/etc/posthorn.conf"
	posthorn -C "$RP_A" start >/dev/null
	posthorn -C "$RP_A" flush >/dev/null
	ph_wait_count "$(box "$RP_B" demo ver.test)" 1
	run grep "to=<demo@ver.test> relay=mx.b.test\[127.0.0.13\]:25 status=sent" "$(alog)"
	assert_success
	assert_output --partial "tls=TLSv1."
}

@test "tls-policy none: delivered without TLS although B offers it" {
	send x@a.test demo@none.test "in clear on purpose"
	ph_wait_count "$(box "$RP_B" demo none.test)" 1
	run grep "to=<demo@none.test> relay=mx.b.test\[127.0.0.13\]:25 status=sent" "$(alog)"
	assert_success
	assert_output --partial "tls=none"
	f=$(ls -d "$(box "$RP_B" demo none.test)"/* | head -1)
	grep -q "in clear on purpose" "$f"
	run grep -c "using TLS" "$f"
	assert_output 0
}

@test "SIZE: a message bigger than the peer accepts bounces 5.3.4 without being sent" {
	big=$(python3 -c 'print(("x" * 76 + "\n") * 660, end="")')
	send s3@a.test demo@small.test "$big"
	ph_wait_count "$(box "$RP_A" s3 a.test)" 1
	run cat "$(box "$RP_A" s3 a.test)"/*
	assert_output --partial "demo@small.test"
	assert_output --partial "5.3.4"
	run grep -E "from=<s3@a.test>|DATA from" "$RP_C/log/posthorn.log"
	assert_failure
	[ "$(ls "$(box "$RP_C" demo small.test)" | wc -l)" = 0 ]
}

@test "SMTPUTF8: a peer without it gets a bounce 5.6.7, a peer with it the message" {
	cat >"$RP_TOP/utf8.py" <<'PY'
import smtplib, sys
port, sender, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("Subject: Gr\u00fc\u00dfe\r\nFrom: <%s>\r\nTo: <%s>\r\n\r\n"
       "utf8 body \u00e9\r\n" % (sender, rcpt)).encode()
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail(sender, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
PY
	python3 "$RP_TOP/utf8.py" "$RP_SMTP" s4@a.test demo@small.test
	ph_wait_count "$(box "$RP_A" s4 a.test)" 1
	run cat "$(box "$RP_A" s4 a.test)"/*
	assert_output --partial "demo@small.test"
	assert_output --partial "5.6.7"
	[ "$(ls "$(box "$RP_C" demo small.test)" | wc -l)" = 0 ]
	n=$(ls "$(box "$RP_B" demo b.test)" | wc -l)
	python3 "$RP_TOP/utf8.py" "$RP_SMTP" $'j\u00f6rg@a.test' demo@b.test
	ph_wait_count "$(box "$RP_B" demo b.test)" $((n + 1))
	f=$(ls -t "$(box "$RP_B" demo b.test)"/* | head -1)
	grep -q "utf8 body" "$f"
}

@test "DSN: NOTIFY, ORCPT, RET and ENVID reach B, whose success DSN comes back to A" {
	n=$(ls "$(box "$RP_A" demo a.test)" 2>/dev/null | wc -l)
	nb=$(ls "$(box "$RP_B" demo b.test)" | wc -l)
	python3 - "$RP_SMTP" <<'PY'
import smtplib, sys
msg = b"Subject: dsn passthrough\r\n\r\nsecret body text\r\n"
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("client.test")
    s.sendmail("demo@a.test", ["demo@b.test"], msg, mail_options=["RET=HDRS", "ENVID=abc"],
               rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;x@b.test"])
PY
	ph_wait_count "$(box "$RP_B" demo b.test)" $((nb + 1))
	f=""
	for _ in $(seq 1 300); do
		f=$(grep -l "Reporting-MTA: dns; mx.b.test" "$(box "$RP_A" demo a.test)"/* 2>/dev/null | head -1)
		[ -n "$f" ] && break
		sleep 0.1
	done
	[ -n "$f" ]
	run cat "$f"
	assert_output --regexp "Original-Envelope-Id: ?abc"
	assert_output --regexp "Action: ?delivered"
	assert_output --regexp "Original-Recipient: ?rfc822; ?x@b.test"
	refute_output --regexp "Action: ?relayed"
	refute_output --partial "secret body text"
}

@test "DSN: A issues no relayed report of its own when B took the NOTIFY request" {
	run grep -l "Action: relayed" "$(box "$RP_A" demo a.test)"/*
	assert_failure
}
