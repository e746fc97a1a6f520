/* session: smtpd's command loop (RFC 5321 4.1, with RFC 2920 pipelining),
 * replies and error accounting, and the commands that need no more than
 * the session state: HELO, EHLO, RSET, NOOP, QUIT, VRFY, EXPN, HELP.
 * MAIL and RCPT are in mail.c, DATA in data_cmd.c. */
#include "smtpd.h"
#include "log.h"
#include "parse.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Errors after which every error reply is delayed (smtp_error_delay):
 * slows down a client that probes or is broken, harmless for others. */
#define ERRORS_BEFORE_DELAY 3

static int ms(long long seconds)
{
	return seconds > 86400 ? 86400 * 1000 : (int)(seconds * 1000);
}

static void limits_load(struct limits *l, const struct config *c)
{
	l->max_size = (unsigned long long)config_num(c, "max_message_size");
	l->max_header = (unsigned long long)config_num(c, "max_header_size");
	l->line_max = (size_t)config_num(c, "smtp_line_max");
	l->data_line_max = (size_t)config_num(c, "smtp_data_line_max");
	l->max_rcpt = (long)config_num(c, "max_recipients");
	l->max_errors = (long)config_num(c, "max_errors");
	l->max_hops = (long)config_num(c, "max_hops");
	l->timeout_ms = ms(config_num(c, "smtp_timeout"));
	l->data_timeout_ms = ms(config_num(c, "smtp_data_timeout"));
	l->data_deadline_ms = ms(config_num(c, "smtp_data_deadline"));
	l->max_junk = config_num(c, "max_junk_commands");
	l->error_delay = (unsigned)config_num(c, "smtp_error_delay");
	if (l->line_max < 512)	/* RFC 5321 4.5.3.1.4 minimum */
		l->line_max = 512;
	if (l->max_errors < 1)
		l->max_errors = 1;
}

void session_init(struct session *s, const struct config *cfg, int submission)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->submission = submission;
	limits_load(&s->lim, cfg);
	s->domain = config_str(cfg, "domain");
	s->smtputf8_offered = config_bool(cfg, "smtputf8");
	io_init(&s->io, 0, 1, s->lim.timeout_ms);
}

void session_reset(struct session *s)
{
	for (size_t i = 0; i < s->nrcpt; i++) {
		buf_free(&s->rcpts[i]);
		buf_free(&s->rcpt_dsn[i]);
	}
	s->nrcpt = 0;
	buf_free(&s->dsn_mail);
	buf_reset(&s->from);
	s->in_mail = s->rcpt_tried = 0;
	s->body_8bit = s->smtputf8 = 0;
}

void session_free(struct session *s)
{
	session_reset(s);
	free(s->rcpts);
	free(s->rcpt_dsn);
	buf_free(&s->from);
	buf_free(&s->ip);
	buf_free(&s->rdns);
	buf_free(&s->helo);
	buf_free(&s->tmp);
	if (s->res_state == 1)
		resolver_close(&s->res);
	cidr_list_free(&s->relay);
	starttls_free(s);
	auth_free(s);
	io_free(&s->io);
}

const char *safe(struct session *s, const char *p, size_t n)
{
	return log_safe(&s->tmp, p, n, 200);
}

static void vreply(struct session *s, int code, const char *enh, const char *fmt, va_list ap)
{
	io_printf(&s->io, "%d %s ", code, enh);
	buf_vprintf(&s->io.out, fmt, ap);
	io_puts(&s->io, "\r\n");
}

void reply(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, code, enh, fmt, ap);
	va_end(ap);
}

void reply_error(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	s->errors++;
	if (s->errors > ERRORS_BEFORE_DELAY && s->lim.error_delay > 0) {
		io_flush(&s->io);
		sleep(s->lim.error_delay);
	}
	va_list ap;
	va_start(ap, fmt);
	vreply(s, code, enh, fmt, ap);
	va_end(ap);
	if (s->errors >= s->lim.max_errors) {
		reply(s, 421, "4.7.0", "%s Error: too many errors", s->hostname);
		log_info("too many errors from %s, closing", buf_cstr(&s->ip));
		s->quit = 1;
	}
}

static void cmd_helo(struct session *s, const struct smtp_cmd *c, int esmtp)
{
	if (c->arglen == 0) {
		reply_error(s, 501, "5.5.4", "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	if (!smtp_helo_valid(c->arg, c->arglen)) {
		reply_error(s, 501, "5.5.2", "Error: invalid %s argument", esmtp ? "EHLO" : "HELO");
		return;
	}
	session_reset(s);	/* RFC 5321 4.1.4: like RSET */
	buf_set(&s->helo, c->arg, c->arglen);
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, 250, "2.0.0", "%s", s->hostname);
		return;
	}
	io_printf(&s->io, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n", s->hostname,
		  s->lim.max_size);
	if (config_bool(s->cfg, "smtpd_8bitmime"))	/* off: tests play a 7-bit peer */
		io_puts(&s->io, "250-8BITMIME\r\n");
	io_puts(&s->io, "250-DSN\r\n");
	if (starttls_offer(s))
		io_puts(&s->io, "250-STARTTLS\r\n");
	if (auth_offered(s))
		io_puts(&s->io, "250-AUTH PLAIN LOGIN\r\n");
	if (s->smtputf8_offered)
		io_puts(&s->io, "250-SMTPUTF8\r\n");
	io_puts(&s->io, "250 ENHANCEDSTATUSCODES\r\n");
}

/* NOOP, RSET, VRFY, EXPN and HELP never make a client err, so they are
 * counted on their own: a session cannot idle on them for ever. */
static int junk_exceeded(struct session *s, enum smtp_verb v)
{
	if (v != V_NOOP && v != V_RSET && v != V_VRFY && v != V_EXPN && v != V_HELP)
		return 0;
	if (++s->junk <= s->lim.max_junk)
		return 0;
	reply(s, 421, "4.7.0", "%s Error: too many commands without mail", s->hostname);
	log_info("too many junk commands from %s", buf_cstr(&s->ip));
	s->quit = 1;
	return 1;
}

static void cmd_simple(struct session *s, const struct smtp_cmd *c)
{
	if (junk_exceeded(s, c->verb))
		return;
	switch (c->verb) {
	case V_NOOP:	/* NOOP may carry a string (RFC 5321 4.1.1.9) */
		reply(s, 250, "2.0.0", "Ok");
		break;
	case V_RSET:
		session_reset(s);
		reply(s, 250, "2.0.0", "Ok");
		break;
	case V_QUIT:
		reply(s, 221, "2.0.0", "%s closing connection", s->hostname);
		s->quit = 1;
		break;
	case V_VRFY:
		if (c->arglen == 0)
			reply_error(s, 501, "5.5.4", "Syntax: VRFY address");
		else
			reply(s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case V_EXPN:
		reply_error(s, 502, "5.5.1", "Error: EXPN not supported");
		break;
	case V_HELP:
		reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP; see RFC 5321");
		break;
	default:
		break;
	}
}

/* Commands that take no argument. */
static int takes_no_arg(enum smtp_verb v)
{
	return v == V_RSET || v == V_QUIT || v == V_DATA;
}

static void dispatch(struct session *s, const struct smtp_cmd *c)
{
	if (takes_no_arg(c->verb) && c->arglen) {
		reply_error(s, 501, "5.5.4", "Syntax: no parameters allowed");
		return;
	}
	switch (c->verb) {
	case V_HELO: cmd_helo(s, c, 0); break;
	case V_EHLO: cmd_helo(s, c, 1); break;
	case V_MAIL: cmd_mail(s, c->arg, c->arglen); break;
	case V_RCPT: cmd_rcpt(s, c->arg, c->arglen); break;
	case V_DATA: cmd_data(s, c->arglen); break;
	case V_STARTTLS: cmd_starttls(s, c->arglen); break;
	case V_AUTH: cmd_auth(s, c->arg, c->arglen); break;
	case V_NOTIMPL:
		reply_error(s, 502, "5.5.1", "Error: command not implemented");
		break;
	case V_UNKNOWN:
		reply_error(s, 500, "5.5.2", "Error: command not recognized");
		break;
	default:
		cmd_simple(s, c);
		break;
	}
}

static void handle_line(struct session *s, struct buf *line)
{
	size_t n = line->len;
	if (n && line->s[n - 1] == '\n')
		n--;
	if (n && line->s[n - 1] == '\r')
		n--;
	struct smtp_cmd c;
	if (smtp_parse_command(line->s, n, &c) < 0) {
		log_info("bad characters in command from %s: %s", buf_cstr(&s->ip),
			 safe(s, line->s, n));
		reply_error(s, 500, "5.5.2", "Error: bad character in command");
		return;
	}
	/* only AUTH may use the longer line of RFC 4954 4 */
	if (line->len > s->lim.line_max && c.verb != V_AUTH) {
		reply_error(s, 500, "5.5.2", "Error: line too long");
		return;
	}
	dispatch(s, &c);
	if (c.verb == V_AUTH)	/* it may hold a password */
		auth_wipe(line);
}

/* RFC 2920: replies may wait while more commands are already here, but
 * must be sent before the server waits for input. */
static int flush_if_idle(struct session *s)
{
	if (memchr(s->io.in.s ? s->io.in.s : "", '\n', s->io.in.len))
		return 0;
	return io_flush(&s->io);
}

static void timeout_exit(struct session *s, const char *where)
{
	reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->hostname);
	io_flush(&s->io);
	log_info("timeout %s from %s", where, buf_cstr(&s->ip));
	s->quit = 1;
}

/* One command; returns 0 to go on, -1 when the session ends. */
static int session_step(struct session *s, struct buf *line)
{
	if (flush_if_idle(s) < 0)
		return -1;
	int p = s->tls_probed ? 0 : starttls_probe(s);
	if (p == -2)
		timeout_exit(s, "after command");
	if (p < 0)
		return -1;
	/* the whole line, not just each read, within smtp_timeout */
	io_set_deadline(&s->io, s->lim.timeout_ms);
	int r = io_getline(&s->io, line, auth_line_max(s));
	io_set_deadline(&s->io, 0);
	if (r == LINE_TOOLONG) {
		reply_error(s, 500, "5.5.2", "Error: line too long");
		return s->quit ? -1 : 0;
	}
	if (r == LINE_ERR && s->io.err == IO_ERR_TIMEOUT) {
		timeout_exit(s, "after command");
		return -1;
	}
	if (r != LINE_OK || line->s[line->len - 1] != '\n') {
		log_info("lost connection from %s", buf_cstr(&s->ip));
		return -1;
	}
	handle_line(s, line);
	return s->quit ? -1 : 0;
}

void session_run(struct session *s)
{
	struct buf line = BUF_INIT;
	log_info("connect from %s[%s]", buf_cstr(&s->rdns), buf_cstr(&s->ip));
	/* RFC 2034: no enhanced code in the greeting */
	io_printf(&s->io, "220 %s ESMTP posthorn\r\n", s->hostname);
	while (session_step(s, &line) == 0)
		;
	io_flush(&s->io);
	log_info("disconnect from %s[%s] helo=%s messages=%ld errors=%ld",
		 buf_cstr(&s->rdns), buf_cstr(&s->ip),
		 safe(s, s->helo.s, s->helo.len), s->messages, s->errors);
	buf_free(&line);
}
