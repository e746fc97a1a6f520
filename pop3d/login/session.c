/* session.c: pop3d-login's AUTHORIZATION state (RFC 1939 section 4, RFC
 * 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).  Passwords are accepted only
 * over TLS, or in clear from a loopback client when plaintext_auth_loopback
 * is set (tests).  Everything else before a login is -ERR.  Used by main.c. */
#include "login.h"
#include "log.h"
#include "sasl.h"

#include <string.h>

void reply(struct login *l, const char *text)
{
	io_puts(&l->c.io, text);
	io_puts(&l->c.io, "\r\n");
}

static void bad(struct login *l, const char *text)
{
	l->errors++;
	reply(l, text);
}

int auth_allowed(const struct login *l)
{
	return login_plaintext_ok(&l->c);
}

static int stls_offered(const struct login *l)
{
	return login_tls_offered(&l->c);
}

static void cmd_capa(struct login *l)
{
	reply(l, "+OK capability list follows");
	reply(l, "TOP");
	reply(l, "UIDL");
	reply(l, "RESP-CODES");
	reply(l, "AUTH-RESP-CODE");
	reply(l, "PIPELINING");
	if (auth_allowed(l)) {
		reply(l, "USER");
		reply(l, "SASL PLAIN LOGIN");
	}
	if (stls_offered(l))
		reply(l, "STLS");
	reply(l, "IMPLEMENTATION posthorn");
	reply(l, ".");
}

static void cmd_stls(struct login *l, int has_arg)
{
	if (has_arg)
		return bad(l, "-ERR STLS takes no argument");
	if (!stls_offered(l))
		return bad(l, tls_active(&l->c.io) ? "-ERR already using TLS" : "-ERR STLS not available");
	if (l->user.len)
		return bad(l, "-ERR STLS only before USER");
	if (login_tls_ready(&l->c) < 0)
		return bad(l, "-ERR [SYS/TEMP] TLS is not available now");
	reply(l, "+OK begin TLS negotiation");
	if (io_flush(&l->c.io) < 0) {
		l->done = 1;
		return;
	}
	if (login_tls_start(&l->c) < 0)
		l->done = 1;
}

static int plaintext_refused(struct login *l)
{
	if (auth_allowed(l))
		return 0;
	bad(l, "-ERR [AUTH] TLS required: use STLS first (or port 995)");
	return 1;
}

static void cmd_user(struct login *l, const char *arg, size_t n)
{
	if (plaintext_refused(l))
		return;
	if (n == 0 || n > LOGIN_USER_MAX || memchr(arg, 0, n))
		return bad(l, "-ERR usage: USER name");
	buf_set(&l->user, arg, n);
	buf_cstr(&l->user);
	reply(l, "+OK send PASS");
}

static void cmd_pass(struct login *l, const char *arg, size_t n)
{
	if (plaintext_refused(l))
		return;
	if (!l->user.len)
		return bad(l, "-ERR USER first");
	struct buf pw = BUF_INIT;
	buf_set(&pw, arg, n);
	struct buf user = BUF_INIT;
	buf_copy(&user, &l->user);
	buf_reset(&l->user);
	if (n == 0 || memchr(arg, 0, n)) {
		bad(l, "-ERR usage: PASS password");
		if (pw.s)
			explicit_bzero(pw.s, pw.len);
	} else {
		login_attempt(l, "", buf_cstr(&user), &pw);
	}
	buf_free(&pw);
	buf_free(&user);
}

/* SASL exchange after "AUTH mech [initial]": 0 done (creds in s), -1
 * answered already (error or cancel) or the connection is gone. */
static int sasl_exchange(struct login *l, struct sasl *s, const char *init, size_t ilen, int has_init)
{
	int r = login_sasl(&l->c, s, init, ilen, has_init, SASL_LINE_MAX);
	if (r == SASL_DONE)
		return 0;
	if (r == LOGIN_SASL_EOF)
		l->done = 1;
	else
		bad(l, r == SASL_CANCEL ? "-ERR [AUTH] authentication cancelled"
					: "-ERR [AUTH] malformed SASL response");
	return -1;
}

static void cmd_auth(struct login *l, const char *arg, size_t n, int has_arg)
{
	if (!has_arg) {	/* the pre-RFC 5034 listing some clients still ask for */
		if (!auth_allowed(l))
			return (void)plaintext_refused(l);
		reply(l, "+OK");
		reply(l, "PLAIN");
		reply(l, "LOGIN");
		reply(l, ".");
		return;
	}
	if (plaintext_refused(l))
		return;
	const char *sp = memchr(arg, ' ', n);
	size_t mlen = sp ? (size_t)(sp - arg) : n;
	struct sasl s;
	memset(&s, 0, sizeof s);
	if (sasl_begin(&s, arg, mlen) < 0)
		return bad(l, "-ERR [AUTH] unsupported mechanism (PLAIN and LOGIN are)");
	if (sasl_exchange(l, &s, sp ? sp + 1 : NULL, sp ? n - mlen - 1 : 0, sp != NULL) == 0)
		login_attempt(l, buf_cstr(&s.authzid), buf_cstr(&s.authcid), &s.password);
	sasl_free(&s);
}

/* Splits "KEYWORD[ arg]" (line end removed): 0 ok, -1 malformed. */
static int split(const char *p, size_t n, char kw[5], const char **arg, size_t *alen, int *has_arg)
{
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	size_t k = 0;
	while (k < n && p[k] != ' ') {
		char c = p[k];
		if (k == 4 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return -1;
		kw[k++] = (char)(c & ~0x20);
	}
	kw[k] = 0;
	*has_arg = k < n;
	*arg = k < n ? p + k + 1 : p + n;
	*alen = k < n ? n - k - 1 : 0;
	return k ? 0 : -1;
}

static void dispatch(struct login *l, struct buf *line)
{
	char kw[5];
	const char *arg;
	size_t alen;
	int has_arg;
	if (split(line->s, line->len, kw, &arg, &alen, &has_arg) < 0)
		return bad(l, "-ERR malformed command");
	if (!strcmp(kw, "CAPA"))
		cmd_capa(l);
	else if (!strcmp(kw, "STLS"))
		cmd_stls(l, has_arg);
	else if (!strcmp(kw, "USER"))
		cmd_user(l, arg, alen);
	else if (!strcmp(kw, "PASS"))
		cmd_pass(l, arg, alen);
	else if (!strcmp(kw, "AUTH"))
		cmd_auth(l, arg, alen, has_arg);
	else if (!strcmp(kw, "QUIT")) {
		reply(l, "+OK posthorn POP3 server signing off");
		l->done = 1;
	} else if (!strcmp(kw, "APOP"))
		bad(l, "-ERR APOP not supported");
	else
		bad(l, "-ERR not logged in (use USER/PASS or AUTH)");
}

void session_run(struct login *l)
{
	struct buf line = BUF_INIT;
	reply(l, "+OK posthorn POP3 ready");
	while (!l->done && io_flush(&l->c.io) == 0) {
		int r = io_getline(&l->c.io, &line, l->line_max);
		if (r == LINE_EOF || r == LINE_ERR) {
			if (r == LINE_ERR && l->c.io.err == IO_ERR_TIMEOUT)
				reply(l, "-ERR autologout: idle for too long");
			break;
		}
		if (++l->commands > LOGIN_MAX_COMMANDS) {
			reply(l, "-ERR too many commands without a login, closing");
			break;
		}
		if (r == LINE_TOOLONG)
			bad(l, "-ERR line too long");
		else
			dispatch(l, &line);
		if (line.s)
			explicit_bzero(line.s, line.len);	/* PASS lines */
		if (l->errors >= l->max_errors && !l->done) {
			reply(l, "-ERR too many bad commands, closing");
			l->done = 1;
		}
	}
	io_flush(&l->c.io);
	buf_free(&line);
}
