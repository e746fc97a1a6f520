/* auth.c: a login attempt of pop3d-login.  common/loginstage.c asks the
 * auth daemon with one end of a fresh socketpair; on success the daemon
 * has handed the other end to mailboxd, which runs pop3d on it.  pop3d's
 * first line (+OK, or -ERR [IN-USE] / [SYS/TEMP]) is this login's answer to
 * the client; after a +OK the bytes are relayed until the session ends.
 * Used by session.c. */
#include "login.h"
#include "log.h"

#include <string.h>
#include <unistd.h>

#define STAGE_GREETING_MAX 512

static void failed(struct login *l, const struct auth_result *r, const char *who)
{
	struct buf tmp = BUF_INIT;
	if (r->code == 5) {
		l->failures++;
		log_info("login failed for %s from %s", log_safe(&tmp, who, strlen(who), 100),
			 buf_cstr(&l->c.ip));
		reply(l, "-ERR [AUTH] invalid credentials");
		if (l->failures >= l->max_failures) {
			reply(l, "-ERR [AUTH] too many failed logins, closing");
			l->done = 1;
		}
	} else {
		reply(l, "-ERR [SYS/TEMP] authentication temporarily unavailable, try again later");
	}
	buf_free(&tmp);
}

/* The auth daemon said yes: pop3d is on the other end of fd. */
static void logged_in(struct login *l, int fd, struct auth_result *r)
{
	struct buf line = BUF_INIT;
	if (login_stage_line(fd, &line, STAGE_GREETING_MAX) < 0) {
		log_warn("no answer from the mailbox stage for %s", buf_cstr(&r->user));
		reply(l, "-ERR [SYS/TEMP] mailbox not available, try again later");
	} else {
		io_write(&l->c.io, line.s, line.len);
		if (line.len >= 3 && !memcmp(line.s, "+OK", 3)) {
			log_info("login %s from %s%s", buf_cstr(&r->user),
				 buf_cstr(&l->c.ip), tls_active(&l->c.io) ? " (TLS)" : "");
			login_relay(&l->c, fd);
			l->done = 1;
		}
	}
	buf_free(&line);
}

void login_attempt(struct login *l, const char *authzid, const char *authcid,
		   struct buf *password)
{
	struct auth_result r = {0, BUF_INIT, BUF_INIT};
	int fd;
	if (login_auth(&l->c, "pop3", authzid, authcid, password, &fd, &r) == 2) {
		logged_in(l, fd, &r);
		close(fd);
	} else {
		failed(l, &r, authcid);
	}
	auth_result_free(&r);
}
