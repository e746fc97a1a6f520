#!/bin/sh
# deps.sh check build|test  -- names the Debian packages that are missing
# deps.sh install           -- installs all of them (as root), then the npm
#                              test clients (deps.sh node)
# deps.sh node              -- installs tests/node's npm packages (imapflow,
#                              pinned by its package-lock.json) unless present
# The package lists here are the one place the dependencies are written.
BUILD_PKGS="gcc make libc6-dev libssl-dev libcdb-dev libcrypt-dev openssl"
TEST_PKGS="bats bats-support bats-assert swaks libnet-ssleay-perl python3 tinycdb procps psmisc passwd util-linux fetchmail curl ucspi-tcp systemd man-db groff-base adduser dnsmasq-base isync s-nail nodejs"

missing() {
	out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || out="$out $p"
	done
	echo "$out"
}

case "$1" in
check)
	command -v dpkg-query >/dev/null 2>&1 || exit 0	# not Debian: trust the user
	if [ "$2" = test ]; then pk=$TEST_PKGS; else pk=$BUILD_PKGS; fi
	m=$(missing $pk)
	if [ -n "$m" ]; then
		echo "missing Debian packages:$m" >&2
		echo "install them with: sudo make deps   (or apt-get install$m)" >&2
		exit 1
	fi
	;;
install)
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $BUILD_PKGS $TEST_PKGS &&
		"$0" node
	;;
node)
	dir=$(dirname "$0")/../tests/node
	[ -d "$dir/node_modules/imapflow" ] && exit 0
	command -v npm >/dev/null 2>&1 || { echo "npm missing: imapflow tests will be skipped" >&2; exit 0; }
	npm ci --prefix "$dir" --no-audit --no-fund >/dev/null ||
		echo "npm ci --prefix tests/node failed: imapflow tests will be skipped" >&2
	;;
*)
	echo "usage: deps.sh check build|test | install | node" >&2
	exit 2
	;;
esac
