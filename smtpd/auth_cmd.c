/* auth_cmd: SMTP AUTH (RFC 4954) with PLAIN and LOGIN (common/sasl.c).
 * smtpd never sees a password hash: the credentials go to the auth daemon
 * (common/authclient.c), which also delays failures per client IP.
 * Offered only over TLS, or in clear to a loopback client when
 * plaintext_auth_loopback = yes (tests); the same on every port: on port
 * 25 an authenticated client may relay, like on submission.  Passwords
 * and their base64 are wiped from smtpd's buffers once used.  Used by
 * session.c (AUTH, EHLO) and mail.c (submission policy). */
#include "smtpd.h"
#include "authclient.h"
#include "cidr.h"
#include "log.h"
#include "sasl.h"
#include "tls.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* RFC 4954 4: a line of the exchange may be 12288 octets (with CRLF). */
#define AUTH_LINE_MAX 12288

static int is_loopback(const struct session *s)
{
	static const char *const blocks[] = {"127.0.0.0/8", "::1/128", NULL};
	unsigned char ip[16];
	if (cidr_parse_ip(s->ip.s ? s->ip.s : "", s->ip.len, ip) < 0)
		return 0;
	for (int i = 0; blocks[i]; i++) {
		struct cidr c;
		if (cidr_parse(blocks[i], strlen(blocks[i]), &c) == 0 && cidr_contains(&c, ip))
			return 1;
	}
	return 0;
}

int auth_offered(const struct session *s)
{
	if (tls_active(&s->io))
		return 1;
	return config_bool(s->cfg, "plaintext_auth_loopback") && is_loopback(s);
}

size_t auth_line_max(const struct session *s)
{
	return s->lim.line_max > AUTH_LINE_MAX ? s->lim.line_max : AUTH_LINE_MAX;
}

void auth_wipe(struct buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
}

/* Consumed input stays in io's buffer past its length: wipe that too. */
static void wipe_input_slack(struct session *s)
{
	struct buf *in = &s->io.in;
	if (in->s && in->cap > in->len)
		explicit_bzero(in->s + in->len, in->cap - in->len);
}

void auth_free(struct session *s)
{
	if (s->auth_fd > 0)
		close(s->auth_fd);
	s->auth_fd = 0;
	buf_free(&s->auth_user);
}

/* The client's next response line, without CRLF: 0 ok, -1 the session
 * ends (timeout, EOF; already answered), -2 too long (answered 500). */
static int read_response(struct session *s, struct buf *line)
{
	if (io_flush(&s->io) < 0)
		return -1;
	int r = io_getline(&s->io, line, AUTH_LINE_MAX);
	wipe_input_slack(s);
	if (r == LINE_TOOLONG) {
		reply_error(s, 500, "5.5.6", "Authentication Exchange line is too long");
		return -2;
	}
	if (r == LINE_ERR && s->io.err == IO_ERR_TIMEOUT) {
		reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->hostname);
		log_info("timeout during AUTH from %s", buf_cstr(&s->ip));
	}
	if (r != LINE_OK || line->s[line->len - 1] != '\n') {
		s->quit = 1;
		return -1;
	}
	line->len--;
	if (line->len && line->s[line->len - 1] == '\r')
		line->len--;
	return 0;
}

/* Runs the SASL exchange: SASL_DONE with credentials in x, else the
 * reply has been sent already (returns the sasl result or -3). */
static int exchange(struct session *s, struct sasl *x, const char *ir, size_t irlen)
{
	struct buf ch = BUF_INIT, line = BUF_INIT;
	/* "=" is the empty initial response (RFC 4954 4) */
	int r = sasl_step(x, ir, ir && irlen == 1 && ir[0] == '=' ? 0 : irlen, &ch);
	while (r == SASL_CONTINUE) {
		io_printf(&s->io, "334 %.*s\r\n", (int)ch.len, ch.s ? ch.s : "");
		int g = read_response(s, &line);
		if (g < 0) {
			r = -3;
			break;
		}
		r = sasl_step(x, line.s, line.len, &ch);
	}
	if (r == SASL_BAD)
		reply_error(s, 501, "5.5.2", "Error: malformed authentication data");
	else if (r == SASL_CANCEL)
		reply_error(s, 501, "5.0.0", "Authentication cancelled");
	auth_wipe(&line);
	buf_free(&line);
	buf_free(&ch);
	return r;
}

static void failed(struct session *s, const struct sasl *x)
{
	s->auth_failures++;
	log_info("AUTH user=%s from %s failed", safe(s, x->authcid.s, x->authcid.len),
		 buf_cstr(&s->ip));
	reply(s, 535, "5.7.8", "Error: authentication credentials invalid");
	if (s->auth_failures >= config_num(s->cfg, "auth_max_failures")) {
		reply(s, 421, "4.7.0", "%s Error: too many failed authentications", s->hostname);
		log_info("too many failed authentications from %s, closing", buf_cstr(&s->ip));
		s->quit = 1;
	}
}

/* Asks the auth daemon (connected on first use, kept for retries). */
static void verify(struct session *s, struct sasl *x)
{
	struct auth_result res = {0, BUF_INIT, BUF_INIT};
	if (s->auth_fd <= 0 && auth_connect(&s->auth_fd, s->cfg) < 0) {
		log_error("cannot reach the auth daemon: %s", strerror(errno));
		s->auth_fd = 0;
	}
	auth_check(s->auth_fd > 0 ? s->auth_fd : -1, "smtp", buf_cstr(&s->ip),
		   buf_cstr(&x->authzid), buf_cstr(&x->authcid), buf_cstr(&x->password),
		   -1, NULL, &res);
	if (res.code == 2) {
		buf_copy(&s->auth_user, &res.user);
		log_info("AUTH user=%s from %s ok", safe(s, res.user.s, res.user.len),
			 buf_cstr(&s->ip));
		reply(s, 235, "2.7.0", "Authentication successful");
		close(s->auth_fd);	/* not needed any more */
		s->auth_fd = 0;
	} else if (res.code == 5) {
		failed(s, x);
	} else {
		log_warn("AUTH from %s: temporary failure: %s", buf_cstr(&s->ip),
			 safe(s, res.text.s, res.text.len));
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		if (s->auth_fd > 0)
			close(s->auth_fd);	/* reconnect next time */
		s->auth_fd = 0;
	}
	auth_result_free(&res);
}

/* The checks before an exchange may start: 0 go on, -1 answered. */
static int auth_precheck(struct session *s)
{
	if (!s->esmtp) {
		reply_error(s, 503, "5.5.1", "Error: send EHLO first");
		return -1;
	}
	if (s->auth_user.len) {
		reply_error(s, 503, "5.5.1", "Error: already authenticated");
		return -1;
	}
	if (s->in_mail) {
		reply_error(s, 503, "5.5.1", "Error: AUTH not allowed during a mail transaction");
		return -1;
	}
	if (!auth_offered(s)) {
		reply_error(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		return -1;
	}
	return 0;
}

void cmd_auth(struct session *s, const char *arg, size_t len)
{
	wipe_input_slack(s);
	if (auth_precheck(s) < 0)
		return;
	const char *sp = memchr(arg, ' ', len);
	size_t mlen = sp ? (size_t)(sp - arg) : len;
	struct sasl x;
	if (mlen == 0) {
		reply_error(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (sasl_begin(&x, arg, mlen) < 0) {
		reply_error(s, 504, "5.5.4", "Error: unsupported authentication mechanism");
		return;
	}
	const char *ir = sp ? sp + 1 : NULL;
	size_t irlen = sp ? len - mlen - 1 : 0;
	if (exchange(s, &x, ir, irlen) == SASL_DONE)
		verify(s, &x);
	sasl_free(&x);
}
