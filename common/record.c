/* record: typed length-prefixed records (see record.h). */
#include "record.h"

#include <string.h>

void rec_put(struct buf *b, char type, const void *data, size_t len)
{
	buf_printf(b, "%c%zu:", type, len);
	buf_append(b, data, len);
	buf_putc(b, '\n');
}

void rec_puts(struct buf *b, char type, const char *s)
{
	rec_put(b, type, s, strlen(s));
}

void rec_put_header_fixed(struct buf *b, char type, unsigned long long len)
{
	buf_printf(b, "%c%012llu:", type, len);
}

/* Reads "LENGTH:" after the type byte. */
static int get_length(struct io *io, unsigned long long *len)
{
	unsigned long long v = 0;
	int digits = 0;
	for (;;) {
		if (io->in.len == 0 && io_fill(io) <= 0)
			return -1;
		char c = io->in.s[0];
		buf_consume(&io->in, 1);
		if (c == ':')
			break;
		if (c < '0' || c > '9' || ++digits > 20 || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(c - '0');
	}
	if (digits == 0)
		return -1;
	*len = v;
	return 0;
}

int rec_get(struct io *io, char *type, struct buf *data, size_t max)
{
	buf_reset(data);
	if (io->in.len == 0 && io_fill(io) <= 0)
		return io->in.len == 0 && io->eof ? 0 : -1;
	*type = io->in.s[0];
	buf_consume(&io->in, 1);
	unsigned long long len;
	if (get_length(io, &len) < 0)
		return -1;
	if (len > max)
		return -2;
	if (io_read_exact(io, data, (size_t)len) < 0)
		return -1;
	struct buf nl = BUF_INIT;
	int r = io_read_exact(io, &nl, 1) == 0 && nl.s[0] == '\n' ? 1 : -1;
	buf_free(&nl);
	return r;
}

int rec_parse(const char *mem, size_t memlen, size_t *off, char *type,
	      const char **data, size_t *len)
{
	size_t i = *off;
	if (i >= memlen)
		return 0;
	*type = mem[i++];
	unsigned long long v = 0;
	int digits = 0;
	while (i < memlen && mem[i] >= '0' && mem[i] <= '9') {
		if (++digits > 20 || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(mem[i++] - '0');
	}
	if (digits == 0 || i >= memlen || mem[i] != ':')
		return -1;
	i++;
	if (v > memlen - i || memlen - i - v < 1 || mem[i + v] != '\n')
		return -1;
	*data = mem + i;
	*len = (size_t)v;
	*off = i + (size_t)v + 1;
	return 1;
}
