/* imapfmt: IMAP strings, literals and lists into a struct buf (see
 * imapfmt.h).  Used by imapd and common/mime.c. */
#include "imapfmt.h"

#include <string.h>

int imapfmt_quotable(const char *s, size_t n)
{
	size_t escapes = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c == '\r' || c == '\n' || c >= 0x80)
			return 0;
		if ((c == '"' || c == '\\') && ++escapes > IMAPFMT_ESCAPES_MAX)
			return 0;
	}
	return 1;
}

static int is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\]", c) == NULL;
}

int imapfmt_is_atom(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_atom_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static void quoted(struct buf *out, const char *s, size_t n)
{
	buf_reserve(out, size_add(n, 2));
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

void imapfmt_literal(struct buf *out, const char *s, size_t n)
{
	buf_printf(out, "{%zu}\r\n", n);
	buf_append(out, s, n);
}

void imapfmt_string(struct buf *out, const char *s, size_t n)
{
	if (imapfmt_quotable(s, n))
		quoted(out, s, n);
	else
		imapfmt_literal(out, s, n);
}

void imapfmt_string_c(struct buf *out, const char *s)
{
	imapfmt_string(out, s, strlen(s));
}

void imapfmt_nil(struct buf *out)
{
	buf_append(out, "NIL", 3);
}

void imapfmt_nstring(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		imapfmt_nil(out);
	else
		imapfmt_string(out, s, n);
}

/* ASTRING-CHAR: an atom character or ']' (RFC 3501 9); "NIL" is quoted
 * so that it is not mistaken for NIL (Dovecot does the same). */
void imapfmt_astring(struct buf *out, const char *s, size_t n)
{
	int plain = n > 0 && !mem_caseeq(s, n, "NIL", 3);
	for (size_t i = 0; i < n && plain; i++)
		plain = s[i] == ']' || is_atom_char((unsigned char)s[i]);
	if (plain)
		buf_append(out, s, n);
	else
		imapfmt_string(out, s, n);
}

void imapfmt_list_open(struct imapfmt_list *l, struct buf *out)
{
	l->out = out;
	l->items = 0;
	buf_putc(out, '(');
}

struct buf *imapfmt_list_item(struct imapfmt_list *l)
{
	if (l->items++ > 0)
		buf_putc(l->out, ' ');
	return l->out;
}

void imapfmt_list_close(struct imapfmt_list *l)
{
	buf_putc(l->out, ')');
}
