# helper.bash: shared setup for the bats integration tests.
# Each test file does `load helper`.  ph_instance makes a fresh instance
# (posthorn init) in a world-traversable temp dir with a free port base,
# user demo@example.test (password "demo"); ph_start / ph_stop run it.
# Root runs use the separate system users (root mode); others single-user.

PH_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PH_BIN=$PH_ROOT/bin
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

posthorn() { "$PH_BIN/posthorn" "$@"; }

# A port base whose SMTP port (base+25) and neighbours are free.  Any
# base in a wide range: parallel test runs must rarely pick the same one.
# The range stays below Linux's ephemeral ports (32768 and up): a port
# free when checked could otherwise be taken by any outgoing connection
# before the master binds it.
ph_free_base() {
	python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(12000, 31700)
    ok = True
    for off in (25, 110, 143, 465, 587, 993, 995):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", base + off))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(base)
        break
PY
}

# ph_instance [extra init args...]: sets PH_DIR, PH_BASE, PH_SMTP
# PH_TOP is the temp directory around the instance: teardown removes it.
ph_instance() {
	PH_TOP=$(mktemp -d /tmp/posthorn-test.XXXXXX)
	PH_DIR=$PH_TOP/i
	export PH_TOP PH_DIR
	chmod 755 "$PH_TOP"
	PH_BASE=$(ph_free_base)
	PH_SMTP=$((PH_BASE + 25))
	export PH_BASE PH_SMTP
	posthorn init "$PH_DIR" --domain example.test --hostname mx.example.test \
		--listen 127.0.0.1 --port-base "$PH_BASE" "$@" >/dev/null
	echo demo | posthorn -C "$PH_DIR" user add demo@example.test >/dev/null
	# Loopback only: no test may ask the machine's resolver.  Nothing
	# answers on this port, so a lookup fails at once (a temporary DNS
	# failure); tests that need DNS start dnsmasq and override it.
	echo "dns_resolver = 127.0.0.1:9" >>"$PH_DIR/etc/posthorn.conf"
}

ph_start() {
	posthorn -C "$PH_DIR" start
	ph_wait_port "$PH_SMTP"
}

ph_stop() {
	[ -n "${PH_DIR:-}" ] && [ -d "$PH_DIR" ] && posthorn -C "$PH_DIR" stop >/dev/null 2>&1
	return 0
}

# Teardown for files that use ph_instance: stop, then remove the instance.
# Removes only a directory ph_instance made, whatever failed before.
ph_teardown() {
	ph_stop
	case "${PH_TOP:-}" in
	/tmp/posthorn-test.?*) rm -rf "$PH_TOP" ;;
	esac
	return 0
}

ph_wait_port() {
	for _ in $(seq 1 100); do
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "port $1 not listening" >&2
	return 1
}

# ph_maildir USER: the Maildir of USER@example.test
ph_maildir() { echo "$PH_DIR/mail/example.test/$1"; }

# ph_wait_count DIR N [SECONDS]: waits until DIR holds N files
ph_wait_count() {
	local dir=$1 n=$2 secs=${3:-30} i
	for i in $(seq 1 $((secs * 10))); do
		[ "$(ls -1 "$dir" 2>/dev/null | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "only $(ls -1 "$dir" 2>/dev/null | wc -l) of $n files in $dir" >&2
	return 1
}

# ph_smtp: a scripted SMTP session through python (lines on stdin, sent
# with CRLF; "<pause>" waits for the replies so far).  Prints replies.
ph_smtp_raw() {
	python3 "$PH_ROOT/tests/bats/smtpchat.py" 127.0.0.1 "${1:-$PH_SMTP}"
}
