/* login.h: the modules of libexec/pop3d-login, the POP3 login stage:
 * main.c (setup: client address, TLS key, dropping root), session.c (the
 * AUTHORIZATION state: CAPA, STLS, USER/PASS, AUTH, QUIT), auth.c (asking
 * the auth daemon, which hands the session to mailboxd/pop3d) and relay.c
 * (bytes between the client and pop3d after a login).  Only pop3d-login
 * includes this. */
#ifndef POSTHORN_POP3_LOGIN_H
#define POSTHORN_POP3_LOGIN_H

#include "buf.h"
#include "config.h"
#include "io.h"
#include "tls.h"

#define LOGIN_USER_MAX 256
#define SASL_LINE_MAX 4096	/* one AUTH continuation line */
#define LOGIN_MAX_COMMANDS 100	/* commands before a login */

struct login {
	const struct config *cfg;
	struct io io;
	struct tls_server *tls;	/* NULL: no key, STLS not offered */
	struct buf ip;
	struct buf user;	/* from USER, until PASS */
	int implicit;		/* -s: pop3s, TLS from the first byte */
	int auth_fd;		/* connection to the auth daemon, -1 until used */
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

/* relay.c: copies bytes both ways until either side closes or the idle
 * timeout; anything the client already pipelined goes first. */
void relay_run(struct login *l, int stage_fd);

#endif
