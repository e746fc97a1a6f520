/* auth.c: a login attempt of imapd-login.  common/loginstage.c asks the
 * auth daemon with one end of a fresh socketpair; on success the daemon
 * has handed the other end to mailboxd, which runs imapd on it.  imapd's
 * first line ("OK [CAPABILITY ...] text" or "NO [UNAVAILABLE] text",
 * doc/design.md "IMAP") gets the client's tag in front and is the answer
 * to LOGIN/AUTHENTICATE; after OK the bytes are relayed until the session
 * ends, after NO the client is still not authenticated.  Used by
 * session.c. */
#include "login.h"
#include "log.h"

#include <string.h>
#include <unistd.h>

#define STAGE_LINE_MAX 2048

static void failed(struct imap_login *l, const struct buf *tag, const struct auth_result *r,
		   const char *who)
{
	struct buf tmp = BUF_INIT;
	if (r->code == 5) {
		l->failures++;
		log_info("login failed for %s from %s", log_safe(&tmp, who, strlen(who), 100),
			 buf_cstr(&l->c.ip));
		tagged(l, tag, "NO [AUTHENTICATIONFAILED] authentication failed");
		if (l->failures >= l->max_failures) {
			untagged(l, "BYE too many failed logins, closing");
			l->done = 1;
		}
	} else {
		tagged(l, tag, "NO [UNAVAILABLE] authentication temporarily unavailable, try again later");
	}
	buf_free(&tmp);
}

/* imapd's first line must be a tagless OK or NO with a line end. */
static int stage_line_ok(const struct buf *line)
{
	return line->len >= 5 && line->s[line->len - 1] == '\n' &&
	       (!memcmp(line->s, "OK ", 3) || !memcmp(line->s, "NO ", 3)) &&
	       !memchr(line->s, 0, line->len);
}

/* The auth daemon said yes: imapd is on the other end of fd. */
static void logged_in(struct imap_login *l, const struct buf *tag, int fd,
		      struct auth_result *r)
{
	struct buf line = BUF_INIT;
	if (login_stage_line(fd, &line, STAGE_LINE_MAX) < 0 || !stage_line_ok(&line)) {
		log_warn("no answer from the mailbox stage for %s", buf_cstr(&r->user));
		tagged(l, tag, "NO [UNAVAILABLE] mailbox not available, try again later");
	} else {
		io_write(&l->c.io, tag->s, tag->len);
		io_puts(&l->c.io, " ");
		io_write(&l->c.io, line.s, line.len);
		if (line.s[0] == 'O') {
			log_info("login %s from %s%s", buf_cstr(&r->user), buf_cstr(&l->c.ip),
				 tls_active(&l->c.io) ? " (TLS)" : "");
			l->c.io.timeout_ms = IMAP_RELAY_TIMEOUT * 1000;
			login_relay(&l->c, fd);
			l->done = 1;
		}
	}
	buf_free(&line);
}

void login_attempt(struct imap_login *l, const struct buf *tag, const char *authzid,
		   const char *authcid, struct buf *password)
{
	struct auth_result r = {0, BUF_INIT, BUF_INIT};
	int fd;
	if (login_auth(&l->c, "imap", authzid, authcid, password, &fd, &r) == 2) {
		logged_in(l, tag, fd, &r);
		close(fd);
	} else {
		failed(l, tag, &r, authcid);
	}
	auth_result_free(&r);
}
