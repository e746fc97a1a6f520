/* parse.c: the I/O-free parser of a command read by command.c, for the
 * few commands before login (RFC 3501 9: tag, atom, astring, string,
 * nstring).  A literal is taken from the command's literal list at the
 * point its {n} ends a line.  Used by session.c. */
#include "login.h"

#include <string.h>

void cur_init(struct imap_cur *p, const struct imap_cmd *cmd)
{
	p->cmd = cmd;
	p->seg = 0;
	p->pos = 0;
}

static const struct buf *seg(const struct imap_cur *p)
{
	return &p->cmd->line[p->seg];
}

/* The next byte of the current line, or -1 at its end. */
static int peek(const struct imap_cur *p)
{
	const struct buf *b = seg(p);
	return p->pos < b->len ? (unsigned char)b->s[p->pos] : -1;
}

int p_end(const struct imap_cur *p)
{
	return p->seg == p->cmd->nlit && p->pos >= seg(p)->len;
}

int p_char(struct imap_cur *p, char c)
{
	if (peek(p) != (unsigned char)c)
		return -1;
	p->pos++;
	return 0;
}

int p_sp(struct imap_cur *p)
{
	return p_char(p, ' ');
}

/* ATOM-CHAR (RFC 3501 9); ']' only where an astring is allowed. */
static int atom_char(int c, int astring)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	if (c == ']')
		return astring;
	return !strchr("(){%*\"\\", c);
}

static int p_chars(struct imap_cur *p, struct buf *out, int astring, int plus_ok)
{
	size_t start = p->pos;
	int c;
	while ((c = peek(p)) >= 0 && atom_char(c, astring) && (plus_ok || c != '+'))
		p->pos++;
	if (p->pos == start)
		return -1;
	buf_set(out, seg(p)->s + start, p->pos - start);
	buf_cstr(out);
	return 0;
}

int p_tag(struct imap_cur *p, struct buf *tag)
{
	return p_chars(p, tag, 1, 0);
}

int p_atom(struct imap_cur *p, struct buf *atom)
{
	return p_chars(p, atom, 0, 1);
}

static int p_quoted(struct imap_cur *p, struct buf *out)
{
	if (p_char(p, '"') < 0)
		return -1;
	buf_reset(out);
	for (;;) {
		int c = peek(p);
		if (c < 0 || c == '\r' || c == '\n' || c == 0)
			return -1;
		p->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = peek(p);
			if (c != '"' && c != '\\')
				return -1;
			p->pos++;
		}
		buf_putc(out, (char)c);
	}
	buf_cstr(out);
	return 0;
}

/* {n} or {n+} at the end of this line: the next literal, then the next
 * line.  Literals may not contain NUL (RFC 3501 9: CHAR8). */
static int p_literal(struct imap_cur *p, struct buf *out)
{
	size_t n, start;
	int nonsync;
	const struct buf *b = seg(p);
	if (p->seg >= p->cmd->nlit ||
	    !cmd_literal_suffix(b->s, b->len, &n, &nonsync, &start) || start != p->pos)
		return -1;
	const struct buf *lit = &p->cmd->lit[p->seg];
	if (lit->len != n || (n && memchr(lit->s, 0, n)))
		return -1;
	buf_set(out, lit->s, lit->len);
	buf_cstr(out);
	p->seg++;
	p->pos = 0;
	return 0;
}

int p_string(struct imap_cur *p, struct buf *out)
{
	int c = peek(p);
	if (c == '"')
		return p_quoted(p, out);
	if (c == '{')
		return p_literal(p, out);
	return -1;
}

int p_astring(struct imap_cur *p, struct buf *out)
{
	int c = peek(p);
	if (c == '"' || c == '{')
		return p_string(p, out);
	return p_chars(p, out, 1, 1);
}

int p_nstring(struct imap_cur *p, struct buf *out, int *is_nil)
{
	*is_nil = 0;
	int c = peek(p);
	if (c == '"' || c == '{')
		return p_string(p, out);
	if (p_atom(p, out) < 0 || strcasecmp(buf_cstr(out), "NIL"))
		return -1;
	*is_nil = 1;
	buf_reset(out);
	return 0;
}
