#!/usr/bin/env bats
# check.bats: posthorn check passes on a fresh instance and names each
# broken setup in one line (exit 1): bad modes and owners, stale tables,
# an unreadable or mismatched key, a broken config, missing directories.

load helper

setup() { ph_instance; }
teardown() { ph_teardown; }

need_root() { [ "$(id -u)" = 0 ] || skip "owners and modes are root mode"; }

@test "check: a fresh instance passes" {
	run posthorn -C "$PH_DIR" check
	assert_success
	assert_output --partial ": ok"
}

@test "check: a stale table (text newer than .cdb) is named, makemap fixes it" {
	touch -d '+2 seconds' "$PH_DIR/etc/aliases"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "aliases.cdb: older than aliases: run posthorn makemap"
	[ "$(grep -c 'posthorn check: /' <<<"$output")" = 1 ]
	touch -d '+4 seconds' "$PH_DIR/etc/aliases.cdb"
	posthorn -C "$PH_DIR" makemap
	touch -d '-1 seconds' "$PH_DIR/etc/aliases"
	run posthorn -C "$PH_DIR" check
	assert_success
}

@test "check: users changed after makemap makes users.cdb and passwd.cdb stale" {
	touch -d '+2 seconds' "$PH_DIR/etc/users"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "users.cdb: older than users"
	assert_output --partial "passwd.cdb: older than users"
}

@test "check: a queue directory with a bad mode" {
	chmod 0755 "$PH_DIR/queue/incoming"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "queue/incoming: mode is 0755, should be 0700"
}

@test "check: a world-readable private key" {
	chmod 0644 "$PH_DIR/etc/tls/key.pem"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "tls/key.pem: mode is 0644, should be 0600"
}

@test "check: an unreadable (damaged) key and a key of another certificate" {
	cp "$PH_DIR/etc/tls/key.pem" "$PH_TOP/key.save"
	echo "not a key" >"$PH_DIR/etc/tls/key.pem"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "tls/key.pem: cannot be read as a PEM private key"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PH_DIR/etc/tls/key.pem" 2>/dev/null
	chmod 0600 "$PH_DIR/etc/tls/key.pem"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "does not match the certificate"
}

@test "check: a missing key" {
	rm "$PH_DIR/etc/tls/key.pem"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "tls/key.pem: No such file or directory"
}

@test "check: a missing trigger FIFO and a missing queue directory" {
	rm "$PH_DIR/queue/trigger"
	rmdir "$PH_DIR/queue/defer"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "queue/trigger: No such file or directory"
	assert_output --partial "queue/defer: No such file or directory"
}

@test "check: a config syntax error names the line" {
	echo "no_such_key = 1" >>"$PH_DIR/etc/posthorn.conf"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --regexp "posthorn.conf:[0-9]+: unknown key \"no_such_key\""
}

@test "check: root mode: wrong owners of the queue, the mail store and passwd.cdb" {
	need_root
	chown root "$PH_DIR/queue/active"
	chown root "$PH_DIR/mail"
	chgrp root "$PH_DIR/etc/passwd.cdb"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "queue/active: owner is root, should be posthorn-queue"
	assert_output --partial "mail: owner is root, should be posthorn-mail"
	assert_output --partial "passwd.cdb: group is gid 0, should be posthorn-auth"
}

@test "check: root mode: enqueue without its setuid bit" {
	need_root
	chmod 0755 "$PH_DIR/libexec/enqueue"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "libexec/enqueue: mode is 0755, should be 4755"
}

@test "check: root mode: a config directory the service users cannot reach" {
	need_root
	chmod 0700 "$PH_DIR/etc"
	run posthorn -C "$PH_DIR" check
	assert_failure 1
	assert_output --partial "etc: mode is 0700, should be 0755"
	assert_output --partial "is not reachable by user"
}
