/*
 * NAME
 *	pop3d-login - posthorn's POP3 login stage (TLS and AUTHORIZATION)
 *
 * SYNOPSIS
 *	libexec/pop3d-login [-c CONFIG] [-s | -m pop3|pop3s]
 *
 * DESCRIPTION
 *	Serves one POP3 connection on fd 0 (input) and fd 1 (output), so it
 *	runs under posthorn's master (port base+110, and base+995 with -s),
 *	inetd or systemd Accept=yes.  It runs as user_login, which can read
 *	neither the mail store, nor passwd.cdb, nor the TLS key: master (or,
 *	started as root by inetd, this program itself before it drops to
 *	user_login) opens the key and certificate and passes them as fds
 *	(POSTHORN_TLS_FDS, see doc/design.md "TLS keys"); under systemd they
 *	come from $CREDENTIALS_DIRECTORY.
 *
 *	Greeting "+OK posthorn POP3 ready".  Commands: CAPA, STLS (RFC 2595:
 *	before TLS and before USER; bytes pipelined after it are discarded),
 *	USER/PASS, AUTH PLAIN|LOGIN (RFC 5034, initial response allowed, "="
 *	for an empty one, "*" cancels), QUIT.  APOP is not supported.
 *	Passwords are accepted only over TLS (STLS, or -s: implicit TLS, RFC
 *	8314), or from a loopback client when plaintext_auth_loopback = yes;
 *	otherwise "-ERR [AUTH] TLS required" and CAPA lists neither USER nor
 *	SASL.  Every other command before a login is -ERR.
 *
 *	The credentials go to the auth daemon (run_dir/auth.sock) together
 *	with one end of a socketpair.  On success the daemon hands that end
 *	to mailboxd, which runs pop3d (as user_mail) on it; pop3d's first
 *	line ("+OK maildrop has ...", or "-ERR [IN-USE]") is the answer to
 *	PASS/AUTH, and from then on pop3d-login only relays bytes between
 *	the client and pop3d until either side closes.  A wrong password:
 *	"-ERR [AUTH] invalid credentials", after the delay the auth daemon
 *	imposes; after auth_max_failures the connection is closed.
 *
 *	Limits: pop3_line_max per command line (SASL responses up to 4096),
 *	100 commands before a login,
 *	max_errors bad commands, pop3_timeout idle time (also while
 *	relaying), tls_handshake_timeout.
 *
 * EXIT STATUS
 *	0 after a session; 2 usage; 111 bad config, or -s without a key.
 *
 * FILES
 *	CONFIG, run_dir/auth.sock, tls_cert and tls_key (by fd).
 */
#include "login.h"
#include "log.h"

#include <string.h>

int main(int argc, char **argv)
{
	struct login l;
	struct config cfg;
	memset(&l, 0, sizeof l);
	l.implicit = login_start(argc, argv, "pop3d-login", "pop3",
				 "-ERR [SYS/TEMP] server configuration error\r\n", &cfg);
	login_client_init(&l.c, &cfg, config_num(&cfg, "pop3_timeout"));
	login_tls_setup(&l.c, l.implicit);
	l.line_max = (size_t)config_num(&cfg, "pop3_line_max");
	l.max_errors = config_num(&cfg, "max_errors");
	l.max_failures = config_num(&cfg, "auth_max_failures");
	int rc = 0;
	if (l.implicit && login_tls_start(&l.c) < 0)
		rc = l.c.tls ? 0 : 111;
	else
		session_run(&l);
	login_client_free(&l.c);
	buf_free(&l.user);
	config_free(&cfg);
	return rc;
}
