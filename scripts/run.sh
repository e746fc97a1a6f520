#!/bin/bash
# run.sh: what `make run` does after building: makes a demo instance
# (domain example.test, user demo@example.test with password "demo", SMTP on
# 127.0.0.1:20025) if there is none yet, then runs it in the foreground.
# Ctrl-C stops the master, which stops everything it started.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
dir=$top/run
posthorn=$top/bin/posthorn

# As root the daemons run as service users, who must be able to reach the
# instance; a checkout under a private home directory is out of their reach.
if [ "$(id -u)" = 0 ] && [ ! -e "$dir" ] &&
	! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$top" 2>/dev/null; then
	dir=/var/tmp/posthorn-run
	echo "note: $top is not reachable by unprivileged users;"
	echo "      the demo instance goes to $dir instead."
fi
if [ ! -e "$dir/etc/posthorn.conf" ]; then
	"$posthorn" init "$dir" --domain example.test --hostname localhost \
		--listen 127.0.0.1 --port-base 20000
fi
if ! grep -q '^demo@example.test:' "$dir/etc/users" 2>/dev/null; then
	echo demo | "$posthorn" -C "$dir" user add demo@example.test
fi
port=$(sed -n 's/^port_base *= *//p' "$dir/etc/posthorn.conf")
port=$((${port:-20000} + 25))
cat <<MSG

posthorn demo instance: $dir
  send mail:   swaks --server 127.0.0.1:$port --to demo@example.test
  it lands in: $dir/mail/example.test/demo/new/
  log:         $dir/log/posthorn.log (also shown below)
  stop:        Ctrl-C

MSG
exec "$posthorn" -C "$dir" start --foreground
