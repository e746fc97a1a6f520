#!/usr/bin/env bats
# install.bats: make install's script into a fresh DESTDIR as root with
# RELOCATE=1 (the config names the DESTDIR paths, so the installed tree
# runs where it lies), then: owners and modes of everything it made,
# idempotence, the installed tree receiving mail through sendmail and
# SMTP and giving it back over POP3, posthorn check, uninstall, the
# systemd units (systemd-analyze verify), smtpd and pop3d-login started
# per connection by tcpserver and systemd-socket-activate, man pages.

load helper

setup() {
	[ "$(id -u)" = 0 ] || skip "make install creates system users: root only"
	PH_TOP=$(mktemp -d /tmp/posthorn-test.XXXXXX)
	chmod 755 "$PH_TOP"
	D=$PH_TOP/root
	PH_BASE=$(ph_free_base)
	PH_SMTP=$((PH_BASE + 25))
	CONF=$D/etc/posthorn/posthorn.conf
	LIB=$D/usr/lib/posthorn
	export PH_TOP D PH_BASE PH_SMTP CONF LIB
	do_install
	PH_DIR=$D/etc/posthorn	# ph_stop: posthorn -C $PH_DIR stop
}

teardown() { ph_teardown; }

do_install() {
	(cd "$PH_ROOT" && env DESTDIR="$D" PREFIX=/usr RELOCATE=1 INSTALL_COMPAT=1 \
		INIT_OPTS="--domain example.test --hostname mx.example.test --listen 127.0.0.1 --port-base $PH_BASE" \
		scripts/install.sh install)
}

# "mode owner:group path" for everything under $D, sorted, paths relative
listing() {
	(cd "$D" && find . -path ./var/spool/posthorn -prune -o -path ./var/mail/posthorn -prune \
		-o -printf '%m %u:%g %y %p\n' | sort -k4)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

@test "install: programs, daemons, config, queue, store with INSTALL's owners and modes" {
	run listing
	assert_line "755 root:root f ./usr/sbin/posthorn"
	assert_line "4755 posthorn-queue:posthorn-queue f ./usr/lib/posthorn/enqueue"
	# every daemon the Makefile builds (a list kept by hand once missed remote)
	daemons=$(sed -n 's/^LIBEXEC_PROGS = //p' "$PH_ROOT/Makefile")
	[ -n "$daemons" ]
	for p in $daemons sendmail mailq; do
		[ "$p" = enqueue ] && continue
		assert_line "755 root:root f ./usr/lib/posthorn/$p"
	done
	assert_line "777 root:root l ./usr/sbin/sendmail"
	assert_line "777 root:root l ./usr/bin/mailq"
	assert_line "755 root:root f ./usr/bin/newaliases"
	assert_line "755 root:root d ./etc/posthorn"
	assert_line "644 root:root f ./etc/posthorn/posthorn.conf"
	assert_line "600 root:root f ./etc/posthorn/users"
	assert_line "644 root:root f ./etc/posthorn/users.cdb"
	assert_line "640 root:posthorn-auth f ./etc/posthorn/passwd.cdb"
	assert_line "600 root:root f ./etc/posthorn/tls/key.pem"
	assert_line "600 root:root f ./etc/posthorn/tls/ca.key"
	assert_line "644 root:root f ./etc/posthorn/tls/cert.pem"
	for t in domains aliases; do
		assert_line "644 root:root f ./etc/posthorn/$t"
		assert_line "644 root:root f ./etc/posthorn/$t.cdb"
	done
	assert_line "755 root:root d ./var/log/posthorn"
	assert_line "755 root:root d ./run/posthorn"
	assert_line "644 root:root f ./usr/share/man/man8/posthorn.8"
	assert_line "644 root:root f ./usr/share/man/man5/posthorn.conf.5"
	assert_line "644 root:root f ./usr/share/man/man1/posthorn-sendmail.1"
	# nothing world-writable, no other setuid or setgid file
	run find "$D" -perm -o+w ! -type l
	assert_output ""
	run find "$D" -perm /6000
	assert_output "$LIB/enqueue"
	run stat -c '%a %U' "$D/var/spool/posthorn" "$D/var/spool/posthorn/incoming" "$D/var/mail/posthorn"
	assert_output "$(printf '700 posthorn-queue\n700 posthorn-queue\n700 posthorn-mail')"
	run stat -c '%a %U %F' "$D/var/spool/posthorn/trigger"
	assert_output "600 posthorn-queue fifo"
	for u in posthorn-smtpd posthorn-queue posthorn-mail posthorn-auth posthorn-login; do
		id -u "$u" >/dev/null
	done
	grep -qx "queue_dir = $D/var/spool/posthorn" "$CONF"
	grep -qx "libexec_dir = $LIB" "$CONF"
}

@test "install: a second install changes no owner or mode and leaves the config alone" {
	echo "# edited by the administrator" >>"$CONF"
	before=$(listing)
	sum=$(md5sum "$CONF" "$D/etc/posthorn/tls/key.pem")
	run do_install
	assert_success
	assert_output --partial "posthorn.conf exists: left alone"
	[ "$(listing)" = "$before" ]
	[ "$(md5sum "$CONF" "$D/etc/posthorn/tls/key.pem")" = "$sum" ]
}

@test "install: posthorn check passes on the installed tree and sees a broken one" {
	run "$D/usr/sbin/posthorn" -c "$CONF" check
	assert_success
	chmod 0644 "$D/etc/posthorn/users"
	run "$D/usr/sbin/posthorn" -c "$CONF" check
	assert_failure 1
	assert_output --partial "etc/posthorn/users: mode is 0644, should be 0600"
}

@test "install: the installed tree takes mail from sendmail and SMTP and gives it back over POP3" {
	ph() { "$D/usr/sbin/posthorn" -c "$CONF" "$@"; }
	echo demo | ph user add demo@example.test
	ph start
	ph_wait_port "$PH_SMTP"
	printf 'Subject: via sendmail\n\nfirst\n' | "$D/usr/sbin/sendmail" -C "$CONF" demo@example.test
	swaks --server "127.0.0.1:$PH_SMTP" --to demo@example.test --from a@example.org \
		--header "Subject: via smtp" --body second >/dev/null
	ph_wait_count "$D/var/mail/posthorn/example.test/demo/new" 2
	run python3 - "$((PH_BASE + 995))" "$D/etc/posthorn/tls/ca.pem" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False	# the certificate names localhost; we use the IP
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx)
p.user("demo@example.test"); p.pass_("demo")
n = p.stat()[0]
print("count", n)
for i in range(1, n + 1):
    print(b"\n".join(p.retr(i)[1]).decode())
p.quit()
PY
	assert_success
	assert_line "count 2"
	assert_output --partial "Subject: via sendmail"
	assert_output --partial "Subject: via smtp"
	# the daemons run as their users out of the installed libexec
	# (they read CONFIG.running, the copy of the config the master accepted)
	q=$(pgrep -o -u posthorn-queue -f "^qmgr -c $CONF.running\$")
	l=$(pgrep -o -u posthorn-mail -f "^local -c $CONF.running\$")
	[ "$(readlink "/proc/$q/exe")" = "$LIB/qmgr" ]
	[ "$(readlink "/proc/$l/exe")" = "$LIB/local" ]
	run stat -c '%a %U' "$D/var/log/posthorn/posthorn.log"
	assert_output "640 root"
	ph stop
}

@test "install: mailq and posthorn queue work on the installed layout as root, and explain to others" {
	ph() { "$D/usr/sbin/posthorn" -c "$CONF" "$@"; }
	echo demo | ph user add demo@example.test >/dev/null
	printf 'Subject: queued\n\nwaits\n' | "$D/usr/sbin/sendmail" -C "$CONF" demo@example.test
	q=$(ls "$D/var/spool/posthorn/incoming")
	[ -n "$q" ]
	run env POSTHORN_CONFIG="$CONF" "$D/usr/bin/mailq"
	assert_success
	assert_line --regexp "^$q +[0-9]+ "
	run ph queue hold "$q"
	assert_success
	run stat -c '%a %U' "$D/var/spool/posthorn/hold" "$D/var/spool/posthorn/hold/$q"
	assert_line --index 0 "700 posthorn-queue"
	assert_line --index 1 "600 posthorn-queue"
	run env POSTHORN_CONFIG="$CONF" "$D/usr/bin/mailq"
	assert_line --regexp "^$q +! "
	run ph queue show "$q"
	assert_output --partial "Subject: queued"
	msg="permission denied: cannot read the queue $D/var/spool/posthorn: run as root or user_queue (posthorn-queue)"
	run su nobody -s /bin/sh -c "POSTHORN_CONFIG='$CONF' '$D/usr/bin/mailq'"
	assert_failure 1
	assert_output "mailq: $msg"
	run su nobody -s /bin/sh -c "'$D/usr/sbin/posthorn' -c '$CONF' queue release $q"
	assert_failure 1
	assert_output "posthorn queue: $msg"
	ph start
	run ph queue release "$q"
	assert_success
	ph_wait_count "$D/var/mail/posthorn/example.test/demo/new" 1
	ph stop
}

@test "install: uninstall removes the programs and keeps config, queue and mail" {
	(cd "$PH_ROOT" && env DESTDIR="$D" PREFIX=/usr RELOCATE=1 scripts/install.sh uninstall)
	[ ! -e "$D/usr/sbin/posthorn" ]
	[ ! -e "$LIB" ]
	[ ! -L "$D/usr/sbin/sendmail" ]
	[ ! -e "$D/usr/bin/newaliases" ]
	[ ! -e "$D/usr/share/man/man8/smtpd.8" ]
	[ -f "$CONF" ] && [ -f "$D/etc/posthorn/tls/key.pem" ]
	[ -p "$D/var/spool/posthorn/trigger" ] && [ -d "$D/var/mail/posthorn" ]
}

@test "install: systemd-analyze verify passes on the installed units" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	u=$D/usr/share/posthorn/systemd
	ls "$u"/posthorn.service "$u"/posthorn-smtp.socket "$u"/posthorn-pop3s@.service >/dev/null
	grep -q "^ExecStart=$LIB/smtpd -c $CONF -m smtp$" "$u/posthorn-smtp@.service"
	run systemd-analyze verify --man=no "$u"/*.socket "$u"/*.service
	echo "$output"
	assert_success
	refute_output --partial "$u"
}

@test "install: smtpd under tcpserver and systemd-socket-activate delivers; pop3d-login logs in" {
	command -v tcpserver >/dev/null || skip "ucspi-tcp not installed"
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
	ph() { "$D/usr/sbin/posthorn" -c "$CONF" "$@"; }
	echo "plaintext_auth_loopback = yes" >>"$CONF"
	echo demo | ph user add demo@example.test
	"$LIB/master" -c "$CONF" --no-listen 2>/dev/null &
	for _ in $(seq 1 50); do [ -S "$D/run/posthorn/mailbox.sock" ] && break; sleep 0.1; done
	p1=$(free_port)
	tcpserver -R -H 127.0.0.1 "$p1" "$LIB/smtpd" -c "$CONF" -m smtp &
	tpid=$!
	p2=$(free_port)
	systemd-socket-activate --inetd -a -l "127.0.0.1:$p2" "$LIB/smtpd" -c "$CONF" -m smtp 2>/dev/null &
	spid=$!
	p3=$(free_port)
	systemd-socket-activate --inetd -a -l "127.0.0.1:$p3" "$LIB/pop3d-login" -c "$CONF" 2>/dev/null &
	ppid_=$!
	ph_wait_port "$p1"; ph_wait_port "$p2"; ph_wait_port "$p3"
	swaks --server "127.0.0.1:$p1" --to demo@example.test --header "Subject: tcpserver" >/dev/null
	swaks --server "127.0.0.1:$p2" --to demo@example.test --header "Subject: socket-activate" >/dev/null
	ph_wait_count "$D/var/mail/posthorn/example.test/demo/new" 2
	run python3 -c "
import poplib
p = poplib.POP3('127.0.0.1', $p3)
p.user('demo@example.test'); p.pass_('demo')
print('count', p.stat()[0])
print(b'\n'.join(p.retr(1)[1] + p.retr(2)[1]).decode())
p.quit()"
	kill "$tpid" "$spid" "$ppid_"
	"$D/usr/sbin/posthorn" -c "$CONF" stop >/dev/null
	assert_success
	assert_line "count 2"
	assert_output --partial "Subject: tcpserver"
	assert_output --partial "Subject: socket-activate"
	# started as root by the listener, each dropped to its user: Received
	# lines were written by smtpd; the log names no listener error
	run grep -c "fatal" "$D/var/log/posthorn/posthorn.log"
	assert_output 0
}

@test "install: every man page renders with man -l without warnings" {
	command -v man >/dev/null || skip "man-db not installed"
	for f in "$PH_ROOT"/doc/man/*.[158]; do
		run env MANWIDTH=80 man --warnings -l "$f"
		assert_success
		[ -n "$output" ]
		run sh -c "MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null"
		assert_output ""
	done
	for p in master smtpd enqueue qmgr local auth pop3d pop3d-login mailboxd posthorn; do
		[ -f "$D/usr/share/man/man8/$p.8" ]
	done
}
