/* mime_lex: the RFC 822 / RFC 2045 lexer of the MIME module (comments,
 * tokens, atoms, quoted strings, phrases) and Content-Type parameters with
 * RFC 2231 continuations.  The rules are those of Dovecot's rfc822-parser
 * and rfc2231-parser, byte for byte where it matters for BODYSTRUCTURE
 * (see doc/design.md "MIME and IMAP body structure").  Used by mime.c,
 * mime_fields.c and mime_addr.c. */
#include "mime_int.h"

#include <stdlib.h>
#include <string.h>
#include "header.h"

void mime_lex_init(struct mime_lex *x, const char *s, size_t len)
{
	x->p = (const unsigned char *)s;
	x->end = x->p + len;
	x->comment = NULL;
}

int mime_lex_at(const struct mime_lex *x, char c)
{
	return x->p < x->end && *x->p == (unsigned char)c;
}

/* A comment at '(': nesting counted, quoted pairs honoured; its text
 * (without the outer parentheses) goes to x->comment. */
static int skip_comment(struct mime_lex *x)
{
	size_t level = 1;
	if (x->comment)
		buf_reset(x->comment);
	for (x->p++; x->p < x->end; x->p++) {
		unsigned char c = *x->p;
		if (c == '(')
			level++;
		else if (c == ')' && --level == 0) {
			x->p++;
			return 1;
		} else if (c == '\\') {
			if (++x->p == x->end)
				return -1;
			c = *x->p;
		}
		if (x->comment)
			buf_putc(x->comment, (char)c);
	}
	return -1;
}

int mime_lex_skip(struct mime_lex *x)
{
	while (x->p < x->end) {
		unsigned char c = *x->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			x->p++;
		else if (c == '(') {
			if (skip_comment(x) < 0)
				return -1;
		} else
			return 1;
	}
	return 0;
}

static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_token(unsigned char c)
{
	if (c == '.')
		return 1;
	return is_atext(c) && c != '/' && c != '=' && c != '?';
}

int mime_lex_token(struct mime_lex *x, struct buf *out)
{
	const unsigned char *start = x->p;
	while (x->p < x->end && is_token(*x->p))
		x->p++;
	buf_append(out, start, (size_t)(x->p - start));
	return mime_lex_skip(x);
}

int mime_lex_quoted(struct mime_lex *x, struct buf *out)
{
	for (x->p++; x->p < x->end; x->p++) {
		unsigned char c = *x->p;
		if (c == '"') {
			x->p++;
			return mime_lex_skip(x);
		}
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\') {
			if (++x->p == x->end)
				return -1;
			c = *x->p;
		}
		buf_putc(out, (char)c);
	}
	return -1;
}

int mime_lex_atom(struct mime_lex *x, struct buf *out)
{
	if (x->p >= x->end || !is_atext(*x->p))
		return -1;
	const unsigned char *start = x->p;
	while (x->p < x->end && is_atext(*x->p))
		x->p++;
	buf_append(out, start, (size_t)(x->p - start));
	return mime_lex_skip(x);
}

/* As Dovecot: white space and comments around dots are allowed, and a
 * dot need not be followed by an atom. */
int mime_lex_dot_atom(struct mime_lex *x, struct buf *out)
{
	if (x->p >= x->end || !is_atext(*x->p))
		return -1;
	for (;;) {
		const unsigned char *start = x->p;
		while (x->p < x->end && is_atext(*x->p))
			x->p++;
		buf_append(out, start, (size_t)(x->p - start));
		if (x->p >= x->end)
			return 0;
		int r = mime_lex_skip(x);
		if (r <= 0)
			return r;
		if (*x->p != '.')
			return 1;
		x->p++;
		buf_putc(out, '.');
		if ((r = mime_lex_skip(x)) <= 0)
			return r;
	}
}

/* In a phrase an atom may contain dots ("John Q. Public"), and words are
 * joined by one space: Dovecot's rfc822_parse_phrase. */
static int atom_or_dot(struct mime_lex *x, struct buf *out)
{
	const unsigned char *start = x->p;
	while (x->p < x->end && (is_atext(*x->p) || *x->p == '.'))
		x->p++;
	if (x->p == start)
		return -1;
	buf_append(out, start, (size_t)(x->p - start));
	return mime_lex_skip(x);
}

int mime_lex_phrase(struct mime_lex *x, struct buf *out)
{
	if (x->p >= x->end)
		return 0;
	if (*x->p == '.')
		return -1;
	for (;;) {
		int r = *x->p == '"' ? mime_lex_quoted(x, out) : atom_or_dot(x, out);
		if (r <= 0)
			return r;
		unsigned char c = *x->p;
		if (!is_atext(c) && c != '"' && c != '.')
			return 1;
		buf_putc(out, ' ');
	}
}

void mime_value(const char *v, size_t n, struct buf *out)
{
	if (n > MIME_VALUE_MAX)
		n = MIME_VALUE_MAX;
	if (memchr(v, '\0', n) == NULL) {
		header_unfold(v, n, out);
		return;
	}
	struct buf t = BUF_INIT;
	header_unfold(v, n, &t);
	for (size_t i = 0; i < t.len; i++) {
		if (t.s[i] == '\0')
			buf_append(out, MIME_NUL_REPLACEMENT, 3);
		else
			buf_putc(out, t.s[i]);
	}
	buf_free(&t);
}

/* ---- parameters ---- */

void mime_params_free(struct mime_params *ps)
{
	buf_free(&ps->text);
	free(ps->kv);
	memset(ps, 0, sizeof *ps);
}

static void params_add(struct mime_params *ps, const char *k, size_t klen,
		       const char *v, size_t vlen)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? size_mul(ps->cap, 2) : 8;
		ps->kv = xrealloc(ps->kv, size_mul(ps->cap, sizeof *ps->kv));
	}
	struct mime_kv *kv = &ps->kv[ps->n++];
	buf_reserve(&ps->text, 1);	/* never a NULL base for the offsets */
	kv->k = ps->text.len;
	kv->klen = klen;
	buf_append(&ps->text, k, klen);
	kv->v = ps->text.len;
	kv->vlen = vlen;
	buf_append(&ps->text, v, vlen);
}

const char *mime_params_get(const struct mime_params *ps, const char *name, size_t *len)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct mime_kv *kv = &ps->kv[i];
		if (mem_caseeq(ps->text.s + kv->k, kv->klen, name, strlen(name))) {
			*len = kv->vlen;
			return ps->text.s + kv->v;
		}
	}
	return NULL;
}

/* One `; key=value`: 1 ok, 0 at the end, -1 broken (Dovecot's
 * rfc822_parse_content_param).  key and value are reset first. */
static int param_next(struct mime_lex *x, struct buf *key, struct buf *val)
{
	buf_reset(key);
	buf_reset(val);
	if (x->p >= x->end)
		return 0;
	if (*x->p != ';')
		return -1;
	x->p++;
	if (mime_lex_skip(x) <= 0)
		return -1;
	if (mime_lex_token(x, key) <= 0 || *x->p != '=')
		return -1;
	x->p++;
	int r = mime_lex_skip(x);
	if (r <= 0)
		return 1;
	if (*x->p == '"')
		r = mime_lex_quoted(x, val);
	else if (*x->p == '=') {
		/* Dovecot's workaround for name==?utf-8?b?...?= */
		while (x->p < x->end && !strchr("; \t\r\n", *x->p))
			buf_putc(val, (char)*x->p++);
	} else
		r = mime_lex_token(x, val);
	return r < 0 ? -1 : 1;
}

/* An RFC 2231 piece: key "name*N*" etc. */
struct piece {
	size_t k, klen, v, vlen;	/* offsets into the pieces' text */
	unsigned idx;
	int ext;
	size_t seq;			/* arrival order (stable sort) */
	const char *text;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = strncasecmp(x->text + x->k, y->text + y->k, n);
	if (c == 0 && x->klen != y->klen)
		c = x->klen < y->klen ? -1 : 1;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	if (c == 0)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	return c;
}

/* Splits "name*12*" into name, index 12, extended: 1 if key is an RFC
 * 2231 key, 0 if it is a plain one. */
static int split_2231(const char *k, size_t klen, size_t *namelen, unsigned *idx, int *ext)
{
	const char *star = klen ? memchr(k, '*', klen) : NULL;
	if (!star)
		return 0;
	size_t i = (size_t)(star - k) + 1;
	*namelen = (size_t)(star - k);
	*idx = 0;
	*ext = 0;
	if (i < klen) {
		while (i < klen && k[i] >= '0' && k[i] <= '9') {
			if (*idx < 100000)
				*idx = *idx * 10 + (unsigned)(k[i] - '0');
			i++;
		}
	}
	if (i < klen && k[i] == '*') {
		*ext = 1;
		i++;
	} else if (i == klen && klen == *namelen + 1) {
		*ext = 1;	/* "name*" */
	}
	return i == klen;
}

struct pieces {
	struct piece *p;
	size_t n, cap;
	struct buf text;
};

static void pieces_add(struct pieces *ps, const struct buf *key, size_t namelen,
		       unsigned idx, int ext, const struct buf *val)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? size_mul(ps->cap, 2) : 8;
		ps->p = xrealloc(ps->p, size_mul(ps->cap, sizeof *ps->p));
	}
	struct piece *pc = &ps->p[ps->n];
	buf_reserve(&ps->text, 1);
	pc->k = ps->text.len;
	pc->klen = namelen;
	buf_append(&ps->text, key->s, namelen);
	pc->v = ps->text.len;
	pc->vlen = val->len;
	buf_append(&ps->text, val->s, val->len);
	pc->idx = idx;
	pc->ext = ext;
	pc->seq = ps->n++;
}

/* Pieces i..j-1 share a name: merged, or listed one by one when an index
 * is missing. */
static void merge_group(struct mime_params *out, const struct piece *p, size_t i,
			size_t j, struct buf *tmp)
{
	int ok = 1, have_ext = 0;
	for (size_t k = i; k < j; k++) {
		if (p[k].idx != k - i)
			ok = 0;
		if (p[k].ext)
			have_ext = 1;
	}
	const char *t = p[i].text;
	if (!ok) {
		for (size_t k = i; k < j; k++) {
			buf_reset(tmp);
			buf_append(tmp, t + p[k].k, p[k].klen);
			buf_printf(tmp, "*%u%s", p[k].idx, p[k].ext ? "*" : "");
			params_add(out, tmp->s, tmp->len, t + p[k].v, p[k].vlen);
		}
		return;
	}
	buf_reset(tmp);
	if (!p[i].ext && have_ext)
		buf_append(tmp, "''", 2);
	for (size_t k = i; k < j; k++) {
		for (size_t b = 0; b < p[k].vlen; b++) {
			char c = t[p[k].v + b];
			if (c == '%' && !p[k].ext && have_ext)
				buf_append(tmp, "%25", 3);
			else
				buf_putc(tmp, c);
		}
	}
	struct buf key = BUF_INIT;
	buf_append(&key, t + p[i].k, p[i].klen);
	if (have_ext)
		buf_putc(&key, '*');
	params_add(out, key.s, key.len, tmp->s, tmp->len);
	buf_free(&key);
}

static void merge_pieces(struct mime_params *out, struct pieces *ps)
{
	struct buf tmp = BUF_INIT;
	for (size_t i = 0; i < ps->n; i++)
		ps->p[i].text = ps->text.s;
	qsort(ps->p, ps->n, sizeof *ps->p, piece_cmp);
	for (size_t i = 0, j; i < ps->n; i = j) {
		for (j = i + 1; j < ps->n; j++)
			if (!mem_caseeq(ps->text.s + ps->p[i].k, ps->p[i].klen,
					ps->text.s + ps->p[j].k, ps->p[j].klen))
				break;
		merge_group(out, ps->p, i, j, &tmp);
	}
	buf_free(&tmp);
}

void mime_params_parse(struct mime_lex *x, struct mime_params *ps)
{
	struct buf key = BUF_INIT, val = BUF_INIT;
	struct pieces pcs = {NULL, 0, 0, BUF_INIT};
	size_t count = 0;
	int r;
	while ((r = param_next(x, &key, &val)) != 0 && count < MIME_PARAMS_MAX) {
		if (r < 0) {
			if (x->p >= x->end)
				break;
			x->p++;
			continue;
		}
		count++;
		size_t namelen;
		unsigned idx;
		int ext;
		if (split_2231(key.s, key.len, &namelen, &idx, &ext))
			pieces_add(&pcs, &key, namelen, idx, ext, &val);
		else
			params_add(ps, key.s, key.len, val.s, val.len);
	}
	if (pcs.n > 0)
		merge_pieces(ps, &pcs);
	free(pcs.p);
	buf_free(&pcs.text);
	buf_free(&key);
	buf_free(&val);
}
