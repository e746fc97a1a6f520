/* login.h: the modules of libexec/pop3d-login, the POP3 login stage:
 * main.c (setup), session.c (the AUTHORIZATION state: CAPA, STLS,
 * USER/PASS, AUTH, QUIT) and auth.c (a login attempt and its answer).  The
 * parts imapd-login shares (TLS setup, the auth daemon request with the
 * mailbox hand-off, the relay) are in common/loginstage.c.  Only
 * pop3d-login includes this. */
#ifndef POSTHORN_POP3_LOGIN_H
#define POSTHORN_POP3_LOGIN_H

#include "buf.h"
#include "loginstage.h"

#define LOGIN_USER_MAX 256
#define SASL_LINE_MAX 4096	/* one AUTH continuation line */
#define LOGIN_MAX_COMMANDS 100	/* commands before a login */

struct login {
	struct login_client c;	/* config, io, TLS, client address, auth connection */
	struct buf user;	/* from USER, until PASS */
	int implicit;		/* -s: pop3s, TLS from the first byte */
	long errors, max_errors, commands;
	long failures, max_failures;
	size_t line_max;
	int done;
};

/* session.c */
void session_run(struct login *l);
void reply(struct login *l, const char *text);
int auth_allowed(const struct login *l);

/* auth.c: checks the credentials and, on success, relays the session to
 * the mailbox stage until it ends.  Wipes password.  Sets l->done when the
 * connection is over. */
void login_attempt(struct login *l, const char *authzid, const char *authcid,
		   struct buf *password);

#endif
