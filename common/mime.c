/* mime: the MIME structure parser (see mime.h).  One pass over the lines
 * of the message, no recursion: a stack holds the open parts from the
 * message down to the innermost one, and each line is either part of the
 * innermost part's header, a boundary line of an open multipart (checked
 * innermost first, matched by prefix as Dovecot does), or body.  Line-end
 * counts are kept as the pass goes, so sizes in CRLF octets and line
 * counts cost nothing extra.  Used by imapd through mime.h. */
#include "mime_int.h"

#include <stdlib.h>
#include <string.h>
#include "header.h"

struct scan {
	struct mime_msg *m;
	const char *s;
	size_t len;
	size_t off;			/* start of the current line */
	unsigned long long lf, bare;	/* LFs and bare LFs before off */
	int open[MIME_DEPTH_MAX + 2];	/* the message .. the innermost part */
	int nopen;
	int in_header;			/* reading the innermost part's header */
	size_t seg;			/* where the innermost body or epilogue began */
};

size_t mime_hdr_len(const struct mime_part *p)
{
	return p->hdr_len < MIME_HEADER_MAX ? p->hdr_len : MIME_HEADER_MAX;
}

static int new_part(struct mime_msg *m, int parent, size_t off)
{
	if (m->n >= MIME_PARTS_MAX)
		return -1;
	if (m->n == m->cap) {
		m->cap = m->cap ? size_mul(m->cap, 2) : 8;
		m->parts = xrealloc(m->parts, size_mul(m->cap, sizeof *m->parts));
	}
	int i = (int)m->n++;
	struct mime_part *p = &m->parts[i];
	memset(p, 0, sizeof *p);
	p->hdr = p->body = off;
	p->parent = parent;
	p->child = p->next = p->last = -1;
	if (parent >= 0) {
		struct mime_part *par = &m->parts[parent];
		p->depth = par->depth + 1;
		if (par->last >= 0)
			m->parts[par->last].next = i;
		else
			par->child = i;
		par->last = i;
	}
	return i;
}

/* Opens part i as the innermost part, its header starting at sc->off. */
static void push(struct scan *sc, int i)
{
	struct mime_part *p = &sc->m->parts[i];
	p->bare0 = sc->bare;
	sc->open[sc->nopen++] = i;
	sc->in_header = 1;
}

static void set_boundary(struct mime_msg *m, struct mime_part *p, const char *b, size_t n)
{
	if (n > MIME_BOUNDARY_MAX)
		n = MIME_BOUNDARY_MAX;
	buf_reserve(&m->strings, 1);	/* an empty boundary still has a base */
	p->bound = m->strings.len;
	p->bound_len = n;
	buf_append(&m->strings, b, n);
}

static int ctype_is(const struct mime_fields *f, const char *type, const char *sub)
{
	if (!mem_caseeq(f->type.s, f->type.len, type, strlen(type)))
		return 0;
	return sub == NULL || mem_caseeq(f->subtype.s, f->subtype.len, sub, strlen(sub));
}

/* The kind of part i from its Content-Type (or its parent's default). */
static void classify(struct scan *sc, int i, struct mime_fields *f)
{
	struct mime_msg *m = sc->m;
	struct mime_part *p = &m->parts[i];
	struct header_field h;
	int parent_digest = p->parent >= 0 && m->parts[p->parent].digest;
	if (mime_hfind(m->s + p->hdr, mime_hdr_len(p), "content-type", &h))
		mime_ctype_read(h.value, h.value_len, f);
	int multi = f->have_type && f->subtype.len > 0 && ctype_is(f, "multipart", NULL);
	int msg = f->have_type ? ctype_is(f, "message", "rfc822") : parent_digest;
	if (!multi && !msg)
		return;
	if (p->depth >= MIME_DEPTH_MAX) {
		p->opaque = 1;
		return;
	}
	if (msg) {
		p->kind = MIME_MESSAGE;
		return;
	}
	p->kind = MIME_MULTIPART;
	p->digest = ctype_is(f, "multipart", "digest");
	size_t blen;
	const char *b = mime_params_get(&f->params, "boundary", &blen);
	if (b)
		set_boundary(m, p, b, blen);
	else
		p->closed = 1;
}

/* The innermost part's header ends at body, where its body starts; lf
 * and bare are the line-end counts before body. */
static void end_header(struct scan *sc, size_t body, unsigned long long lf,
		       unsigned long long bare)
{
	int i = sc->open[sc->nopen - 1];
	struct mime_part *p = &sc->m->parts[i];
	p->hdr_len = body - p->hdr;
	p->hdr_size = p->hdr_len + (bare - p->bare0);
	p->body = body;
	p->lf0 = lf;
	p->bare0 = bare;
	sc->in_header = 0;
	sc->seg = body;
	struct mime_fields f;
	mime_fields_init(&f);
	classify(sc, i, &f);
	mime_fields_free(&f);
	if (p->kind == MIME_MESSAGE) {
		int c = new_part(sc->m, i, body);
		if (c < 0) {
			p->kind = MIME_LEAF;
			p->opaque = 1;
		} else {
			push(sc, c);
			sc->m->parts[c].bare0 = bare;
		}
	}
}

/* Part i's body ends at end; lf/bare are the counts before end. */
static void close_part(struct mime_part *p, size_t end, unsigned long long lf,
		       unsigned long long bare)
{
	if (end <= p->body) {
		p->body_len = 0;
		return;
	}
	p->body_len = end - p->body;
	p->body_size = p->body_len + (bare - p->bare0);
	p->body_lines = lf - p->lf0;
}

/* Where what precedes the boundary line at sc->off ends: before the line
 * end in front of it (that belongs to the boundary, RFC 2046 5.1.1), unless
 * that line end lies before floor (it ended a header or a close
 * delimiter: Dovecot keeps it). */
struct cut {
	size_t end;
	unsigned long long lf, bare;
};

static struct cut cut_before(const struct scan *sc, size_t floor)
{
	struct cut c = {sc->off, sc->lf, sc->bare};
	if (c.end > floor && sc->s[c.end - 1] == '\n') {
		c.end--;
		c.lf--;
		if (c.end > floor && sc->s[c.end - 1] == '\r')
			c.end--;
		else
			c.bare--;
	}
	return c;
}

/* Closes the open parts deeper than level k at c. */
static void close_to(struct scan *sc, int k, struct cut c)
{
	while (sc->nopen > k + 1) {
		int i = sc->open[--sc->nopen];
		close_part(&sc->m->parts[i], c.end, c.lf, c.bare);
	}
}

/* The open multipart whose boundary line l is (innermost first), or -1;
 * *close says whether it is the close delimiter. */
static int match_boundary(const struct scan *sc, const char *l, size_t n, int *close)
{
	if (n < 2 || l[0] != '-' || l[1] != '-')
		return -1;
	for (int k = sc->nopen - 1; k >= 0; k--) {
		const struct mime_part *p = &sc->m->parts[sc->open[k]];
		if (p->kind != MIME_MULTIPART || p->closed)
			continue;
		size_t b = p->bound_len;
		if (n - 2 < b || memcmp(l + 2, sc->m->strings.s + p->bound, b) != 0)
			continue;
		*close = n >= b + 4 && l[b + 2] == '-' && l[b + 3] == '-';
		return k;
	}
	return -1;
}

static void advance(struct scan *sc, size_t eol)
{
	if (eol < sc->len) {
		sc->lf++;
		if (eol == 0 || sc->s[eol - 1] != '\r')
			sc->bare++;
		sc->off = eol + 1;
	} else
		sc->off = sc->len;
}

/* A header whose blank line comes right before a boundary line: the line
 * end is the boundary's, and the header ends without it (Dovecot). */
static void drop_blank_line(const struct scan *sc, struct mime_part *p)
{
	struct cut h = cut_before(sc, p->hdr);
	p->hdr_size -= (sc->off - h.end) + (sc->bare - h.bare);
	p->hdr_len = h.end - p->hdr;
}

/* A boundary line of the multipart at level k. */
static void on_boundary(struct scan *sc, int k, int close, size_t eol)
{
	struct mime_part *p = &sc->m->parts[sc->open[sc->nopen - 1]];
	if (sc->in_header) {
		/* the header loses the line end; the part (and a message it
		 * starts) is empty; the message/rfc822 parts around it keep
		 * the line end in their bodies (Dovecot) */
		int level = sc->nopen - 1;
		struct cut h = cut_before(sc, p->hdr);
		struct cut whole = {sc->off, sc->lf, sc->bare};
		end_header(sc, h.end, h.lf, h.bare);
		close_to(sc, level - 1, h);
		close_to(sc, k, whole);
	} else {
		if (sc->nopen - 1 > k && p->body == sc->off && p->hdr_len > 0 &&
		    p->hdr + p->hdr_len == sc->off)
			drop_blank_line(sc, p);
		close_to(sc, k, cut_before(sc, sc->seg));
	}
	sc->in_header = 0;
	struct mime_part *mp = &sc->m->parts[sc->open[k]];
	advance(sc, eol);
	if (close) {
		mp->closed = 1;
		sc->seg = sc->off;	/* the epilogue */
		return;
	}
	int c = new_part(sc->m, sc->open[k], sc->off);
	if (c < 0)
		mp->closed = 1;	/* too many parts: the rest is epilogue */
	else
		push(sc, c);
}

static int is_blank(const char *l, size_t n)
{
	return n == 0 || (n == 1 && l[0] == '\r');
}

/* One line of the innermost part's header: only a blank line ends it
 * (a line that is not a field is a field without a value, as Dovecot and
 * Cyrus read it). */
static void header_line(struct scan *sc, const char *l, size_t n, size_t eol)
{
	advance(sc, eol);
	if (is_blank(l, n))
		end_header(sc, sc->off, sc->lf, sc->bare);
}

static void scan_lines(struct scan *sc)
{
	while (sc->off < sc->len) {
		const char *l = sc->s + sc->off;
		const char *nl = memchr(l, '\n', sc->len - sc->off);
		size_t eol = nl ? (size_t)(nl - sc->s) : sc->len;
		size_t n = eol - sc->off;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		int close, k = match_boundary(sc, l, n, &close);
		if (k >= 0)
			on_boundary(sc, k, close, eol);
		else if (sc->in_header)
			header_line(sc, l, n, eol);
		else
			advance(sc, eol);
	}
}

/* A message without a line end at the end is shown with one: every
 * header or body that reaches the end gets it. */
static void complete_last_line(struct mime_msg *m)
{
	if (!m->add_lf)
		return;
	unsigned extra = m->s[m->len - 1] == '\r' ? 1 : 2;
	for (size_t i = 0; i < m->n; i++) {
		struct mime_part *p = &m->parts[i];
		if (p->hdr_len > 0 && p->hdr + p->hdr_len == m->len)
			p->hdr_size += extra;
		if (p->body_len > 0 && p->body + p->body_len == m->len) {
			p->body_size += extra;
			p->body_lines++;
		}
	}
}

void mime_parse(struct mime_msg *m, const char *s, size_t len)
{
	memset(m, 0, sizeof *m);
	if (s == NULL) {	/* an empty file that could not be mapped */
		s = "";
		len = 0;
	}
	m->s = s;
	m->len = len;
	m->add_lf = len > 0 && s[len - 1] != '\n';
	struct scan sc;
	memset(&sc, 0, sizeof sc);
	sc.m = m;
	sc.s = s;
	sc.len = len;
	push(&sc, new_part(m, -1, 0));
	scan_lines(&sc);
	while (sc.in_header)	/* header to the end: each level's, once */
		end_header(&sc, len, sc.lf, sc.bare);
	sc.off = len;
	while (sc.nopen > 0) {
		int i = sc.open[--sc.nopen];
		close_part(&m->parts[i], len, sc.lf, sc.bare);
	}
	complete_last_line(m);
}

void mime_free(struct mime_msg *m)
{
	free(m->parts);
	buf_free(&m->strings);
	memset(m, 0, sizeof *m);
}
