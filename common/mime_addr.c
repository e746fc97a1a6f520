/* mime_addr: RFC 5322 address lists (with groups, obsolete routes,
 * comments as display names, quoted local parts) written as IMAP address
 * lists for ENVELOPE, and the "for humans" form of subjects and display
 * names.  The parser follows Dovecot's message-address.c, including how it
 * fills in what is missing (MISSING_MAILBOX, MISSING_DOMAIN), so that
 * ENVELOPE matches Dovecot's for well-formed and most malformed headers.
 * Used by mime_imap.c. */
#include "mime_int.h"

#include <string.h>
#include "imapfmt.h"

/* Enough for any real header; a longer list is cut. */
#define ADDR_LIST_MAX 10000

struct addr {
	struct buf name, route, mbox, domain;
	int has_name, has_route, has_mbox, has_domain;
};

struct actx {
	struct mime_lex x;
	struct buf comment;	/* the last comment inside an addr-spec */
	struct buf *out;	/* the addresses written so far */
	size_t count;
};

static void addr_free(struct addr *a)
{
	buf_free(&a->name);
	buf_free(&a->route);
	buf_free(&a->mbox);
	buf_free(&a->domain);
}

void mime_human_string(const char *s, size_t n, struct buf *out)
{
	struct buf t = BUF_INIT;
	int modify = 0, last_sp = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t' || c == '\r' || c == '\n' || c == ' ') {
			/* white space of any kind: one space, none at the ends */
			if (c != ' ' || last_sp)
				modify = 1;
			if (!last_sp)
				buf_putc(&t, ' ');
			last_sp = 1;
			continue;
		}
		if (c == '"' || c == '\\' || c == 0 || c >= 0x80)
			modify = 1;
		if (c == 0)
			buf_append(&t, MIME_NUL_REPLACEMENT, 3);
		else
			buf_putc(&t, (char)c);
		last_sp = 0;
	}
	if (t.len > 0 && t.s[t.len - 1] == ' ') {
		modify = 1;
		t.len--;
	}
	if (!modify) {
		buf_putc(out, '"');
		buf_append(out, s, n);
		buf_putc(out, '"');
	} else if (t.len == 0)
		buf_append(out, "\"\"", 2);
	else
		imapfmt_literal(out, t.s, t.len);
	buf_free(&t);
}

static void w_field(struct buf *out, int have, const struct buf *b, const char *missing)
{
	if (have)
		mime_nstring(b->s ? b->s : "", b->len, out);
	else if (missing)
		imapfmt_string_c(out, missing);
	else
		imapfmt_nil(out);
}

/* One address; fill: a mailbox (MISSING_* for what it lacks), not one of
 * the entries that open or close a group. */
static void emit(struct actx *c, const struct addr *a, int fill)
{
	if (c->count >= ADDR_LIST_MAX)
		return;
	c->count++;
	struct buf *out = c->out;
	buf_putc(out, '(');
	if (a->has_name)
		mime_human_string(a->name.s ? a->name.s : "", a->name.len, out);
	else
		imapfmt_nil(out);
	buf_putc(out, ' ');
	w_field(out, a->has_route, &a->route, NULL);
	buf_putc(out, ' ');
	w_field(out, a->has_mbox, &a->mbox, fill ? "MISSING_MAILBOX" : NULL);
	buf_putc(out, ' ');
	w_field(out, a->has_domain, &a->domain, fill ? "MISSING_DOMAIN" : NULL);
	buf_putc(out, ')');
}

/* "@" domain: a domain literal or dot-atom appended to out. */
static int domain(struct actx *c, struct buf *out)
{
	struct mime_lex *x = &c->x;
	x->p++;
	if (mime_lex_skip(x) <= 0)
		return -1;
	if (*x->p != '[')
		return mime_lex_dot_atom(x, out);
	const unsigned char *start = x->p;
	for (x->p++; x->p < x->end; x->p++) {
		if (*x->p == '\\') {
			if (++x->p == x->end)
				break;
		} else if (*x->p == ']') {
			x->p++;
			buf_append(out, start, (size_t)(x->p - start));
			return mime_lex_skip(x);
		}
	}
	return -1;
}

/* After a local part with no "@domain" and no comment: more words make
 * it all a display name with the mailbox missing ("A Group" without its
 * colon), as Dovecot reads it. */
static void words_after_local(struct actx *c, struct addr *a)
{
	struct buf words = BUF_INIT;
	mime_lex_phrase(&c->x, &words);
	if (words.len > 0) {
		buf_reset(&a->name);
		buf_append(&a->name, a->mbox.s, a->mbox.len);
		buf_putc(&a->name, ' ');
		buf_append(&a->name, words.s, words.len);
		a->has_name = 1;
		a->has_mbox = 0;
	}
	buf_free(&words);
}

static int addr_spec(struct actx *c, struct addr *a, int in_angle)
{
	struct mime_lex *x = &c->x;
	buf_reset(&c->comment);
	x->comment = &c->comment;
	buf_reset(&a->mbox);
	int r = mime_lex_at(x, '"') ? mime_lex_quoted(x, &a->mbox) : mime_lex_dot_atom(x, &a->mbox);
	int tried_domain = 0;
	a->has_mbox = r >= 0;
	if (r != 0 && mime_lex_at(x, '@')) {
		buf_reset(&a->domain);
		int r2 = domain(c, &a->domain);
		a->has_domain = r2 >= 0;
		r = r2;
		tried_domain = 1;
	}
	x->comment = NULL;
	if (in_angle)
		return r;
	if (c->comment.len > 0 && !a->has_name) {
		buf_copy(&a->name, &c->comment);
		a->has_name = 1;
	} else if (!tried_domain && c->comment.len == 0) {
		words_after_local(c, a);
		r = -1;
	}
	return r;
}

/* obs-domain-list: "@a,@b" before the ':' of a route. */
static int route(struct actx *c, struct addr *a)
{
	struct mime_lex *x = &c->x;
	buf_reset(&a->route);
	while (x->p < x->end && *x->p == '@') {
		if (a->route.len > 0)
			buf_putc(&a->route, ',');
		buf_putc(&a->route, '@');
		int r = domain(c, &a->route);
		if (r <= 0)
			return r;
		while (mime_lex_skip(x) > 0 && *x->p == ',')
			x->p++;
	}
	if (x->p >= x->end)
		return 0;
	a->has_route = 1;
	return 1;
}

static int angle_addr(struct actx *c, struct addr *a)
{
	struct mime_lex *x = &c->x;
	x->p++;
	if (mime_lex_skip(x) <= 0)
		return -1;
	if (*x->p == '@') {
		if (route(c, a) > 0 && mime_lex_at(x, ':'))
			x->p++;
		else {
			buf_set(&a->route, "INVALID_ROUTE", 13);
			a->has_route = 1;
			if (x->p >= x->end)
				return -1;
		}
		if (mime_lex_skip(x) <= 0)
			return -1;
	}
	if (*x->p != '>') {
		if (addr_spec(c, a, 1) < 0 || !mime_lex_at(x, '>'))
			return -1;
	}
	x->p++;
	return mime_lex_skip(x);
}

static int mailbox(struct actx *c)
{
	struct mime_lex *x = &c->x;
	struct addr a;
	memset(&a, 0, sizeof a);
	const unsigned char *start = x->p;
	int r = mime_lex_at(x, '<') ? 1 : mime_lex_phrase(x, &a.name);
	if (r <= 0 || !mime_lex_at(x, '<')) {
		x->p = start;
		buf_reset(&a.name);
		r = addr_spec(c, &a, 0);
	} else {
		a.has_name = a.name.len > 0;
		r = angle_addr(c, &a);
		if (r < 0) {	/* Dovecot's mark of a broken <address> */
			buf_set(&a.domain, "SYNTAX_ERROR", 12);
			a.has_domain = 1;
		}
	}
	emit(c, &a, 1);
	addr_free(&a);
	return r;
}

static void group_mark(struct actx *c, const struct buf *name)
{
	struct addr a;
	memset(&a, 0, sizeof a);
	if (name) {
		buf_copy(&a.mbox, name);
		a.has_mbox = 1;
	}
	emit(c, &a, 0);
	addr_free(&a);
}

static int group_members(struct actx *c)
{
	struct mime_lex *x = &c->x;
	for (;;) {
		if (mailbox(c) <= 0)
			return -1;
		if (x->p >= x->end)
			return 0;
		if (*x->p != ',')
			return 1;
		x->p++;
		if (mime_lex_skip(x) <= 0)
			return -1;
	}
}

/* -1: not a group (nothing written); 0 at the end; 1 more. */
static int group(struct actx *c)
{
	struct mime_lex *x = &c->x;
	struct buf name = BUF_INIT;
	if (mime_lex_phrase(x, &name) <= 0 || !mime_lex_at(x, ':')) {
		buf_free(&name);
		return -1;
	}
	x->p++;
	int r = mime_lex_skip(x);
	group_mark(c, &name);
	buf_free(&name);
	if (r > 0 && *x->p != ';')
		r = group_members(c);
	if (r >= 0) {
		if (!mime_lex_at(x, ';'))
			r = -1;
		else {
			x->p++;
			r = mime_lex_skip(x);
		}
	}
	group_mark(c, NULL);
	return r == 0 ? 0 : 1;
}

static int address(struct actx *c)
{
	const unsigned char *start = c->x.p;
	int r = group(c);
	if (r < 0) {
		c->x.p = start;
		r = mailbox(c);
	}
	return r;
}

static void address_list(struct actx *c)
{
	struct mime_lex *x = &c->x;
	if (mime_lex_skip(x) <= 0)
		return;
	while (c->count < ADDR_LIST_MAX) {
		if (address(c) == 0 || !mime_lex_at(x, ','))
			return;
		x->p++;
		if (mime_lex_skip(x) <= 0)
			return;
	}
}

void mime_addr_write(const char *v, size_t n, struct buf *out)
{
	struct actx c;
	memset(&c, 0, sizeof c);
	mime_lex_init(&c.x, v ? v : "", v ? n : 0);
	c.out = out;
	address_list(&c);
	buf_free(&c.comment);
}
