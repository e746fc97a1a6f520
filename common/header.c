/* header: RFC 5322 header block parsing in memory (see header.h).
 * The rules: a field is "name:" (printable ASCII except ':', optional
 * obsolete whitespace before the colon) followed by lines that start with
 * SP or HT.  A line that is neither ends the header, as Postfix and
 * sendmail treat it: the message simply has no blank line before its
 * body.  No limit on line length is needed here: the work is linear and
 * nothing is copied. */
#include "header.h"

#include <string.h>

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int is_name_char(char c)
{
	unsigned char u = (unsigned char)c;
	return u >= 33 && u <= 126 && u != ':';
}

/* End of the line at off: offset of its LF, or len if there is none. */
static size_t line_end(const char *s, size_t len, size_t off)
{
	const char *nl = memchr(s + off, '\n', len - off);
	return nl ? (size_t)(nl - s) : len;
}

/* Offset just after the line that ends at eol. */
static size_t after_line(size_t len, size_t eol)
{
	return eol < len ? eol + 1 : len;
}

static int is_blank_line(const char *s, size_t off, size_t eol)
{
	return eol == off || (eol == off + 1 && s[off] == '\r');
}

/* Length of the field name at s[off..eol) and the colon position, or 0
 * when the line is not the start of a field. */
static size_t field_name(const char *s, size_t off, size_t eol, size_t *colon)
{
	size_t i = off;
	while (i < eol && is_name_char(s[i]))
		i++;
	size_t n = i - off;
	if (n == 0 || n > HEADER_NAME_MAX)
		return 0;
	while (i < eol && is_wsp(s[i]))
		i++;
	if (i >= eol || s[i] != ':')
		return 0;
	*colon = i;
	return n;
}

static void finish(struct header_iter *it, size_t body, int blank)
{
	it->done = 1;
	it->body = body;
	it->blank = blank;
	it->off = body;
}

void header_iter_init(struct header_iter *it, const char *s, size_t len)
{
	memset(it, 0, sizeof *it);
	it->s = s;
	it->len = len;
}

int header_next(struct header_iter *it, struct header_field *f)
{
	if (it->done)
		return 0;
	const char *s = it->s;
	size_t len = it->len, off = it->off;
	if (off >= len) {
		finish(it, len, 0);
		return 0;
	}
	size_t eol = line_end(s, len, off), colon;
	if (is_blank_line(s, off, eol)) {
		finish(it, after_line(len, eol), 1);
		return 0;
	}
	size_t nlen = field_name(s, off, eol, &colon);
	if (nlen == 0) {
		finish(it, off, 0);
		return 0;
	}
	/* continuation lines: any line that starts with whitespace */
	size_t next = after_line(len, eol);
	while (next < len && is_wsp(s[next])) {
		eol = line_end(s, len, next);
		next = after_line(len, eol);
	}
	size_t vend = eol;
	if (vend > colon + 1 && s[vend - 1] == '\r')
		vend--;
	f->name = s + off;
	f->name_len = nlen;
	f->value = s + colon + 1;
	f->value_len = vend - colon - 1;
	f->raw = s + off;
	f->raw_len = next - off;
	it->off = next;
	return 1;
}

size_t header_end(const char *s, size_t len, int *blank)
{
	struct header_iter it;
	struct header_field f;
	header_iter_init(&it, s, len);
	while (header_next(&it, &f) == 1)
		;
	if (blank)
		*blank = it.blank;
	return it.body;
}

static int is_fold_space(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

void header_unfold(const char *v, size_t n, struct buf *out)
{
	size_t a = 0, b = n;
	while (a < b && is_fold_space(v[a]))
		a++;
	while (b > a && is_fold_space(v[b - 1]))
		b--;
	buf_reserve(out, b - a);
	for (size_t i = a; i < b; i++)
		if (v[i] != '\r' && v[i] != '\n')
			out->s[out->len++] = v[i];
}

static int name_is(const struct header_field *f, const char *name)
{
	return mem_caseeq(f->name, f->name_len, name, strlen(name));
}

int header_find(const char *s, size_t len, const char *name, struct header_field *f)
{
	struct header_iter it;
	header_iter_init(&it, s, len);
	while (header_next(&it, f) == 1)
		if (name_is(f, name))
			return 1;
	return 0;
}

size_t header_count(const char *s, size_t len, const char *name)
{
	struct header_iter it;
	struct header_field f;
	size_t n = 0;
	header_iter_init(&it, s, len);
	while (header_next(&it, &f) == 1)
		if (name_is(&f, name))
			n++;
	return n;
}

/* Unfolded value with one pair of surrounding <> removed. */
static void address_value(const struct header_field *f, struct buf *v)
{
	buf_reset(v);
	header_unfold(f->value, f->value_len, v);
	if (v->len >= 2 && v->s[0] == '<' && v->s[v->len - 1] == '>') {
		buf_consume(v, 1);
		buf_truncate(v, v->len - 1);
	}
}

size_t header_count_value(const char *s, size_t len, const char *name,
			  const char *value, size_t vlen)
{
	struct header_iter it;
	struct header_field f;
	struct buf v = BUF_INIT;
	size_t n = 0;
	header_iter_init(&it, s, len);
	while (header_next(&it, &f) == 1) {
		if (!name_is(&f, name))
			continue;
		address_value(&f, &v);
		if (mem_caseeq(v.s, v.len, value, vlen))
			n++;
	}
	buf_free(&v);
	return n;
}
