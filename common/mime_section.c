/* mime_section: BODY[section]<partial> (RFC 3501 6.4.5).  A section spec
 * is resolved to views of the message bytes (no copy), sized and written
 * in CRLF form, whole or as a partial range, into a buffer or streamed in
 * chunks.  Part numbers follow RFC 3501 and Dovecot: a non-multipart
 * message (or embedded message) has part 1, itself; a number after a
 * message/rfc822 part goes into the embedded message.  Used by imapd
 * (FETCH BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT). */
#include "mime_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "header.h"
#include "uidlist.h"

#define STREAM_CHUNK (64 * 1024)
#define FIELDS_MAX 256		/* header names in one HEADER.FIELDS list */

static const char lf_only[] = "\n";

static void add_view(struct mime_section *sec, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (sec->n == sec->cap) {
		sec->cap = sec->cap ? size_mul(sec->cap, 2) : 8;
		sec->v = xrealloc(sec->v, size_mul(sec->cap, sizeof *sec->v));
	}
	sec->v[sec->n].p = p;
	sec->v[sec->n].len = n;
	sec->n++;
}

/* A view of message bytes; one that reaches the end of a message without
 * a final line end gets one (as every size here counts it). */
static void add_bytes(struct mime_section *sec, const struct mime_msg *m, size_t off, size_t n)
{
	add_view(sec, m->s + off, n);
	if (n > 0 && off + n == m->len && m->add_lf)
		add_view(sec, lf_only, 1);
}

void mime_section_free(struct mime_section *sec)
{
	free(sec->v);
	memset(sec, 0, sizeof *sec);
}

static void compute_size(struct mime_section *sec)
{
	int cr = 0;
	sec->size = 0;
	for (size_t i = 0; i < sec->n; i++)
		sec->size += uidlist_crlf_count(sec->v[i].p, sec->v[i].len, &cr);
}

/* ---- part numbers ---- */

static int nth_child(const struct mime_msg *m, int i, unsigned long num)
{
	int c = m->parts[i].child;
	while (c >= 0 && --num > 0)
		c = m->parts[c].next;
	return c;
}

/* Next number of a path: 1 ok (*num, *s advanced past a '.'), -1 bad. */
static int path_num(const char **s, const char *end, unsigned long *num)
{
	const char *p = *s;
	*num = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		if (*num > 1000000)
			return -1;
		*num = *num * 10 + (unsigned long)(*p - '0');
		p++;
	}
	if (p == *s || *num == 0 || **s == '0')
		return -1;
	if (p < end) {
		if (*p != '.' || p + 1 == end)
			return -1;
		p++;
	}
	*s = p;
	return 1;
}

/* nz-number *("." nz-number) */
static int path_ok(const char *path, size_t len)
{
	const char *s = path, *end = path + len;
	unsigned long num;
	while (s < end)
		if (path_num(&s, end, &num) < 0)
			return 0;
	return len > 0;
}

/* As Dovecot answers: a multipart's number picks a child; any other part
 * (the top message too) is its own part 1, once ("1.2.1" is "1.2", but
 * "1.2.1.1" does not exist); a number after a message/rfc822 part goes
 * into its message. */
int mime_part_by_path(const struct mime_msg *m, const char *path, size_t len)
{
	const char *s = path, *end = path + len;
	int i = 0, one_left = 1;
	if (m->n == 0 || len == 0)
		return -1;
	while (s < end && i >= 0) {
		unsigned long num;
		if (path_num(&s, end, &num) < 0)
			return -1;
		const struct mime_part *p = &m->parts[i];
		if (p->kind == MIME_MULTIPART) {
			i = nth_child(m, i, num);
			one_left = 1;
		} else if (num != 1 || !one_left)
			i = -1;
		else
			one_left = 0;
		if (i >= 0 && m->parts[i].kind == MIME_MESSAGE && s < end) {
			i = m->parts[i].child;
			one_left = 1;
		}
	}
	return i;
}

/* ---- the spec ---- */

enum sec_text { T_ALL, T_HEADER, T_FIELDS, T_FIELDS_NOT, T_TEXT, T_MIME };

struct spec {
	const char *path;
	size_t path_len;
	int text;
	struct {
		size_t off, len;	/* in names_text */
	} names[FIELDS_MAX];
	size_t nnames;
	struct buf names_text;	/* the names, unquoted */
};

static int word_is(const char *s, const char *end, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(end - s) >= n && mem_caseeq(s, n, w, n);
}

/* One header name of the list, an atom or a quoted string, appended
 * unquoted to sp->names_text. */
static int field_name(const char **s, const char *end, struct spec *sp)
{
	const char *p = *s;
	struct buf *t = &sp->names_text;
	sp->names[sp->nnames].off = t->len;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && ++p == end)
				return -1;
			buf_putc(t, *p);
		}
		if (p == end)
			return -1;
		p++;
	} else {
		while (p < end && *p != ' ' && *p != ')' && *p != '(' && *p != '"' &&
		       (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
			buf_putc(t, *p++);
		if (p == *s)
			return -1;
	}
	sp->names[sp->nnames].len = t->len - sp->names[sp->nnames].off;
	sp->nnames++;
	*s = p;
	return 1;
}

/* " (NAME NAME ...)" after HEADER.FIELDS[.NOT] */
static int field_list(const char *s, const char *end, struct spec *sp)
{
	if (end - s < 3 || s[0] != ' ' || s[1] != '(' || end[-1] != ')')
		return -1;
	s += 2;
	end--;
	while (s < end) {
		if (sp->nnames == FIELDS_MAX)
			return -1;
		if (field_name(&s, end, sp) < 0)
			return -1;
		if (s < end && *s++ != ' ')
			return -1;
		if (s == end && s[-1] == ' ')
			return -1;
	}
	return sp->nnames > 0 ? 0 : -1;
}

static int text_spec(const char *s, const char *end, int have_path, struct spec *sp)
{
	if (s == end)
		sp->text = T_ALL;
	else if (word_is(s, end, "HEADER.FIELDS.NOT") && (s += 17, 1))
		sp->text = T_FIELDS_NOT;
	else if (word_is(s, end, "HEADER.FIELDS") && (s += 13, 1))
		sp->text = T_FIELDS;
	else if (word_is(s, end, "HEADER") && end - s == 6)
		sp->text = T_HEADER;
	else if (word_is(s, end, "TEXT") && end - s == 4)
		sp->text = T_TEXT;
	else if (word_is(s, end, "MIME") && end - s == 4 && have_path)
		sp->text = T_MIME;
	else
		return -1;
	if (sp->text == T_FIELDS || sp->text == T_FIELDS_NOT)
		return field_list(s, end, sp);
	return 0;
}

static int parse_spec(const char *s, size_t len, struct spec *sp)
{
	const char *end = s + len, *p = s;
	memset(sp, 0, sizeof *sp);
	buf_reserve(&sp->names_text, 1);	/* a base for the offsets */
	while (p < end && ((*p >= '0' && *p <= '9') || *p == '.')) {
		/* the number part ends before the first '.' + letter */
		if (*p == '.' && p + 1 < end && !(p[1] >= '0' && p[1] <= '9'))
			break;
		p++;
	}
	sp->path = s;
	sp->path_len = (size_t)(p - s);
	if (p < end && sp->path_len > 0) {
		if (*p != '.')
			return -1;
		p++;
	}
	return text_spec(p, end, sp->path_len > 0, sp);
}

/* ---- the bytes ---- */

static int name_listed(const struct spec *sp, const struct header_field *f)
{
	for (size_t i = 0; i < sp->nnames; i++)
		if (mem_caseeq(f->name, f->name_len, sp->names_text.s + sp->names[i].off,
			       sp->names[i].len))
			return 1;
	return 0;
}

/* HEADER.FIELDS[.NOT]: the chosen fields, then the blank line. */
static void header_fields(const struct mime_msg *m, const struct mime_part *p,
			  const struct spec *sp, struct mime_section *sec)
{
	struct mime_hiter it;
	struct header_field f;
	const char *h = m->s + p->hdr;
	int nc;
	mime_hiter_init(&it, h, p->hdr_len);
	while (mime_hiter_next(&it, &f, &nc) == 1)
		if (name_listed(sp, &f) == (sp->text == T_FIELDS))
			add_bytes(sec, m, (size_t)(f.raw - m->s), f.raw_len);
	/* RFC 3501 6.4.5: "the blank line is included in all header fetches,
	 * except in the case of a message which has no body and no blank
	 * line"; for such a header Dovecot adds it to HEADER.FIELDS but not to
	 * HEADER.FIELDS.NOT, and so do we */
	if (mime_hdr_blank(h, p->hdr_len) || p->hdr_len == 0 || sp->text == T_FIELDS)
		add_view(sec, lf_only, 1);
}

/* The message whose header/text a HEADER/TEXT spec names (part i is the
 * part the path named): a message/rfc822 part's embedded message, or
 * the part itself when it is a message (the top one, or an embedded one
 * reached as part 1 of its message/rfc822 part); -1 for any other part
 * (Dovecot gives those an empty string). */
static int message_of(const struct mime_msg *m, int i)
{
	const struct mime_part *p = &m->parts[i];
	if (p->kind == MIME_MESSAGE)
		return p->child;
	return p->parent < 0 ? i : -1;
}

static void select_bytes(const struct mime_msg *m, int i, const struct spec *sp,
			 struct mime_section *sec)
{
	const struct mime_part *p = &m->parts[i];
	if (sp->text == T_ALL && sp->path_len == 0)
		add_bytes(sec, m, 0, m->len);
	else if (sp->text == T_ALL)
		add_bytes(sec, m, p->body, p->body_len);
	else if (sp->text == T_MIME)
		add_bytes(sec, m, p->hdr, p->hdr_len);
	else {
		/* without a path: the top message, even a message/rfc822 one */
		int mi = sp->path_len == 0 ? 0 : message_of(m, i);
		if (mi < 0) {
			sec->found = 0;
			return;
		}
		p = &m->parts[mi];
		if (sp->text == T_HEADER)
			add_bytes(sec, m, p->hdr, p->hdr_len);
		else if (sp->text == T_TEXT)
			add_bytes(sec, m, p->body, p->body_len);
		else
			header_fields(m, p, sp, sec);
	}
}

int mime_section_get(const struct mime_msg *m, const char *spec, size_t len,
		     struct mime_section *sec)
{
	struct spec sp;
	memset(sec, 0, sizeof *sec);
	int r = parse_spec(spec, len, &sp) < 0 ? MIME_SEC_SYNTAX : MIME_SEC_OK;
	if (r == MIME_SEC_OK && sp.path_len > 0 && !path_ok(sp.path, sp.path_len))
		r = MIME_SEC_SYNTAX;
	int i = sp.path_len > 0 ? mime_part_by_path(m, sp.path, sp.path_len) : 0;
	if (r == MIME_SEC_OK && i >= 0 && m->n > 0) {
		sec->found = 1;
		select_bytes(m, i, &sp, sec);
		compute_size(sec);
	}
	buf_free(&sp.names_text);
	return r;
}

/* ---- output ---- */

struct sink {
	struct buf *out;
	struct buf chunk;
	int (*fn)(const char *p, size_t n, void *ctx);
	void *ctx;
	int stop;
};

static void sink_put(struct sink *k, const char *p, size_t n)
{
	if (k->stop || n == 0)
		return;
	if (k->out) {
		buf_append(k->out, p, n);
		return;
	}
	buf_append(&k->chunk, p, n);
	if (k->chunk.len >= STREAM_CHUNK) {
		k->stop = k->fn(k->chunk.s, k->chunk.len, k->ctx);
		buf_reset(&k->chunk);
	}
}

/* The window [start, end) of the CRLF octet stream. */
struct window {
	unsigned long long pos, start, end;
};

/* Bytes to the sink with NUL sent as 0x80: a literal cannot carry NUL
 * (RFC 3501 CHAR8), and the size stays the same (Dovecot does this). */
static void put_nonul(struct sink *k, const char *p, size_t n)
{
	const char *z;
	while (n > 0 && (z = memchr(p, '\0', n)) != NULL) {
		size_t pre = (size_t)(z - p);
		sink_put(k, p, pre);
		sink_put(k, "\x80", 1);
		p += pre + 1;
		n -= pre + 1;
	}
	sink_put(k, p, n);
}

/* Output octets o[0..n) at the current position, clipped to the window. */
static void put_clipped(struct sink *k, struct window *w, const char *o, size_t n)
{
	unsigned long long a = w->pos, b = w->pos + n;
	w->pos = b;
	if (b <= w->start || a >= w->end)
		return;
	size_t from = a < w->start ? (size_t)(w->start - a) : 0;
	size_t to = b > w->end ? (size_t)(w->end - a) : n;
	put_nonul(k, o + from, to - from);
}

static void walk_view(struct sink *k, struct window *w, const char *p, size_t n, int *cr)
{
	size_t i = 0;
	while (i < n && w->pos < w->end && !k->stop) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t seg = nl ? (size_t)(nl - p) - i : n - i;
		if (seg > 0) {
			put_clipped(k, w, p + i, seg);
			*cr = p[i + seg - 1] == '\r';
			i += seg;
		}
		if (i < n) {	/* the LF */
			put_clipped(k, w, *cr ? "\n" : "\r\n", *cr ? 1 : 2);
			*cr = 0;
			i++;
		}
	}
}

static int walk(const struct mime_section *sec, unsigned long long start,
		unsigned long long count, struct sink *k)
{
	struct window w = {0, start, start};
	w.end = count > ULLONG_MAX - start ? ULLONG_MAX : start + count;
	int cr = 0;
	for (size_t i = 0; i < sec->n && w.pos < w.end && !k->stop; i++)
		walk_view(k, &w, sec->v[i].p, sec->v[i].len, &cr);
	if (!k->out && !k->stop && k->chunk.len > 0)
		k->stop = k->fn(k->chunk.s, k->chunk.len, k->ctx);
	buf_free(&k->chunk);
	return k->stop;
}

unsigned long long mime_section_partial_size(const struct mime_section *sec,
					     unsigned long long start,
					     unsigned long long count)
{
	if (start >= sec->size)
		return 0;
	unsigned long long left = sec->size - start;
	return count < left ? count : left;
}

void mime_section_write(const struct mime_section *sec, unsigned long long start,
			unsigned long long count, struct buf *out)
{
	struct sink k = {out, BUF_INIT, NULL, NULL, 0};
	buf_reserve(out, (size_t)mime_section_partial_size(sec, start, count));
	walk(sec, start, count, &k);
}

int mime_section_stream(const struct mime_section *sec, unsigned long long start,
			unsigned long long count,
			int (*fn)(const char *p, size_t n, void *ctx), void *ctx)
{
	struct sink k = {NULL, BUF_INIT, fn, ctx, 0};
	return walk(sec, start, count, &k);
}
