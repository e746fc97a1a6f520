/*
 * NAME
 *	imapd-login - posthorn's IMAP login stage (TLS and the
 *	not-authenticated state)
 *
 * SYNOPSIS
 *	libexec/imapd-login [-c CONFIG] [-s | -m imap|imaps]
 *
 * DESCRIPTION
 *	Serves one IMAP connection on fd 0 (input) and fd 1 (output), so it
 *	runs under posthorn's master (port base+143, and base+993 with -s),
 *	inetd or systemd Accept=yes.  It runs as user_login, which can read
 *	neither the mail store, nor passwd.cdb, nor the TLS key: master (or,
 *	started as root by inetd, this program itself before it drops to
 *	user_login) opens the key and certificate and passes them as fds
 *	(POSTHORN_TLS_FDS, see doc/design.md "TLS keys"); under systemd they
 *	come from $CREDENTIALS_DIRECTORY.
 *
 *	Greeting "* OK [CAPABILITY ...] posthorn IMAP4rev1 ready".  Commands:
 *	CAPABILITY, NOOP, LOGOUT, STARTTLS (RFC 3501 6.2.1: bytes pipelined
 *	after it are discarded), ID (RFC 2971), LOGIN, AUTHENTICATE PLAIN or
 *	LOGIN (RFC 4959 SASL-IR, "=" for an empty initial response, "*"
 *	cancels).  Passwords are accepted only over TLS (STARTTLS, or -s:
 *	implicit TLS, RFC 8314), or from a loopback client when
 *	plaintext_auth_loopback = yes; otherwise CAPABILITY says
 *	LOGINDISABLED and no AUTH=, and LOGIN/AUTHENTICATE get NO
 *	[PRIVACYREQUIRED].  Every other command before a login gets BAD.
 *	A TLS ClientHello on the plain port gets a BYE and the connection is
 *	closed.
 *
 *	The credentials go to the auth daemon (run_dir/auth.sock) together
 *	with one end of a socketpair.  On success the daemon hands that end
 *	to mailboxd, which runs imapd (as user_mail) on it; imapd's first line
 *	("OK [CAPABILITY ...] ..." or "NO [UNAVAILABLE] ...") with the
 *	client's tag in front is the answer to LOGIN/AUTHENTICATE, and after
 *	an OK imapd-login only relays bytes between the client and imapd until
 *	either side closes.  A wrong password: "NO [AUTHENTICATIONFAILED]",
 *	after the delay the auth daemon imposes; after auth_max_failures a
 *	BYE and the connection is closed.
 *
 *	Limits: a command with its literals at most 8 KiB (a larger
 *	synchronising literal gets BAD, a non-synchronising one over 4 KiB a
 *	BYE), 8 literals per command, 100 commands before a login,
 *	max_errors bad commands, 3 minutes idle before a login and 35 while
 *	relaying (imapd logs out after 30), tls_handshake_timeout.
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
	struct imap_login l;
	struct config cfg;
	memset(&l, 0, sizeof l);
	l.implicit = login_start(argc, argv, "imapd-login", "imap",
				 "* BYE [UNAVAILABLE] server configuration error\r\n", &cfg);
	login_client_init(&l.c, &cfg, IMAP_LOGIN_TIMEOUT);
	login_tls_setup(&l.c, l.implicit);
	l.max_errors = config_num(&cfg, "max_errors");
	l.max_failures = config_num(&cfg, "auth_max_failures");
	int rc = 0;
	if (l.implicit && login_tls_start(&l.c) < 0)
		rc = l.c.tls ? 0 : 111;
	else
		session_run(&l);
	login_client_free(&l.c);
	config_free(&cfg);
	return rc;
}
