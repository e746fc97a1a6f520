#!/usr/bin/env bats
# remote.bats: delivery between two real posthorn instances through MX
# records served by a real DNS server (dnsmasq) on loopback.  Instance A
# (127.0.0.1, a port base) relays for 127.0.0.1 and resolves through
# dnsmasq (dns_resolver); instance B listens on 127.0.0.3 port 25, where
# MX delivery goes.  Root only (port 25, the service users).
#   b.test     MX 10 mx.b.test (127.0.0.3)
#   fall.test  MX 10 mx1.fall.test (127.0.0.9: nobody), MX 20 mx.b.test
#   amx.test   no MX, A 127.0.0.3 (implicit MX)
#   null.test  null MX (RFC 7505);  nx.test: NXDOMAIN (--local: .test is answered
#              from these records only, as an authoritative server would)
#   slow.test  MX 10 127.0.0.6 (a listener that never speaks), MX 20 mx.b.test
load helper

dns_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	python3 -c 'import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.3",25))' 2>/dev/null || return 0
	RT_TOP=$(mktemp -d /tmp/posthorn-test.XXXXXX)
	chmod 755 "$RT_TOP"
	export RT_TOP RT_A=$RT_TOP/a RT_B=$RT_TOP/b
	RT_DNS=$(dns_port)
	RT_BASE=$(ph_free_base)
	export RT_DNS RT_BASE RT_SMTP=$((RT_BASE + 25))
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --port="$RT_DNS" \
		--listen-address=127.0.0.1 --bind-interfaces --pid-file= --log-facility=- \
		--mx-host=b.test,mx.b.test,10 --host-record=mx.b.test,127.0.0.3 \
		--mx-host=fall.test,mx1.fall.test,10 --mx-host=fall.test,mx.b.test,20 \
		--host-record=mx1.fall.test,127.0.0.9 \
		--host-record=amx.test,127.0.0.3 \
		--dns-rr=null.test,15,000000 --local=/test/ \
		--mx-host=slow.test,mx.slow.test,10 --mx-host=slow.test,mx.b.test,20 \
		--host-record=mx.slow.test,127.0.0.6 \
		>"$RT_TOP/dnsmasq.log" 2>&1 &
	echo $! >"$RT_TOP/dnsmasq.pid"
	posthorn init "$RT_A" --domain a.test --hostname mx.a.test --listen 127.0.0.1 \
		--port-base "$RT_BASE" >/dev/null
	echo demo | posthorn -C "$RT_A" user add demo@a.test >/dev/null
	echo 127.0.0.1/32 >>"$RT_A/etc/relay-clients"
	printf 'dns_resolver = 127.0.0.1:%s\nsmtp_connect_timeout = 5s\n' "$RT_DNS" >>"$RT_A/etc/posthorn.conf"
	posthorn init "$RT_B" --domain b.test --hostname mx.b.test --listen 127.0.0.3 \
		--port-base 0 >/dev/null
	printf 'fall.test\namx.test\nslow.test\n' >>"$RT_B/etc/domains"
	posthorn -C "$RT_B" makemap >/dev/null
	for d in b.test fall.test amx.test slow.test; do
		echo demo | posthorn -C "$RT_B" user add "demo@$d" >/dev/null
	done
	echo pw | posthorn -C "$RT_B" user add other@b.test >/dev/null
	posthorn -C "$RT_B" start >/dev/null
	posthorn -C "$RT_A" start >/dev/null
}

teardown_file() {
	[ -n "${RT_TOP:-}" ] || return 0
	posthorn -C "$RT_A" stop >/dev/null 2>&1 || true
	posthorn -C "$RT_B" stop >/dev/null 2>&1 || true
	[ -f "$RT_TOP/dnsmasq.pid" ] && kill "$(cat "$RT_TOP/dnsmasq.pid")" 2>/dev/null
	[ -f "$RT_TOP/tarpit.pid" ] && kill "$(cat "$RT_TOP/tarpit.pid")" 2>/dev/null
	case "$RT_TOP" in /tmp/posthorn-test.?*) rm -rf "$RT_TOP" ;; esac
	return 0
}

setup() {
	[ -n "${RT_TOP:-}" ] || skip "needs root and 127.0.0.3:25 free"
}

box() { echo "$RT_B/mail/$2/$1/new"; }

send() {	# send FROM BODY TO...
	local from=$1 body=$2
	shift 2
	local to
	to=$(IFS=,; echo "$*")
	swaks --server "127.0.0.1:$RT_SMTP" --from "$from" --to "$to" --body "$body" \
		--h-Subject "remote test" >/dev/null
}

# waits for a line matching PATTERN in A's log
wait_log() {
	local i
	for i in $(seq 1 300); do
		grep -q -- "$1" "$RT_A/log/posthorn.log" && return 0
		sleep 0.1
	done
	echo "no '$1' in A's log" >&2
	tail -20 "$RT_A/log/posthorn.log" >&2
	return 1
}

@test "mail for B arrives over STARTTLS through B's MX with both Received: headers" {
	send x@a.test "first hop test" demo@b.test
	ph_wait_count "$(box demo b.test)" 1
	f=$(ls -d "$(box demo b.test)"/* | head -1)
	[ "$(grep -c '^Received:' "$f")" -ge 2 ]
	grep -q "first hop test" "$f"
	run grep "to=<demo@b.test> relay=mx.b.test\[127.0.0.3\]:25 status=sent" "$RT_A/log/posthorn.log"
	assert_success
	assert_output --partial "tls=TLSv1."
	# remote runs as its own user
	run ps -o user= -C remote
	assert_output --partial posthorn-remote
	refute_output --partial root
}

@test "B refuses one recipient: the sender gets a DSN naming it, the other is delivered once" {
	n=$(ls "$(box other b.test)" 2>/dev/null | wc -l)
	send demo@a.test "partly refused" other@b.test nosuchuser@b.test
	ph_wait_count "$(box other b.test)" $((n + 1))
	ph_wait_count "$RT_A/mail/a.test/demo/new" 1
	run cat "$RT_A"/mail/a.test/demo/new/*
	assert_output --partial "nosuchuser@b.test"
	assert_output --partial "5.1.1"
	refute_output --partial "Final-Recipient: rfc822; other@b.test"
	sleep 1
	[ "$(grep -l "partly refused" "$(box other b.test)"/* | wc -l)" = 1 ]
}

@test "MX preference order, and fall-through to the second MX when the first is down" {
	send x@a.test "fall through" demo@fall.test
	ph_wait_count "$(box demo fall.test)" 1
	run grep -n "fall.test\|mx1.fall.test" "$RT_A/log/posthorn.log"
	first=$(grep -n "connect to mx1.fall.test\[127.0.0.9\]:25" "$RT_A/log/posthorn.log" | head -1 | cut -d: -f1)
	sent=$(grep -n "to=<demo@fall.test> relay=mx.b.test\[127.0.0.3\]:25 status=sent" "$RT_A/log/posthorn.log" | head -1 | cut -d: -f1)
	[ -n "$first" ] && [ -n "$sent" ] && [ "$first" -lt "$sent" ]
}

@test "no MX: the domain's own A record is used" {
	send x@a.test "implicit mx" demo@amx.test
	ph_wait_count "$(box demo amx.test)" 1
	grep -q "to=<demo@amx.test> relay=amx.test\[127.0.0.3\]:25 status=sent" "$RT_A/log/posthorn.log"
}

@test "null MX and a domain that does not exist bounce at once" {
	n=$(ls "$RT_A/mail/a.test/demo/new" | wc -l)
	send demo@a.test "to nowhere" someone@null.test
	ph_wait_count "$RT_A/mail/a.test/demo/new" $((n + 1))
	wait_log "to=<someone@null.test>.*5.1.10"
	send demo@a.test "to nxdomain" someone@nx.test
	ph_wait_count "$RT_A/mail/a.test/demo/new" $((n + 2))
	wait_log "to=<someone@nx.test>.*5.1.2"
	run cat "$RT_A"/mail/a.test/demo/new/*
	assert_output --partial "someone@null.test"
	assert_output --partial "someone@nx.test"
}

@test "B down: A defers, mailq shows why, flush after B starts delivers" {
	posthorn -C "$RT_B" stop >/dev/null
	n=$(ls "$(box demo b.test)" | wc -l)
	send x@a.test "while B was down" demo@b.test
	wait_log "to=<demo@b.test>.*status=deferred"
	run "$PH_BIN/mailq" -c "$RT_A/etc/posthorn.conf"
	assert_output --partial "demo@b.test"
	assert_output --regexp "4\.4\.1|refused"
	posthorn -C "$RT_B" start >/dev/null
	posthorn -C "$RT_A" flush >/dev/null
	ph_wait_count "$(box demo b.test)" $((n + 1))
	grep -l "while B was down" "$(box demo b.test)"/*
}

@test "kill -9 of the remote child mid-session: delivered after the retry" {
	python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.6", 25)); s.listen(5)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # never says a word
' &
	echo $! >"$RT_TOP/tarpit.pid"
	sleep 0.5
	send x@a.test "killed mid-session" demo@slow.test
	parent=$(pgrep -u posthorn-remote -x remote -f -n >/dev/null; pgrep -f "^remote -c $RT_A/" | head -1)
	child=""
	for _ in $(seq 1 100); do
		child=$(pgrep -P "$parent" | head -1)
		[ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ]
	sleep 0.5
	kill -9 "$child"
	wait_log "killed by signal 9"
	kill "$(cat "$RT_TOP/tarpit.pid")"
	rm -f "$RT_TOP/tarpit.pid"
	sleep 0.5
	posthorn -C "$RT_A" flush >/dev/null
	ph_wait_count "$(box demo slow.test)" 1
	[ "$(ls "$(box demo slow.test)" | wc -l)" = 1 ]
}

@test "an 8-bit message to a peer without 8BITMIME arrives as 7-bit quoted-printable" {
	posthorn -C "$RT_B" stop >/dev/null
	echo "smtpd_8bitmime = no" >>"$RT_B/etc/posthorn.conf"
	posthorn -C "$RT_B" start >/dev/null
	n=$(ls "$(box demo b.test)" | wc -l)
	python3 - "$RT_SMTP" <<'PY'
import smtplib, sys
body = ("Subject: umlaut\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln = caf\u00e9\r\n.leading dot\r\n").encode()
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.sendmail("x@a.test", ["demo@b.test"], body, mail_options=["BODY=8BITMIME"])
PY
	ph_wait_count "$(box demo b.test)" $((n + 1))
	f=$(ls -t "$(box demo b.test)"/* | head -1)
	run python3 - "$f" <<'PY'
import email, sys
raw = open(sys.argv[1], "rb").read()
assert all(b < 0x80 for b in raw), "8-bit bytes arrived"
m = email.message_from_bytes(raw)
assert m["Content-Transfer-Encoding"].strip().lower() == "quoted-printable", m["Content-Transfer-Encoding"]
text = m.get_payload(decode=True).decode("utf-8")
assert text == "Gr\u00fc\u00dfe aus K\u00f6ln = caf\u00e9\n.leading dot\n", repr(text)
print("ok")
PY
	assert_success
	assert_output ok
}
