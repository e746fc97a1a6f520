/* parse.c: the I/O-free parts of pop3d: command lines, message numbers,
 * and the encoder that turns stored message bytes into RETR/TOP output.
 * Called by session.c and store.c, and directly by tests/unit/test_pop3.c
 * and tests/fuzz/fuzz_pop3.c. */
#include "pop3d.h"

#include <string.h>

int pop3_parse(const char *line, size_t len, struct pop3_cmd *c)
{
	memset(c, 0, sizeof *c);
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return -1;
	if (memchr(line, '\0', len) || memchr(line, '\r', len) || memchr(line, '\n', len))
		return -1;
	size_t k = 0;
	while (k < len && line[k] != ' ') {
		char ch = line[k];
		if (k == 4 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			return -1;
		c->name[k++] = (char)(ch & ~0x20);
	}
	if (k == 0)
		return -1;
	c->name[k] = 0;
	if (k < len) {
		c->has_arg = 1;
		c->arg = line + k + 1;
		c->alen = len - k - 1;
	}
	return 0;
}

int pop3_msgnum(const char *s, size_t n, size_t max, size_t *out)
{
	unsigned long long v;
	if (n == 0 || n > 20 || s[0] < '0' || s[0] > '9' || mem_to_u64(s, n, &v) < 0)
		return -1;
	if (v == 0 || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

int pop3_two_args(const char *s, size_t n, const char **a, size_t *alen,
		  const char **b, size_t *blen)
{
	const char *sp = memchr(s, ' ', n);
	if (!sp || sp == s || (size_t)(sp - s) + 1 == n)
		return -1;
	*a = s;
	*alen = (size_t)(sp - s);
	*b = sp + 1;
	*blen = n - *alen - 1;
	return memchr(*b, ' ', *blen) ? -1 : 0;
}

void pop3_enc_init(struct pop3_enc *e, long long body_lines)
{
	memset(e, 0, sizeof *e);
	e->bol = 1;
	e->line_empty = 1;
	e->body_lines = body_lines;
}

/* A line ended: the end of the header, or one more body line for TOP. */
static void line_end(struct pop3_enc *e)
{
	if (!e->in_body) {
		if (e->line_empty) {
			e->in_body = 1;
			if (e->body_lines == 0)
				e->done = 1;
		}
	} else if (e->body_lines > 0 && --e->body_lines == 0) {
		e->done = 1;
	}
	e->bol = 1;
	e->line_empty = 1;
}

void pop3_encode(struct pop3_enc *e, const char *p, size_t n, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n && !e->done; i++) {
		char ch = p[i];
		if (e->bol && ch == '.') {
			buf_append(out, p + start, i - start);
			buf_putc(out, '.');	/* the '.' itself goes out with the run */
			start = i;
		}
		if (ch == '\n') {
			buf_append(out, p + start, i - start);
			buf_puts(out, e->prev_cr ? "\n" : "\r\n");
			start = i + 1;
			e->prev_cr = 0;
			line_end(e);
			continue;
		}
		if (ch != '\r')
			e->line_empty = 0;
		e->bol = 0;
		e->prev_cr = ch == '\r';
	}
	if (!e->done)
		buf_append(out, p + start, n - start);
}

void pop3_enc_finish(struct pop3_enc *e, struct buf *out)
{
	/* a lone CR at the end is completed rather than doubled */
	if (!e->bol && !e->done)
		buf_puts(out, e->prev_cr ? "\n" : "\r\n");
	buf_puts(out, ".\r\n");
}
