/* auth.c: a login attempt of pop3d-login.  The credentials and one end of
 * a fresh socketpair go to the auth daemon (common/authclient.h); on
 * success the daemon has handed the other end to mailboxd, which runs
 * pop3d on it.  pop3d's first line (+OK, or -ERR [IN-USE] / [SYS/TEMP])
 * is this login's answer to the client; after a +OK the bytes are relayed
 * until the session ends.  Used by session.c. */
#include "login.h"
#include "authclient.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STAGE_GREETING_MAX 512
#define STAGE_GREETING_MS 30000

/* pop3d's first line, read without buffering past it: everything after
 * belongs to the relay.  0 ok, -1 nothing usable. */
static int stage_greeting(int fd, struct buf *line)
{
	char c;
	while (line->len < STAGE_GREETING_MAX) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, STAGE_GREETING_MS) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		buf_putc(line, c);
		if (c == '\n')
			return 0;
	}
	return -1;
}

static void failed(struct login *l, const struct auth_result *r, const char *who)
{
	struct buf tmp = BUF_INIT;
	if (r->code == 5) {
		l->failures++;
		log_info("login failed for %s from %s", log_safe(&tmp, who, strlen(who), 100),
			 buf_cstr(&l->ip));
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
	if (stage_greeting(fd, &line) < 0) {
		log_warn("no answer from the mailbox stage for %s", buf_cstr(&r->user));
		reply(l, "-ERR [SYS/TEMP] mailbox not available, try again later");
	} else {
		io_write(&l->io, line.s, line.len);
		if (line.len >= 3 && !memcmp(line.s, "+OK", 3)) {
			log_info("login %s from %s%s", buf_cstr(&r->user),
				 buf_cstr(&l->ip), tls_active(&l->io) ? " (TLS)" : "");
			relay_run(l, fd);
			l->done = 1;
		}
	}
	buf_free(&line);
}

void login_attempt(struct login *l, const char *authzid, const char *authcid,
		   struct buf *password)
{
	struct auth_result r = {0, BUF_INIT, BUF_INIT};
	int sv[2] = {-1, -1};
	if ((l->auth_fd < 0 && auth_connect(&l->auth_fd, l->cfg) < 0) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r.code = 4;
	} else {
		auth_check(l->auth_fd, "pop3", buf_cstr(&l->ip), authzid, authcid,
			   buf_cstr(password), sv[1], "pop3", &r);
		close(sv[1]);
	}
	if (password->s)
		explicit_bzero(password->s, password->len);
	buf_reset(password);
	if (r.code == 2)
		logged_in(l, sv[0], &r);
	else
		failed(l, &r, authcid);
	if (r.code != 2 && r.code != 5 && l->auth_fd >= 0) {
		close(l->auth_fd);	/* reconnect next time */
		l->auth_fd = -1;
	}
	if (sv[0] >= 0)
		close(sv[0]);
	auth_result_free(&r);
}
