/* session.c: pop3d's command loop, the TRANSACTION and UPDATE states of
 * RFC 1939 (the AUTHORIZATION state belongs to pop3d-login), CAPA (RFC
 * 2449) and the response codes.  Replies are queued and flushed when no
 * more pipelined input is waiting (RFC 2449 PIPELINING). */
#include "pop3d.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static void reply(struct session *s, const char *text)
{
	io_puts(&s->io, text);
	io_puts(&s->io, "\r\n");
}

static void bad(struct session *s, const char *text)
{
	s->errors++;
	reply(s, text);
}

/* Message number argument -> index, or an -ERR reply and -1. */
static long msg_arg(struct session *s, const char *a, size_t n)
{
	size_t num;
	if (pop3_msgnum(a, n, s->st.n, &num) < 0) {
		bad(s, "-ERR no such message");
		return -1;
	}
	if (s->st.msgs[num - 1].deleted) {
		bad(s, "-ERR message already deleted");
		return -1;
	}
	return (long)(num - 1);
}

static void cmd_capa(struct session *s)
{
	reply(s, "+OK capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	reply(s, "IMPLEMENTATION posthorn");
	reply(s, ".");
}

static void cmd_stat(struct session *s, const struct pop3_cmd *c)
{
	size_t n;
	unsigned long long oct;
	if (c->has_arg)
		return bad(s, "-ERR STAT takes no argument");
	store_stat(&s->st, &n, &oct);
	io_printf(&s->io, "+OK %zu %llu\r\n", n, oct);
}

/* LIST and UIDL: one message, or every message not deleted. */
static void list_line(struct session *s, size_t i, int uidl, int single)
{
	const char *pre = single ? "+OK " : "";
	if (uidl)
		io_printf(&s->io, "%s%zu %lu.%lu\r\n", pre, i + 1, s->st.uidvalidity, s->st.msgs[i].uid);
	else
		io_printf(&s->io, "%s%zu %llu\r\n", pre, i + 1, s->st.msgs[i].size);
}

static void cmd_list(struct session *s, const struct pop3_cmd *c, int uidl)
{
	if (c->has_arg) {
		long i = msg_arg(s, c->arg, c->alen);
		if (i >= 0)
			list_line(s, (size_t)i, uidl, 1);
		return;
	}
	size_t n;
	unsigned long long oct;
	store_stat(&s->st, &n, &oct);
	if (uidl)
		reply(s, "+OK unique-id listing follows");
	else
		io_printf(&s->io, "+OK %zu messages (%llu octets)\r\n", n, oct);
	for (size_t i = 0; i < s->st.n; i++)
		if (!s->st.msgs[i].deleted)
			list_line(s, i, uidl, 0);
	reply(s, ".");
}

static void send_msg(struct session *s, long i, long long lines)
{
	int r = store_send(&s->st, (size_t)i, lines, &s->io);
	if (r == -1) {
		int gone = errno == ENOENT;
		log_warn("user %s: cannot read message %ld: %s", s->user, i + 1, strerror(errno));
		reply(s, gone ? "-ERR [SYS/PERM] message was removed by another session"
			      : "-ERR [SYS/TEMP] cannot read the message, try again later");
	} else if (r == -2) {
		s->quit = 2;
	}
}

static void cmd_retr(struct session *s, const struct pop3_cmd *c)
{
	if (!c->has_arg)
		return bad(s, "-ERR RETR needs a message number");
	long i = msg_arg(s, c->arg, c->alen);
	if (i >= 0)
		send_msg(s, i, -1);
}

static void cmd_top(struct session *s, const struct pop3_cmd *c)
{
	const char *a, *b;
	size_t alen, blen;
	unsigned long long lines;
	if (!c->has_arg || pop3_two_args(c->arg, c->alen, &a, &alen, &b, &blen) < 0 ||
	    blen > 20 || b[0] < '0' || b[0] > '9' || mem_to_u64(b, blen, &lines) < 0)
		return bad(s, "-ERR usage: TOP message lines");
	long i = msg_arg(s, a, alen);
	if (i >= 0)
		send_msg(s, i, lines > LLONG_MAX ? LLONG_MAX : (long long)lines);
}

static void cmd_dele(struct session *s, const struct pop3_cmd *c)
{
	if (!c->has_arg)
		return bad(s, "-ERR DELE needs a message number");
	long i = msg_arg(s, c->arg, c->alen);
	if (i < 0)
		return;
	s->st.msgs[i].deleted = 1;
	io_printf(&s->io, "+OK message %ld deleted\r\n", i + 1);
}

static void cmd_rset(struct session *s)
{
	size_t n;
	unsigned long long oct;
	for (size_t i = 0; i < s->st.n; i++)
		s->st.msgs[i].deleted = 0;
	store_stat(&s->st, &n, &oct);
	io_printf(&s->io, "+OK maildrop has %zu messages (%llu octets)\r\n", n, oct);
}

/* UPDATE (RFC 1939 section 6): only here are messages removed. */
static void cmd_quit(struct session *s)
{
	long long removed = 0;
	s->quit = 1;
	if (store_update(&s->st, &removed) < 0) {
		log_error("user %s: removing deleted messages: %s", s->user, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] some deleted messages were not removed");
		return;
	}
	if (removed)
		log_info("user %s: %lld messages deleted", s->user, removed);
	io_printf(&s->io, "+OK posthorn POP3 server signing off (%lld messages deleted)\r\n", removed);
}

static void dispatch(struct session *s, const struct pop3_cmd *c)
{
	const char *n = c->name;
	if (!strcmp(n, "STAT"))
		cmd_stat(s, c);
	else if (!strcmp(n, "LIST"))
		cmd_list(s, c, 0);
	else if (!strcmp(n, "UIDL"))
		cmd_list(s, c, 1);
	else if (!strcmp(n, "RETR"))
		cmd_retr(s, c);
	else if (!strcmp(n, "TOP"))
		cmd_top(s, c);
	else if (!strcmp(n, "DELE"))
		cmd_dele(s, c);
	else if (!strcmp(n, "NOOP"))
		reply(s, c->has_arg ? "-ERR NOOP takes no argument" : "+OK");
	else if (!strcmp(n, "RSET"))
		cmd_rset(s);
	else if (!strcmp(n, "QUIT"))
		cmd_quit(s);
	else if (!strcmp(n, "CAPA"))
		cmd_capa(s);
	else if (!strcmp(n, "USER") || !strcmp(n, "PASS") || !strcmp(n, "APOP") ||
		 !strcmp(n, "AUTH") || !strcmp(n, "STLS"))
		bad(s, "-ERR already authenticated");
	else
		bad(s, "-ERR unknown command");
}

/* One line: 1 go on, 0 stop. */
static int one_command(struct session *s, struct buf *line)
{
	int r = io_getline(&s->io, line, s->line_max);
	if (r == LINE_EOF || r == LINE_ERR) {
		if (r == LINE_ERR && s->io.err == IO_ERR_TIMEOUT) {
			reply(s, "-ERR autologout: idle for too long");
			io_flush(&s->io);
		}
		return 0;
	}
	if (++s->commands > s->max_commands) {
		reply(s, "-ERR too many commands in one session");
		return 0;
	}
	struct pop3_cmd c;
	if (r == LINE_TOOLONG)
		bad(s, "-ERR line too long");
	else if (pop3_parse(line->s, line->len, &c) < 0)
		bad(s, "-ERR malformed command");
	else
		dispatch(s, &c);
	if (s->errors >= s->max_errors && !s->quit) {
		reply(s, "-ERR too many bad commands, closing");
		s->quit = 2;
	}
	if ((io_pending(&s->io) == 0 || s->quit) && io_flush(&s->io) < 0)
		return 0;
	return !s->quit;
}

int session_run(struct session *s)
{
	struct buf line = BUF_INIT;
	while (one_command(s, &line))
		;
	io_flush(&s->io);
	buf_free(&line);
	return 0;
}
