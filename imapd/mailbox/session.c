/* session.c: imapd's command loop: reading a command with its literals
 * (synchronising ones get the "+" continuation, LITERAL+ ones do not),
 * the authenticated and selected states, dispatch to the command files,
 * tagged replies, error counting, and the untagged updates of RFC 3501
 * 7.4.1 / 5.5 (EXPUNGE, EXISTS, RECENT, FETCH FLAGS) sent before each
 * tagged reply.  Replies are flushed when no pipelined input waits. */
#include "imapd.h"
#include "mbox.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_AT 65536
#define TRIM_AT (1024 * 1024)

void session_maybe_flush(struct session *s)
{
	if (s->io.out.len >= FLUSH_AT && io_flush(&s->io) < 0)
		s->done = 1;
}

static void put_tag(struct session *s)
{
	if (s->tag.n)
		buf_append(&s->io.out, s->tag.p, s->tag.n);
	else
		buf_putc(&s->io.out, '*');
	buf_putc(&s->io.out, ' ');
}

void session_tagged(struct session *s, const char *status, const char *fmt, ...)
{
	if (s->mb && strcmp(status, "BAD"))
		session_updates(s, s->allow_expunge);
	put_tag(s);
	buf_puts(&s->io.out, status);
	buf_putc(&s->io.out, ' ');
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&s->io.out, fmt, ap);
	va_end(ap);
	buf_puts(&s->io.out, "\r\n");
}

void session_bad(struct session *s, const char *text)
{
	s->errors++;
	session_tagged(s, "BAD", "%s", text);
}

/* A client's mailbox name made safe for a response text: printable
 * ASCII only (a literal name could hold CR LF), at most 100 bytes. */
static const char *safe_name(struct buf *b, const char *s)
{
	buf_reset(b);
	for (size_t i = 0; s[i] && i < 100; i++)
		buf_putc(b, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	return buf_cstr(b);
}

void session_no_errno(struct session *s, const char *what, int err)
{
	static const struct {
		int err;
		const char *code, *text;
	} map[] = {
		{ENOENT, "[NONEXISTENT]", "no such mailbox"},
		{EEXIST, "[ALREADYEXISTS]", "mailbox exists"},
		{EINVAL, "[CANNOT]", "invalid mailbox name"},
		{EACCES, "[NOPERM]", "not allowed"},
		{ENOTEMPTY, "[INUSE]", "mailbox has children"},
		{EDQUOT, "[OVERQUOTA]", "over quota"},
		{ENOSPC, "[LIMIT]", "too many keywords or no space left"},
	};
	struct buf b = BUF_INIT;
	const char *name = safe_name(&b, what);
	size_t i = 0;
	while (i < sizeof map / sizeof map[0] && map[i].err != err)
		i++;
	if (i < sizeof map / sizeof map[0]) {
		session_tagged(s, "NO", "%s %s: %s", map[i].code, name, map[i].text);
	} else {
		log_error("user %s: %s: %s", s->user, name, strerror(err));
		session_tagged(s, "NO", "[SERVERBUG] %s failed, try again later", name);
	}
	buf_free(&b);
}

static void put_keywords(struct session *s, uint32_t kw, int lead_space)
{
	size_t n = mbox_keyword_count(s->mb);
	for (size_t i = 0; i < n && i < 32; i++)
		if (kw & ((uint32_t)1 << i)) {
			if (lead_space)
				buf_putc(&s->io.out, ' ');
			buf_puts(&s->io.out, mbox_keyword_name(s->mb, i));
			lead_space = 1;
		}
}

void session_put_flags(struct session *s, const struct mbox_msg *m)
{
	static const struct {
		unsigned bit;
		const char *name;
	} f[] = {{MF_SEEN, "\\Seen"}, {MF_ANSWERED, "\\Answered"}, {MF_FLAGGED, "\\Flagged"},
		 {MF_DELETED, "\\Deleted"}, {MF_DRAFT, "\\Draft"}, {MF_RECENT, "\\Recent"}};
	int sp = 0;
	buf_putc(&s->io.out, '(');
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (m->flags & f[i].bit) {
			if (sp)
				buf_putc(&s->io.out, ' ');
			buf_puts(&s->io.out, f[i].name);
			sp = 1;
		}
	put_keywords(s, m->keywords, sp);
	buf_putc(&s->io.out, ')');
}

void session_put_flaglist(struct session *s)
{
	const char *sys = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
	uint32_t all = 0xffffffffu;
	buf_printf(&s->io.out, "* FLAGS (%s", sys);
	put_keywords(s, all, 1);
	buf_puts(&s->io.out, ")\r\n");
	if (mbox_readonly(s->mb)) {
		buf_puts(&s->io.out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
		return;
	}
	buf_printf(&s->io.out, "* OK [PERMANENTFLAGS (%s", sys);
	put_keywords(s, all, 1);
	if (mbox_keyword_count(s->mb) < MBOX_KEYWORDS_MAX)
		buf_puts(&s->io.out, " \\*");
	buf_puts(&s->io.out, ")] Flags permitted\r\n");
}

static void put_fetch_flags(struct session *s, size_t seq)
{
	const struct mbox_msg *m = mbox_msg(s->mb, seq);
	if (!m || m->expunged)
		return;
	buf_printf(&s->io.out, "* %zu FETCH (UID %lu ", seq, m->uid);
	if (s->condstore)
		buf_printf(&s->io.out, "MODSEQ (%llu) ", m->modseq);
	buf_puts(&s->io.out, "FLAGS ");
	session_put_flags(s, m);
	buf_puts(&s->io.out, ")\r\n");
}

struct span {
	size_t a, b;		/* seq numbers a..b */
};

static int span_cmp(const void *x, const void *y)
{
	const struct span *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a;
}

void session_put_set(struct buf *o, const unsigned long *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(o, "%s%lu", i ? "," : "", v[i]);
		if (j > i)
			buf_printf(o, ":%lu", v[j]);
		i = j + 1;
	}
}

static int ulong_cmp(const void *x, const void *y)
{
	unsigned long a = *(const unsigned long *)x, b = *(const unsigned long *)y;
	return a < b ? -1 : a > b;
}

void session_put_expunged(struct session *s, const struct mbox_update *up)
{
	if (!up->nexpunged)
		return;
	if (!s->qresync) {
		for (size_t i = 0; i < up->nexpunged; i++)
			buf_printf(&s->io.out, "* %lu EXPUNGE\r\n", up->expunged[i]);
		return;
	}
	unsigned long *v = xcalloc(up->nexpunged, sizeof *v);
	memcpy(v, up->expunged_uids, up->nexpunged * sizeof *v);
	qsort(v, up->nexpunged, sizeof *v, ulong_cmp);
	buf_puts(&s->io.out, "* VANISHED ");
	session_put_set(&s->io.out, v, up->nexpunged);
	buf_puts(&s->io.out, "\r\n");
	free(v);
}

/* UIDs lo..hi not in the folder, appended to the set being written. */
static void gaps(struct session *s, unsigned long lo, unsigned long hi, int *any)
{
	size_t count = mbox_count(s->mb);
	for (size_t q = mbox_seq_at_or_after(s->mb, lo); lo <= hi; q++) {
		unsigned long next = q <= count ? mbox_msg(s->mb, q)->uid : hi + 1;
		unsigned long end = next - 1 < hi ? next - 1 : hi;
		if (next > lo) {
			buf_printf(&s->io.out, "%s%lu", *any ? "," : "", lo);
			if (end > lo)
				buf_printf(&s->io.out, ":%lu", end);
			*any = 1;
		}
		if (next >= hi)
			break;
		lo = next + 1;
	}
}

void session_put_vanished(struct session *s, const struct imap_seqset *set)
{
	unsigned long top = mbox_uidnext(s->mb) - 1;
	size_t mark = s->io.out.len;
	int any = 0;
	buf_puts(&s->io.out, "* VANISHED (EARLIER) ");
	struct span *sp = xcalloc(set->n ? set->n : 1, sizeof *sp);
	for (size_t i = 0; i < set->n; i++) {	/* as UID ranges, merged */
		unsigned long lo = set->r[i].lo ? set->r[i].lo : top;
		unsigned long hi = set->r[i].hi ? set->r[i].hi : top;
		sp[i].a = lo < hi ? lo : hi;
		sp[i].b = lo < hi ? hi : lo;
	}
	qsort(sp, set->n, sizeof *sp, span_cmp);
	unsigned long from = 1;
	for (size_t i = 0; i < set->n; i++) {
		unsigned long lo = sp[i].a > from ? sp[i].a : from;
		unsigned long hi = sp[i].b < top ? sp[i].b : top;
		if (lo <= hi)
			gaps(s, lo, hi, &any);
		if (hi + 1 > from)
			from = hi + 1;
	}
	free(sp);
	if (any)
		buf_puts(&s->io.out, "\r\n");
	else
		buf_truncate(&s->io.out, mark);
}

void session_updates(struct session *s, int allow_expunge)
{
	struct mbox_update up;
	memset(&up, 0, sizeof up);
	if (mbox_sync(s->mb, allow_expunge, &up) < 0) {
		if (errno == ESTALE) {
			/* The folder's index was rebuilt with a new UIDVALIDITY:
			 * this session's UIDs and numbers mean nothing any more. */
			log_warn("user %s: folder index rebuilt under the session: BYE", s->user);
			buf_puts(&s->io.out, "* BYE [UNAVAILABLE] mailbox changed under the session, please reconnect\r\n");
			s->done = 1;
			mbox_update_free(&up);
			return;
		}
		if (!s->sync_failed++)	/* once: IDLE may retry every second */
			log_warn("user %s: sync: %s", s->user, strerror(errno));
		mbox_update_free(&up);
		return;
	}
	session_put_expunged(s, &up);
	if (up.keywords_changed)
		session_put_flaglist(s);
	if (up.exists_changed)
		buf_printf(&s->io.out, "* %zu EXISTS\r\n* %zu RECENT\r\n", mbox_count(s->mb),
			   mbox_recent(s->mb));
	for (size_t i = 0; i < up.nchanged; i++)
		put_fetch_flags(s, up.changed[i]);
	mbox_update_free(&up);
}

/* A range as seq numbers (b < a: empty); -1 outside the folder. */
static int to_span(struct session *s, const struct imap_range *r, int uid, unsigned long star,
		   struct span *out)
{
	size_t count = mbox_count(s->mb);
	unsigned long lo = r->lo ? r->lo : star, hi = r->hi ? r->hi : star;
	if (lo > hi) {
		unsigned long t = lo;
		lo = hi;
		hi = t;
	}
	if (uid) {
		out->a = mbox_seq_at_or_after(s->mb, lo);
		out->b = mbox_seq_at_or_after(s->mb, hi + 1) - 1;
		return 0;
	}
	if (lo == 0 || hi > count)
		return -1;
	out->a = lo;
	out->b = hi;
	return 0;
}

int session_seqs(struct session *s, const struct imap_seqset *set, int uid,
		 size_t **out, size_t *n)
{
	size_t count = mbox_count(s->mb), k = 0;
	unsigned long star = uid ? (count ? mbox_msg(s->mb, count)->uid : 0) : count;
	struct span *sp = xcalloc(set->n ? set->n : 1, sizeof *sp);
	for (size_t i = 0; i < set->n; i++)
		if (to_span(s, &set->r[i], uid, star, &sp[i]) < 0) {
			free(sp);
			return -1;
		}
	/* sorted and merged, overlapping ranges cost nothing extra */
	qsort(sp, set->n, sizeof *sp, span_cmp);
	*out = xcalloc(count ? count : 1, sizeof **out);
	*n = 0;
	size_t next = 1;	/* lowest seq not yet taken */
	for (size_t i = 0; i < set->n; i++)
		for (size_t q = sp[i].a > next ? sp[i].a : next; q <= sp[i].b && q <= count; q++) {
			(*out)[k++] = q;
			next = q + 1;
		}
	*n = k;
	free(sp);
	return 0;
}

static int one_flag(struct session *s, const struct imap_str *f, int create, unsigned *flags,
		    uint32_t *kw)
{
	if (f->p[0] == '\\') {
		unsigned bit = imap_sysflag(f->p, f->n);
		if (!bit || bit == MF_RECENT)
			return -1;
		*flags |= bit;
		return 0;
	}
	if (!imap_is_keyword(f->p, f->n))
		return -1;
	int i = mbox_keyword_find(s->mb, f->p, f->n, create);
	if (i >= 0 && i < 32)
		*kw |= (uint32_t)1 << i;
	else if (create)
		return -2;
	return 0;
}

int session_flags(struct session *s, struct imap_parser *p, int create, unsigned *flags,
		  uint32_t *kw)
{
	int paren = imap_p_open(p) == 0;
	struct imap_str f;
	*flags = 0;
	*kw = 0;
	if (paren && imap_p_close(p) == 0)
		return 0;
	do {
		if (imap_p_flag(p, &f) < 0)
			return -1;
		int r = one_flag(s, &f, create, flags, kw);
		if (r < 0)
			return r;
	} while (imap_p_sp(p) == 0);
	return paren && imap_p_close(p) < 0 ? -1 : 0;
}

char *session_mailbox(struct imap_parser *p)
{
	struct imap_str a;
	if (imap_p_astring(p, &a) < 0 || memchr(a.p, 0, a.n))
		return NULL;
	return xmemdup(a.p, a.n);
}

/* ---- reading a command ---- */

static int is_append(const struct buf *cmd)
{
	const char *sp = memchr(cmd->s, ' ', cmd->len);
	if (!sp)
		return 0;
	size_t rest = cmd->len - (size_t)(sp + 1 - cmd->s);
	return mem_caseprefix(sp + 1, rest, "APPEND ") || mem_caseprefix(sp + 1, rest, "UID APPEND ");
}

/* The tag at the start of cmd, for a reply before the command is parsed. */
static void early_tag(struct session *s)
{
	struct imap_parser p;
	imap_p_init(&p, s->cmd.s, s->cmd.len);
	if (imap_p_tag(&p, &s->tag) < 0)
		s->tag.n = 0;
}

/* A literal announcement in the last line: 1 read it, 0 end of the
 * command, -1 refused (answered), -2 end the session. */
static int literal(struct session *s, const struct buf *line, unsigned long long *budget)
{
	unsigned long long n;
	int sync;
	int r = imap_line_literal(line->s, line->len, &n, &sync);
	if (r == 0)
		return 0;
	early_tag(s);
	if (r < 0 || n > *budget) {
		if (!sync || r < 0) {
			buf_puts(&s->io.out, "* BYE literal too big or malformed\r\n");
			return -2;
		}
		s->errors++;
		session_tagged(s, is_append(&s->cmd) ? "NO" : "BAD", "%s",
			       is_append(&s->cmd) ? "[TOOBIG] message too big" : "literal too big");
		return -1;
	}
	*budget -= n;
	if (sync) {
		io_puts(&s->io, "+ OK\r\n");
		if (io_flush(&s->io) < 0)
			return -2;
	}
	buf_reserve(&s->cmd, (size_t)n);	/* one allocation for a big APPEND */
	return io_read_exact(&s->io, &s->cmd, (size_t)n) < 0 ? -2 : 1;
}

/* 1 a command in s->cmd, 0 nothing to run (answered), -1 end. */
static int read_command(struct session *s)
{
	struct buf line = BUF_INIT;
	size_t lines = 0, nlit = 0;
	unsigned long long budget = 0;
	int rc = 1;
	buf_reset(&s->cmd);
	s->tag.n = 0;
	for (;;) {
		int r = io_getline(&s->io, &line, IMAP_LINE_MAX);
		if (r == LINE_EOF || r == LINE_ERR) {
			rc = -1;
			break;
		}
		lines = size_add(lines, line.len);
		if (r == LINE_TOOLONG || lines > IMAP_LINE_MAX) {
			s->errors++;
			buf_puts(&s->io.out, "* BAD command line too long\r\n");
			rc = 0;
			break;
		}
		buf_append(&s->cmd, line.s, line.len);
		if (nlit == 0)
			budget = is_append(&s->cmd) ? s->max_append + IMAP_LITERAL_MAX : IMAP_LITERAL_MAX;
		int l = literal(s, &line, &budget);
		if (l == 0)
			break;
		if (l < 0) {
			rc = l == -1 ? 0 : -1;
			break;
		}
		if (++nlit > IMAP_LITERALS_MAX) {
			buf_puts(&s->io.out, "* BYE too many literals in one command\r\n");
			rc = -1;
			break;
		}
	}
	buf_free(&line);
	if (rc == 1) {
		if (s->cmd.len && s->cmd.s[s->cmd.len - 1] == '\n')
			s->cmd.len--;
		if (s->cmd.len && s->cmd.s[s->cmd.len - 1] == '\r')
			s->cmd.len--;
	}
	return rc;
}

/* ---- dispatch ---- */

enum { ANY = 0, SEL = 1 };
static const struct command {
	const char *name;
	imap_cmd_fn *fn;
	int state;		/* SEL: selected state only */
	int uid;		/* may follow UID */
	int expunge_ok;		/* untagged EXPUNGE allowed during it */
} commands[] = {
	{"CAPABILITY", cmd_capability, ANY, 0, 1}, {"NOOP", cmd_noop, ANY, 0, 1},
	{"LOGOUT", cmd_logout, ANY, 0, 1}, {"ID", cmd_id, ANY, 0, 1},
	{"ENABLE", cmd_enable, ANY, 0, 1}, {"NAMESPACE", cmd_namespace, ANY, 0, 1},
	{"IDLE", cmd_idle, ANY, 0, 1}, {"SELECT", cmd_select, ANY, 0, 1},
	{"EXAMINE", cmd_examine, ANY, 0, 1}, {"CREATE", cmd_create, ANY, 0, 1},
	{"DELETE", cmd_delete, ANY, 0, 1}, {"RENAME", cmd_rename, ANY, 0, 1},
	{"SUBSCRIBE", cmd_subscribe, ANY, 0, 1}, {"UNSUBSCRIBE", cmd_unsubscribe, ANY, 0, 1},
	{"LIST", cmd_list, ANY, 0, 1}, {"LSUB", cmd_lsub, ANY, 0, 1},
	{"STATUS", cmd_status, ANY, 0, 1}, {"APPEND", cmd_append, ANY, 0, 1},
	{"CHECK", cmd_check, SEL, 0, 1}, {"CLOSE", cmd_close, SEL, 0, 1},
	{"UNSELECT", cmd_unselect, SEL, 0, 1}, {"EXPUNGE", cmd_expunge, SEL, 1, 1},
	{"FETCH", cmd_fetch, SEL, 1, 0}, {"STORE", cmd_store, SEL, 1, 0},
	{"SEARCH", cmd_search, SEL, 1, 0}, {"COPY", cmd_copy, SEL, 1, 1},
	{"MOVE", cmd_move, SEL, 1, 1},
};

static const struct command *find_command(const struct imap_str *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (mem_caseeq(name->p, name->n, commands[i].name, strlen(commands[i].name)))
			return &commands[i];
	return NULL;
}

static void run_command(struct session *s)
{
	struct imap_parser p;
	struct imap_str name;
	imap_p_init(&p, s->cmd.s, s->cmd.len);
	s->uid = 0;
	s->allow_expunge = 1;
	if (imap_p_tag(&p, &s->tag) < 0 || imap_p_sp(&p) < 0) {
		s->tag.n = 0;
		s->errors++;
		buf_puts(&s->io.out, "* BAD missing tag or command\r\n");
		return;
	}
	if (imap_p_atom(&p, &name) < 0)
		return session_bad(s, "missing command");
	if (mem_caseeq(name.p, name.n, "UID", 3)) {
		s->uid = 1;
		if (imap_p_sp(&p) < 0 || imap_p_atom(&p, &name) < 0)
			return session_bad(s, "UID what?");
	}
	const struct command *c = find_command(&name);
	if (!c || (s->uid && !c->uid)) {
		if (mem_caseeq(name.p, name.n, "LOGIN", 5) || mem_caseeq(name.p, name.n, "AUTHENTICATE", 12)
		    || mem_caseeq(name.p, name.n, "STARTTLS", 8))
			return session_bad(s, "already authenticated");
		return session_bad(s, "unknown command");
	}
	if (c->state == SEL && s->state != IMAP_SELECTED)
		return session_bad(s, "no mailbox selected");
	s->allow_expunge = s->uid || c->expunge_ok;
	c->fn(s, &p);
}

/* An idle session must not keep the buffers of a big APPEND or FETCH. */
static void trim(struct session *s)
{
	if (s->cmd.cap > TRIM_AT)
		buf_free(&s->cmd);
	if (s->io.out.len == 0 && s->io.out.cap > TRIM_AT)
		buf_free(&s->io.out);
}

int session_run(struct session *s)
{
	while (!s->done) {
		int r = read_command(s);
		if (r < 0) {
			if (s->io.err == IO_ERR_TIMEOUT)
				buf_puts(&s->io.out, "* BYE autologout, idle for too long\r\n");
			break;
		}
		if (r > 0)
			run_command(s);
		if (s->errors >= s->max_errors && !s->done) {
			buf_puts(&s->io.out, "* BYE too many errors\r\n");
			s->done = 1;
		}
		if ((s->done || io_pending(&s->io) == 0) && io_flush(&s->io) < 0)
			break;
		trim(s);
	}
	io_flush(&s->io);
	return 0;
}
