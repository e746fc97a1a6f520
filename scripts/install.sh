#!/bin/sh
# install.sh: `make install` and `make uninstall` (called by the Makefile
# with its variables in the environment).  Puts the programs, daemons and
# man pages under $DESTDIR$PREFIX, creates the system users, the config
# (only when missing), queue, mail store, log and run directories with the
# owners and modes INSTALL lists.  Idempotent: a second run changes nothing
# but the programs.  uninstall removes programs and man pages only.
#
#   PREFIX=/usr/local  DESTDIR=  SYSCONFDIR=/etc/posthorn
#   SPOOLDIR=/var/spool/posthorn  MAILSTORE=/var/mail/posthorn
#   LOGDIR=/var/log/posthorn  RUNDIR=/run/posthorn
#   INSTALL_COMPAT=1   also sendmail, mailq, newaliases under the usual names
#   NO_USERS=1         (packaging, with DESTDIR) programs only: no users,
#                      no chown, no config or keys ("install.sh config" later)
#   RELOCATE=1         the config names $DESTDIR paths, so the tree runs
#                      where it was installed (tests, trial installs)
#   INIT_OPTS="..."    extra options for the first config (posthorn init's:
#                      --domain D --hostname H --listen ADDR --port-base N)
set -eu

: "${PREFIX:=/usr/local}" "${DESTDIR:=}" "${SYSCONFDIR:=/etc/posthorn}"
: "${SPOOLDIR:=/var/spool/posthorn}" "${MAILSTORE:=/var/mail/posthorn}"
: "${LOGDIR:=/var/log/posthorn}" "${RUNDIR:=/run/posthorn}"
: "${INSTALL_COMPAT:=0}" "${NO_USERS:=0}" "${RELOCATE:=0}" "${INIT_OPTS:=}"

DAEMONS="master smtpd enqueue qmgr local remote auth pop3d pop3d-login mailboxd imapd-login imapd"
ACCOUNTS="posthorn-smtpd posthorn-queue posthorn-mail posthorn-auth posthorn-login posthorn-remote"
D=$DESTDIR
LIBDIR=$PREFIX/lib/posthorn
# runtime paths as the config names them
if [ "$RELOCATE" = 1 ]; then R=$DESTDIR; else R=; fi

say() { echo "install: $*"; }

ensure_users() {
	[ "$NO_USERS" = 1 ] && return 0
	for u in $ACCOUNTS; do
		id -u "$u" >/dev/null 2>&1 && continue
		if command -v adduser >/dev/null 2>&1; then
			adduser --system --group --no-create-home --home /nonexistent \
				--shell /usr/sbin/nologin --quiet "$u"
		else
			useradd --system --user-group --no-create-home \
				--home-dir /nonexistent --shell /usr/sbin/nologin "$u"
		fi
		say "created system user $u"
	done
}

# own USER:GROUP PATH: chown unless packaging
own() { [ "$NO_USERS" = 1 ] || chown "$1" "$2"; }

install_programs() {
	install -d -m 0755 "$D$PREFIX/sbin" "$D$PREFIX/bin" "$D$LIBDIR"
	install -m 0755 bin/posthorn "$D$PREFIX/sbin/posthorn"
	for p in $DAEMONS; do
		install -m 0755 "libexec/$p" "$D$LIBDIR/$p.new"
		mv -f "$D$LIBDIR/$p.new" "$D$LIBDIR/$p"
	done
	# sendmail and mailq beside the daemons; the public names are links
	install -m 0755 bin/sendmail "$D$LIBDIR/sendmail"
	install -m 0755 bin/mailq "$D$LIBDIR/mailq"
	ln -sf "$R$LIBDIR/mailq" "$D$PREFIX/bin/posthorn-mailq"
	ln -sf "$R$LIBDIR/sendmail" "$D$PREFIX/sbin/posthorn-sendmail"
	own posthorn-queue:posthorn-queue "$D$LIBDIR/enqueue"
	chmod 4755 "$D$LIBDIR/enqueue"
	if [ "$INSTALL_COMPAT" = 1 ]; then
		install -d -m 0755 "$D/usr/sbin"
		ln -sf "$R$LIBDIR/sendmail" "$D/usr/sbin/sendmail"
		ln -sf "$R$LIBDIR/mailq" "$D$PREFIX/bin/mailq"
		sed "s|^exec posthorn |exec $PREFIX/sbin/posthorn |" scripts/newaliases >"$D$PREFIX/bin/newaliases"
		chmod 0755 "$D$PREFIX/bin/newaliases"
	fi
}

install_man() {
	for f in doc/man/*.[158]; do
		s=${f##*.}
		install -d -m 0755 "$D$PREFIX/share/man/man$s"
		install -m 0644 "$f" "$D$PREFIX/share/man/man$s/${f##*/}"
	done
}

install_units() {
	install -d -m 0755 "$D$PREFIX/share/posthorn/systemd"
	for f in etc/systemd/*; do
		sed "s|@LIBDIR@|$R$LIBDIR|g; s|@SYSCONFDIR@|$R$SYSCONFDIR|g; s|@SPOOLDIR@|$R$SPOOLDIR|g; s|@MAILSTORE@|$R$MAILSTORE|g; s|@LOGDIR@|$R$LOGDIR|g" \
			"$f" >"$D$PREFIX/share/posthorn/systemd/${f##*/}"
	done
	sed "s|@LIBDIR@|$R$LIBDIR|g; s|@SYSCONFDIR@|$R$SYSCONFDIR|g" etc/inetd.conf >"$D$PREFIX/share/posthorn/inetd.conf"
}

# The first config: posthorn init builds a whole instance (tables, CA,
# key, certificate) in a scratch directory; its etc/ becomes SYSCONFDIR,
# with the paths pointing at the installed directories.
make_config() {
	if [ -e "$D$SYSCONFDIR/posthorn.conf" ]; then
		say "$D$SYSCONFDIR/posthorn.conf exists: left alone"
		return 0
	fi
	tmp=$(mktemp -d /tmp/posthorn-install.XXXXXX)
	chmod 755 "$tmp"
	# shellcheck disable=SC2086
	bin/posthorn init "$tmp/i" $INIT_OPTS >/dev/null
	sed -i -e "s|^queue_dir = .*|queue_dir = $R$SPOOLDIR|" \
		-e "s|^mail_dir = .*|mail_dir = $R$MAILSTORE|" \
		-e "s|^log_dir = .*|log_dir = $R$LOGDIR|" \
		-e "s|^libexec_dir = .*|libexec_dir = $R$LIBDIR|" \
		-e "s|^run_dir = .*|run_dir = $R$RUNDIR|" "$tmp/i/etc/posthorn.conf"
	install -d -m 0755 "$D$SYSCONFDIR"
	cp -a "$tmp/i/etc/." "$D$SYSCONFDIR/"
	# the queue and the store too, when missing: init made them right
	for pair in "queue:$SPOOLDIR" "mail:$MAILSTORE"; do
		src=${pair%%:*} dst=$D${pair#*:}
		if [ ! -e "$dst" ]; then
			install -d -m 0755 "$(dirname "$dst")"
			cp -a "$tmp/i/$src" "$dst"
		fi
	done
	rm -rf "$tmp"
	say "wrote $D$SYSCONFDIR (edit domains, then posthorn makemap)"
}

make_dirs() {
	install -d -m 0755 "$D$LOGDIR" "$D$RUNDIR" "$(dirname "$D$SPOOLDIR")" "$(dirname "$D$MAILSTORE")"
	[ -d "$D$SPOOLDIR" ] || install -d -m 0700 "$D$SPOOLDIR"
	[ -d "$D$MAILSTORE" ] || install -d -m 0700 "$D$MAILSTORE"
	own posthorn-mail:posthorn-mail "$D$MAILSTORE"
	chmod 0700 "$D$MAILSTORE"
	own root:root "$D$LOGDIR"
}

do_install() {
	[ -x bin/posthorn ] || { echo "install: build first (make)" >&2; exit 1; }
	if [ "$NO_USERS" != 1 ] && [ "$(id -u)" != 0 ]; then
		echo "install: run as root, or set NO_USERS=1 with DESTDIR for packaging" >&2
		exit 1
	fi
	ensure_users
	install_programs
	install_man
	install_units
	if [ "$NO_USERS" = 1 ]; then
		say "packaging (NO_USERS=1): no config, keys or spool made; on the target run: scripts/install.sh config"
	else
		make_config
		make_dirs
	fi
	say "done: $D$PREFIX/sbin/posthorn -C $R$SYSCONFDIR check"
}

do_uninstall() {
	for p in $DAEMONS sendmail mailq; do rm -f "$D$LIBDIR/$p"; done
	rmdir "$D$LIBDIR" 2>/dev/null || true
	rm -f "$D$PREFIX/sbin/posthorn" "$D$PREFIX/bin/posthorn-mailq" "$D$PREFIX/sbin/posthorn-sendmail"
	for l in "$D/usr/sbin/sendmail" "$D$PREFIX/bin/mailq"; do
		case $(readlink "$l" 2>/dev/null) in "$R$LIBDIR"/*) rm -f "$l" ;; esac
	done
	[ -f "$D$PREFIX/bin/newaliases" ] && grep -q posthorn "$D$PREFIX/bin/newaliases" &&
		rm -f "$D$PREFIX/bin/newaliases"
	for f in doc/man/*.[158]; do rm -f "$D$PREFIX/share/man/man${f##*.}/${f##*/}"; done
	rm -rf "$D$PREFIX/share/posthorn"
	say "removed the programs; config $D$SYSCONFDIR, queue and mail are kept"
}

case "${1:-}" in
install) do_install ;;
config) ensure_users; make_config; make_dirs ;;
uninstall) do_uninstall ;;
*) echo "usage: install.sh install|config|uninstall" >&2; exit 2 ;;
esac
