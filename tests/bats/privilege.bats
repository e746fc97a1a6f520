#!/usr/bin/env bats
# privilege.bats: which user each process runs as, what smtpd's user cannot
# read, the setuid enqueue, and single-user mode under an ordinary account.
# Needs root (skipped otherwise).

load helper

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (service users)"
	ph_instance
}

teardown() {
	ph_teardown
	if [ -n "${SU_TOP:-}" ]; then
		runuser -u posthorn-tester -- "$SU_TOP/bin/posthorn" -C "$SU_TOP/work/i" stop >/dev/null 2>&1
		rm -rf "$SU_TOP"
	fi
	return 0
}

# user_of_child MASTERPID COMM: the user a child of the master runs as,
# waiting up to 5 s for it to appear
user_of_child() {
	local u
	for _ in $(seq 50); do
		u=$(ps -o user:32=,comm= --ppid "$1" | awk -v c="$2" '$2 == c { print $1; exit }')
		[ -n "$u" ] && { echo "$u"; return 0; }
		sleep 0.1
	done
	echo "no $2 child of $1" >&2
	return 1
}

# holds an SMTP connection open for $1 seconds (reads the greeting)
hold_connection() {
	python3 -c "import socket,time
s=socket.create_connection(('127.0.0.1', $PH_SMTP)); s.recv(512); time.sleep($1)" &
}

@test "master runs as root, qmgr as posthorn-queue, local as posthorn-mail" {
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	assert_equal "$(ps -o user:32= -p "$m")" root
	run user_of_child "$m" qmgr
	assert_output posthorn-queue
	run user_of_child "$m" local
	assert_output posthorn-mail
}

@test "the queue writer (enqueue -d) runs as posthorn-queue, its socket lets only posthorn-smtpd's group in" {
	ph_start
	run user_of_child "$(cat "$PH_DIR/log/master.pid")" enqueue
	assert_output posthorn-queue
	assert_equal "$(stat -c '%U:%G:%a' "$PH_DIR/run/enqueue.sock")" posthorn-queue:posthorn-smtpd:660
	run runuser -u posthorn-smtpd -- test -r "$PH_DIR/queue"
	assert_failure
}

@test "smtpd of a live connection runs as posthorn-smtpd" {
	ph_start
	hold_connection 3
	run user_of_child "$(cat "$PH_DIR/log/master.pid")" smtpd
	assert_output posthorn-smtpd
}

@test "smtpd's user cannot read the queue, the mail store or passwd.cdb" {
	run runuser -u posthorn-smtpd -- ls "$PH_DIR/queue"
	assert_failure
	run runuser -u posthorn-smtpd -- ls "$PH_DIR/mail"
	assert_failure
	run runuser -u posthorn-smtpd -- cat "$PH_DIR/etc/passwd.cdb"
	assert_failure
	run runuser -u posthorn-smtpd -- cat "$PH_DIR/etc/users"
	assert_failure
	# what it needs stays readable
	run runuser -u posthorn-smtpd -- cat "$PH_DIR/etc/users.cdb"
	assert_success
	run runuser -u posthorn-smtpd -- test -x "$PH_DIR/libexec/enqueue"
	assert_success
}

@test "start re-applies the setuid bit of enqueue" {
	chmod 0755 "$PH_DIR/libexec/enqueue"
	ph_start
	assert_equal "$(stat -c '%U:%a' "$PH_DIR/libexec/enqueue")" "posthorn-queue:4755"
}

@test "init refuses a directory the service users cannot reach" {
	d=$(mktemp -d /tmp/posthorn-private.XXXXXX)
	chmod 700 "$d"
	run posthorn init "$d/i" --domain example.test
	rm -rf "$d"
	assert_failure
	assert_output --partial "not reachable by user posthorn-"
}

@test "root mode: a message through smtpd, enqueue, qmgr and local lands owned by posthorn-mail" {
	ph_start
	run swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from root@example.test \
		--body "privilege test body"
	assert_success
	ph_wait_count "$(ph_maildir demo)/new" 1
	f=$(ls "$(ph_maildir demo)/new"/*)
	assert_equal "$(stat -c %U "$f")" posthorn-mail
	grep -q "privilege test body" "$f"
}

@test "single-user mode: every process runs as the unprivileged account" {
	id posthorn-tester >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin posthorn-tester
	SU_TOP=$(mktemp -d /tmp/posthorn-su.XXXXXX)
	chmod 755 "$SU_TOP"
	cp -a "$PH_ROOT/bin" "$PH_ROOT/libexec" "$SU_TOP/"
	install -d -o posthorn-tester -m 755 "$SU_TOP/work"
	su_run() { runuser -u posthorn-tester -- "$SU_TOP/bin/posthorn" "$@"; }
	base=$(ph_free_base)
	su_run init "$SU_TOP/work/i" --domain example.test --listen 127.0.0.1 --port-base "$base"
	echo pw | su_run -C "$SU_TOP/work/i" user add demo@example.test
	grep -qx "libexec_dir = $SU_TOP/libexec" "$SU_TOP/work/i/etc/posthorn.conf"
	run su_run -C "$SU_TOP/work/i" start
	assert_success
	ph_wait_port $((base + 25))
	python3 -c "import socket,time
s=socket.create_connection(('127.0.0.1', $((base + 25)))); s.recv(512); time.sleep(3)" &
	run swaks --server "127.0.0.1:$((base + 25))" --to demo@example.test --from x@example.test
	assert_success
	ph_wait_count "$SU_TOP/work/i/mail/example.test/demo/new" 1
	m=$(cat "$SU_TOP/work/i/log/master.pid")
	user_of_child "$m" smtpd >/dev/null
	run ps -o user:32= -p "$m" --ppid "$m"
	[ "${#lines[@]}" -ge 4 ]	# master, qmgr, local, smtpd
	for u in "${lines[@]}"; do assert_equal "$u" posthorn-tester; done
	run find "$SU_TOP/work/i" ! -user posthorn-tester
	assert_output ""
}
