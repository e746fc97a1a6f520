#!/usr/bin/env bats
# cli.bats: bin/posthorn: init layout and refusal, user add/passwd/del,
# makemap, start/status/stop, config errors, and the master's log and caps.
# Runs in root mode when run as root, single-user mode otherwise.

load helper

setup() { ph_instance; }
teardown() { ph_teardown; }

owner() { stat -c '%U:%a' "$1"; }
me() { id -un; }
alive() {	# a zombie is dead too (the reaper here may be slow or absent)
	local s
	s=$(ps -o stat= -p "$1") && [ "${s#Z}" = "$s" ]
}
svc() {	# expected owner of a service-owned path in this mode
	if [ "$(id -u)" = 0 ]; then echo "$1"; else me; fi
}

@test "init creates the layout with the design's owners and modes" {
	assert_equal "$(owner "$PH_DIR/queue")" "$(svc posthorn-queue):700"
	for d in tmp incoming active defer bounce; do
		assert_equal "$(owner "$PH_DIR/queue/$d")" "$(svc posthorn-queue):700"
	done
	[ -p "$PH_DIR/queue/trigger" ]
	assert_equal "$(owner "$PH_DIR/queue/trigger")" "$(svc posthorn-queue):600"
	assert_equal "$(owner "$PH_DIR/mail")" "$(svc posthorn-mail):700"
	assert_equal "$(owner "$PH_DIR/etc/users")" "$(svc root):600"
	assert_equal "$(owner "$PH_DIR/etc/users.cdb")" "$(svc root):644"
	assert_equal "$(owner "$PH_DIR/etc/domains.cdb")" "$(svc root):644"
	assert_equal "$(owner "$PH_DIR/etc/aliases.cdb")" "$(svc root):644"
	assert_equal "$(stat -c %a "$PH_DIR/etc/passwd.cdb")" 640
	[ -d "$PH_DIR/log" ]
	run grep -E '^(queue_dir|mail_dir|log_dir|libexec_dir) = /' "$PH_DIR/etc/posthorn.conf"
	assert_equal "${#lines[@]}" 4
	run grep -x "port_base = $PH_BASE" "$PH_DIR/etc/posthorn.conf"
	assert_success
	run cdb -q "$PH_DIR/etc/domains.cdb" example.test
	assert_success
}

@test "root mode: daemons copied into DIR/libexec, enqueue setuid user_queue" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	grep -qx "libexec_dir = $PH_DIR/libexec" "$PH_DIR/etc/posthorn.conf"
	for p in master smtpd qmgr local; do
		assert_equal "$(owner "$PH_DIR/libexec/$p")" "root:755"
	done
	assert_equal "$(owner "$PH_DIR/libexec/enqueue")" "posthorn-queue:4755"
	assert_equal "$(stat -c %G "$PH_DIR/etc/passwd.cdb")" posthorn-auth
}

@test "init refuses an existing instance and leaves it alone" {
	before=$(md5sum "$PH_DIR/etc/posthorn.conf")
	run posthorn init "$PH_DIR" --domain other.test
	assert_failure
	assert_output --partial "refusing to overwrite"
	assert_equal "$(md5sum "$PH_DIR/etc/posthorn.conf")" "$before"
}

@test "init rejects bad options with a message" {
	run posthorn init "$PH_DIR.x" --listen not-an-ip
	assert_failure
	assert_output --partial "--listen not-an-ip"
	run posthorn init "$PH_DIR.y" --port-base 99999
	assert_failure
	assert_output --partial "--port-base"
	[ ! -e "$PH_DIR.y/etc" ]
}

@test "user add stores a crypt hash read from stdin, never the password" {
	echo 'S3cret pass' | posthorn -C "$PH_DIR" user add alice@example.test
	run grep '^alice@example.test:' "$PH_DIR/etc/users"
	assert_success
	refute_output --partial 'S3cret'
	assert_output --regexp '^alice@example.test:\$(y|6)\$[^:]+:example.test/alice/:0$'
	run grep -c 'S3cret' "$PH_DIR/etc/passwd.cdb" "$PH_DIR/etc/users.cdb"
	refute_output --partial ':1'
	run cdb -q "$PH_DIR/etc/users.cdb" alice@example.test
	assert_output "example.test/alice/:0"
	hash=$(cdb -q "$PH_DIR/etc/passwd.cdb" alice@example.test)
	run python3 -W ignore -c 'import crypt,sys; print(crypt.crypt("S3cret pass", sys.argv[1]) == sys.argv[1])' "$hash"
	assert_output True
	for d in new cur tmp .Sent/new .Drafts/cur .Trash/tmp .Junk/new .Archive/new; do
		[ -d "$PH_DIR/mail/example.test/alice/$d" ]
	done
	[ -f "$PH_DIR/mail/example.test/alice/.Sent/maildirfolder" ]
	assert_equal "$(stat -c %U "$PH_DIR/mail/example.test/alice/new")" "$(svc posthorn-mail)"
}

@test "user add: foreign domain, duplicate, bad address, empty password all fail" {
	run bash -c "echo pw | '$PH_BIN/posthorn' -C '$PH_DIR' user add bob@elsewhere.test"
	assert_failure
	assert_output --partial "elsewhere.test is not a local domain"
	run bash -c "echo pw | '$PH_BIN/posthorn' -C '$PH_DIR' user add demo@example.test"
	assert_failure
	assert_output --partial "already exists"
	run bash -c "echo pw | '$PH_BIN/posthorn' -C '$PH_DIR' user add '../x@example.test'"
	assert_failure
	run bash -c "'$PH_BIN/posthorn' -C '$PH_DIR' user add carol@example.test </dev/null"
	assert_failure
	assert_output --partial "no password"
	run grep -c '@' "$PH_DIR/etc/users"
	assert_output 1
}

@test "user passwd changes only the hash; user del removes the entry" {
	old=$(grep '^demo@' "$PH_DIR/etc/users")
	echo newpw | posthorn -C "$PH_DIR" user passwd demo@example.test
	new=$(grep '^demo@' "$PH_DIR/etc/users")
	[ "$old" != "$new" ]
	assert_equal "${new##*:example.test/}" "${old##*:example.test/}"
	echo pw | posthorn -C "$PH_DIR" user add gone@example.test --quota 10M
	run cdb -q "$PH_DIR/etc/users.cdb" gone@example.test
	assert_output "example.test/gone/:10485760"
	posthorn -C "$PH_DIR" user del gone@example.test
	run cdb -q "$PH_DIR/etc/users.cdb" gone@example.test
	assert_failure
	run cdb -q "$PH_DIR/etc/passwd.cdb" gone@example.test
	assert_failure
	run posthorn -C "$PH_DIR" user del gone@example.test
	assert_failure
	assert_output --partial "no such user"
}

@test "makemap rebuilds tables by rename and keeps the old one on error" {
	ino=$(stat -c %i "$PH_DIR/etc/domains.cdb")
	echo other.test >>"$PH_DIR/etc/domains"
	echo "info: demo" >>"$PH_DIR/etc/aliases"
	posthorn -C "$PH_DIR" makemap
	run cdb -q "$PH_DIR/etc/domains.cdb" other.test
	assert_success
	run cdb -q "$PH_DIR/etc/aliases.cdb" info
	assert_output demo
	[ "$(stat -c %i "$PH_DIR/etc/domains.cdb")" != "$ino" ]
	run bash -c "ls '$PH_DIR/etc' | grep tmp"
	assert_failure
	# a malformed line: error names file:line, the working table stays
	printf 'broken\n' >>"$PH_DIR/etc/aliases"
	run posthorn -C "$PH_DIR" makemap
	assert_failure
	assert_output --partial "aliases:$(wc -l <"$PH_DIR/etc/aliases"): malformed"
	run cdb -q "$PH_DIR/etc/aliases.cdb" info
	assert_output demo
}

@test "start, status, stop" {
	run posthorn -C "$PH_DIR" status
	assert_equal "$status" 3
	assert_output --partial stopped
	ph_start
	run posthorn -C "$PH_DIR" status
	assert_success
	pid=$(cat "$PH_DIR/log/master.pid")
	assert_output --partial "master pid $pid"
	kill -0 "$pid"
	run posthorn -C "$PH_DIR" stop
	assert_success
	run alive "$pid"
	assert_failure
	[ ! -e "$PH_DIR/log/master.pid" ]
	run posthorn -C "$PH_DIR" status
	assert_equal "$status" 3
	run posthorn -C "$PH_DIR" stop
	assert_success
	assert_output --partial "not running"
}

@test "a second start is refused, also directly by the master" {
	ph_start
	run posthorn -C "$PH_DIR" start
	assert_failure
	assert_output --partial "already running"
	libexec=$(sed -n 's/^libexec_dir = //p' "$PH_DIR/etc/posthorn.conf")
	run "$libexec/master" -c "$PH_DIR/etc/posthorn.conf"
	assert_failure
	assert_output --partial "another master is running"
}

@test "start reports a port that is taken" {
	python3 -c "import socket,time,sys
s=socket.socket(); s.bind(('127.0.0.1', $PH_SMTP)); s.listen(); sys.stdout.close(); time.sleep(5)" &
	blocker=$!
	ph_wait_port "$PH_SMTP"
	run posthorn -C "$PH_DIR" start
	kill $blocker
	assert_failure
	assert_output --partial "port $PH_SMTP"
	assert_output --partial "in use"
}

@test "a bad config key is reported with file and line" {
	printf 'bogus_key = 1\n' >>"$PH_DIR/etc/posthorn.conf"
	n=$(wc -l <"$PH_DIR/etc/posthorn.conf")
	run posthorn -C "$PH_DIR" status
	assert_failure
	assert_output --partial "$PH_DIR/etc/posthorn.conf:$n: unknown key \"bogus_key\""
	run posthorn -C "$PH_DIR" start
	assert_failure
	assert_output --partial "posthorn.conf:$n:"
}

@test "help, unknown commands and a missing instance" {
	run posthorn help
	assert_success
	assert_output --partial "user add"
	run posthorn frobnicate
	assert_equal "$status" 2
	assert_output --partial 'unknown command "frobnicate"'
	run posthorn -C /nonexistent/dir status
	assert_failure
	assert_output --partial "/nonexistent/dir/etc/posthorn.conf"
}

@test "master logs connections with timestamps and refuses over the cap with 421" {
	echo "max_connections = 0" >>"$PH_DIR/etc/posthorn.conf"
	ph_start
	run ph_smtp_raw <<<"QUIT"
	assert_output --partial "421 4.7.0 mx.example.test too many connections"
	run grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z master\[[0-9]+\]: warning: refused connection from 127.0.0.1' "$PH_DIR/log/posthorn.log"
	assert_success
}

@test "master forks smtpd per connection and logs it; SIGHUP reloads" {
	ph_start
	run ph_smtp_raw <<<"QUIT"
	assert_output --partial "221"
	# the pid the master logged for a connection is an smtpd whose stderr
	# reached the log
	log=$PH_DIR/log/posthorn.log found=0
	for _ in $(seq 50); do
		for p in $(sed -n 's/.*smtp connection from 127.0.0.1 port [0-9]* (pid \([0-9]*\)).*/\1/p' "$log"); do
			grep -q "smtpd\[$p\]" "$log" && found=1
		done
		[ $found = 1 ] && break
		sleep 0.1
	done
	assert_equal "$found" 1
	kill -HUP "$(cat "$PH_DIR/log/master.pid")"
	for _ in $(seq 50); do grep -q reloaded "$PH_DIR/log/posthorn.log" && break; sleep 0.1; done
	run grep -c "master.*: reloaded" "$PH_DIR/log/posthorn.log"
	assert_output 1
}

@test "master restarts qmgr and local together when qmgr dies" {
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	for _ in $(seq 50); do q=$(pgrep -P "$m" -x qmgr) && l=$(pgrep -P "$m" -x local) && break; sleep 0.1; done
	[ -n "$q" ] && [ -n "$l" ]
	kill -9 "$q"
	for _ in $(seq 100); do
		q2=$(pgrep -P "$m" -x qmgr) && l2=$(pgrep -P "$m" -x local) && break
		sleep 0.1
	done
	[ -n "${q2:-}" ] && [ "$q2" != "$q" ]
	[ -n "${l2:-}" ] && [ "$l2" != "$l" ]
	grep -q "qmgr pid $q killed by signal 9" "$PH_DIR/log/posthorn.log"
	# and the new pair delivers
	run swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.test
	assert_success
	ph_wait_count "$(ph_maildir demo)/new" 1
}

@test "max_connections_per_ip: the connection over the cap gets 421, the others are served" {
	echo "max_connections_per_ip = 1" >>"$PH_DIR/etc/posthorn.conf"
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	python3 -c "import socket,time
s=socket.create_connection(('127.0.0.1', $PH_SMTP)); s.recv(512); time.sleep(4)" &
	for _ in $(seq 50); do pgrep -P "$m" -x smtpd >/dev/null && break; sleep 0.1; done
	run ph_smtp_raw <<<"QUIT"
	assert_output --partial "421 4.7.0"
	grep -q "refused connection from 127.0.0.1: max_connections_per_ip" "$PH_DIR/log/posthorn.log"
}

@test "stop ends live smtpd sessions and every child" {
	ph_start
	m=$(cat "$PH_DIR/log/master.pid")
	python3 -c "import socket,time
s=socket.create_connection(('127.0.0.1', $PH_SMTP)); s.recv(512); time.sleep(20)" &
	holder=$!
	for _ in $(seq 50); do s=$(pgrep -P "$m" -x smtpd) && break; sleep 0.1; done
	[ -n "$s" ]
	kids=$(pgrep -P "$m" | tr '\n' ' ')
	posthorn -C "$PH_DIR" stop
	kill "$holder" 2>/dev/null || true
	for k in $kids; do run alive "$k"; assert_failure; done
}

@test "user add: the first user becomes postmaster unless aliases names one" {
	grep -q '^postmaster: demo@example.test$' "$PH_DIR/etc/aliases"
	run bash -c "echo pw | '$PH_BIN/posthorn' -C '$PH_DIR' user add bob@example.test"
	assert_success
	refute_output --partial postmaster
	[ "$(grep -c '^postmaster:' "$PH_DIR/etc/aliases")" -eq 1 ]
}
