/* session.c: imapd-login's not-authenticated state (RFC 3501 6.1, 6.2):
 * CAPABILITY, NOOP, LOGOUT, STARTTLS, ID (RFC 2971), LOGIN, AUTHENTICATE
 * PLAIN and LOGIN (with SASL-IR, RFC 4959).  Passwords only over TLS, or
 * in clear from a loopback client with plaintext_auth_loopback; otherwise
 * LOGINDISABLED and no AUTH=.  Bad commands get BAD and the session goes
 * on, up to max_errors; IMAP_LOGIN_MAX_COMMANDS without a login end it.
 * Used by main.c. */
#include "login.h"
#include "log.h"
#include "sasl.h"

#include <string.h>

#define ID_PAIRS_MAX 30	/* RFC 2971 3.3 */

void untagged(struct imap_login *l, const char *text)
{
	io_puts(&l->c.io, "* ");
	io_puts(&l->c.io, text);
	io_puts(&l->c.io, "\r\n");
}

void tagged(struct imap_login *l, const struct buf *tag, const char *text)
{
	io_write(&l->c.io, tag->s, tag->len);
	io_puts(&l->c.io, " ");
	io_puts(&l->c.io, text);
	io_puts(&l->c.io, "\r\n");
}

static void bad(struct imap_login *l, const struct buf *tag, const char *text)
{
	l->errors++;
	if (tag && tag->len)
		tagged(l, tag, text);
	else
		untagged(l, text);
}

static int starttls_offered(const struct imap_login *l)
{
	return login_tls_offered(&l->c);
}

static void capabilities(struct imap_login *l, struct buf *out)
{
	buf_puts(out, "CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID");
	if (starttls_offered(l))
		buf_puts(out, " STARTTLS");
	if (login_plaintext_ok(&l->c))
		buf_puts(out, " AUTH=PLAIN AUTH=LOGIN");
	else
		buf_puts(out, " LOGINDISABLED");
}

static void cmd_capability(struct imap_login *l, const struct buf *tag)
{
	struct buf caps = BUF_INIT;
	capabilities(l, &caps);
	untagged(l, buf_cstr(&caps));
	tagged(l, tag, "OK CAPABILITY completed");
	buf_free(&caps);
}

static void cmd_starttls(struct imap_login *l, const struct buf *tag)
{
	if (!starttls_offered(l))
		return bad(l, tag, tls_active(&l->c.io) ? "BAD TLS is already active"
							: "BAD STARTTLS not available");
	if (login_tls_ready(&l->c) < 0)
		return tagged(l, tag, "NO [UNAVAILABLE] TLS is not available now");
	tagged(l, tag, "OK begin TLS negotiation now");
	if (io_flush(&l->c.io) < 0 || login_tls_start(&l->c) < 0)
		l->done = 1;	/* login_tls_start dropped anything pipelined */
}

static void cmd_logout(struct imap_login *l, const struct buf *tag)
{
	untagged(l, "BYE posthorn IMAP4rev1 server logging out");
	tagged(l, tag, "OK LOGOUT completed");
	l->done = 1;
}

/* ID: NIL or ( string nstring ... ), checked and answered; the client's
 * values are not used. */
static void cmd_id(struct imap_login *l, const struct buf *tag, struct imap_cur *p)
{
	struct buf v = BUF_INIT;
	int nil, ok = p_sp(p) == 0;
	if (ok && p_char(p, '(') == 0) {
		for (int n = 0; ok && p_char(p, ')') < 0; n++)
			ok = n < ID_PAIRS_MAX && (n == 0 || p_sp(p) == 0) && p_string(p, &v) == 0 &&
			     p_sp(p) == 0 && p_nstring(p, &v, &nil) == 0;
	} else if (ok) {
		ok = p_nstring(p, &v, &nil) == 0 && nil;
	}
	buf_free(&v);
	if (!ok || !p_end(p))
		return bad(l, tag, "BAD usage: ID NIL or ID (\"name\" \"value\" ...)");
	untagged(l, "ID (\"name\" \"posthorn\" \"vendor\" \"posthorn\")");
	tagged(l, tag, "OK ID completed");
}

static int plaintext_refused(struct imap_login *l, const struct buf *tag)
{
	if (login_plaintext_ok(&l->c))
		return 0;
	tagged(l, tag, "NO [PRIVACYREQUIRED] no passwords without TLS: use STARTTLS first (or port 993)");
	l->errors++;
	return 1;
}

static void cmd_login(struct imap_login *l, const struct buf *tag, struct imap_cur *p)
{
	struct buf user = BUF_INIT, pw = BUF_INIT;
	if (p_sp(p) < 0 || p_astring(p, &user) < 0 || p_sp(p) < 0 || p_astring(p, &pw) < 0 ||
	    !p_end(p) || user.len == 0 || user.len > 256)
		bad(l, tag, "BAD usage: LOGIN user password");
	else if (!plaintext_refused(l, tag))
		login_attempt(l, tag, "", buf_cstr(&user), &pw);
	if (pw.s)
		explicit_bzero(pw.s, pw.cap);
	buf_free(&pw);
	buf_free(&user);
}

/* "SP mechanism [SP initial-response]" (RFC 4959): 0 ok, -1 malformed. */
static int authenticate_args(struct imap_cur *p, struct buf *mech, struct buf *ir, int *has_ir)
{
	if (p_sp(p) < 0 || p_atom(p, mech) < 0)
		return -1;
	*has_ir = !p_end(p);
	if (*has_ir && (p_sp(p) < 0 || p_atom(p, ir) < 0 || !p_end(p)))
		return -1;
	return 0;
}

static void cmd_authenticate(struct imap_login *l, const struct buf *tag, struct imap_cur *p)
{
	struct buf mech = BUF_INIT, ir = BUF_INIT;
	int has_ir = 0;
	struct sasl s;
	memset(&s, 0, sizeof s);
	if (authenticate_args(p, &mech, &ir, &has_ir) < 0) {
		bad(l, tag, "BAD usage: AUTHENTICATE mechanism [initial-response]");
	} else if (plaintext_refused(l, tag)) {
		/* answered */
	} else if (sasl_begin(&s, mech.s, mech.len) < 0) {
		tagged(l, tag, "NO unsupported mechanism (PLAIN and LOGIN are)");
		l->errors++;
	} else {
		int r = login_sasl(&l->c, &s, ir.s, ir.len, has_ir, IMAP_SASL_LINE_MAX);
		if (r == SASL_DONE)
			login_attempt(l, tag, buf_cstr(&s.authzid), buf_cstr(&s.authcid), &s.password);
		else if (r == LOGIN_SASL_EOF)
			l->done = 1;
		else
			bad(l, tag, r == SASL_CANCEL ? "BAD authentication cancelled"
						     : "BAD malformed SASL response");
	}
	sasl_free(&s);
	if (ir.s)
		explicit_bzero(ir.s, ir.cap);
	buf_free(&ir);
	buf_free(&mech);
}

static void dispatch(struct imap_login *l, const struct imap_cmd *cmd, struct buf *tag)
{
	struct imap_cur p;
	struct buf name = BUF_INIT;
	cur_init(&p, cmd);
	if (p_tag(&p, tag) < 0 || p_sp(&p) < 0 || p_atom(&p, &name) < 0) {
		buf_reset(tag);
		bad(l, NULL, "BAD malformed command");
	} else if (!strcasecmp(name.s, "CAPABILITY") && p_end(&p)) {
		cmd_capability(l, tag);
	} else if (!strcasecmp(name.s, "NOOP") && p_end(&p)) {
		tagged(l, tag, "OK NOOP completed");
	} else if (!strcasecmp(name.s, "LOGOUT") && p_end(&p)) {
		cmd_logout(l, tag);
	} else if (!strcasecmp(name.s, "STARTTLS") && p_end(&p)) {
		cmd_starttls(l, tag);
	} else if (!strcasecmp(name.s, "ID")) {
		cmd_id(l, tag, &p);
	} else if (!strcasecmp(name.s, "LOGIN")) {
		cmd_login(l, tag, &p);
	} else if (!strcasecmp(name.s, "AUTHENTICATE")) {
		cmd_authenticate(l, tag, &p);
	} else if (!strcasecmp(name.s, "CAPABILITY") || !strcasecmp(name.s, "NOOP") ||
		   !strcasecmp(name.s, "LOGOUT") || !strcasecmp(name.s, "STARTTLS")) {
		bad(l, tag, "BAD this command takes no arguments");
	} else {
		bad(l, tag, "BAD command unknown or not valid before login (use LOGIN or AUTHENTICATE)");
	}
	buf_free(&name);
}

/* The tag of a command that could not be read whole, if it has one. */
static void tag_of(const struct imap_cmd *cmd, struct buf *tag)
{
	struct imap_cur p;
	cur_init(&p, cmd);
	if (p_tag(&p, tag) < 0 || p_sp(&p) < 0)
		buf_reset(tag);
}

static void read_failed(struct imap_login *l, struct imap_cmd *cmd, int r, struct buf *tag)
{
	if (r == CMD_NONSYNC_BIG) {
		untagged(l, "BYE [TOOBIG] literal too big before login, closing");
		l->done = 1;
		return;
	}
	tag_of(cmd, tag);
	bad(l, tag, r == CMD_TOOLONG ? "BAD command line too long" :
		    r == CMD_BIGLIT ? "BAD [TOOBIG] literal too big before login" :
				      "BAD too many literals");
}

/* A TLS ClientHello on the STARTTLS port (a client that should use 993):
 * answered once and closed, not read as lines that never end. */
static int client_hello(struct imap_login *l)
{
	if (tls_active(&l->c.io) || (io_pending(&l->c.io) == 0 && io_fill(&l->c.io) <= 0))
		return 0;
	const struct buf *in = &l->c.io.in;
	if (in->len < 2 || in->s[0] != 0x16 || in->s[1] != 0x03)
		return 0;
	log_info("TLS ClientHello on the plain IMAP port from %s", buf_cstr(&l->c.ip));
	untagged(l, "BYE TLS ClientHello on a plain IMAP port: use port 993 or STARTTLS");
	return 1;
}

static void one_command(struct imap_login *l, struct imap_cmd *cmd, struct buf *tag)
{
	int r = cmd_read(l, cmd);
	if (r == CMD_EOF) {
		if (l->c.io.err == IO_ERR_TIMEOUT)
			untagged(l, "BYE autologout: idle for too long");
		l->done = 1;
	} else if (++l->commands > IMAP_LOGIN_MAX_COMMANDS) {
		untagged(l, "BYE too many commands without a login, closing");
		l->done = 1;
	} else if (r != CMD_OK) {
		read_failed(l, cmd, r, tag);
	} else {
		dispatch(l, cmd, tag);
	}
	cmd_clear(cmd);	/* LOGIN lines hold passwords */
	buf_reset(tag);
	if (l->errors >= l->max_errors && !l->done) {
		untagged(l, "BYE too many bad commands, closing");
		l->done = 1;
	}
}

void session_run(struct imap_login *l)
{
	struct imap_cmd cmd;
	struct buf tag = BUF_INIT, caps = BUF_INIT;
	memset(&cmd, 0, sizeof cmd);
	buf_putc(&caps, '[');
	capabilities(l, &caps);
	buf_puts(&caps, "] posthorn IMAP4rev1 ready");
	io_puts(&l->c.io, "* OK ");
	io_write(&l->c.io, caps.s, caps.len);
	io_puts(&l->c.io, "\r\n");
	if (io_flush(&l->c.io) == 0 && client_hello(l))
		l->done = 1;
	while (!l->done && io_flush(&l->c.io) == 0)
		one_command(l, &cmd, &tag);
	io_flush(&l->c.io);
	cmd_free(&cmd);
	buf_free(&tag);
	buf_free(&caps);
}
