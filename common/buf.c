/* buf: counted-length buffers and checked allocation (see buf.h). */
#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void out_of_memory(void)
{
	static const char msg[] = "posthorn: out of memory\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	_exit(111);
}

size_t size_add(size_t a, size_t b)
{
	if (a > (size_t)-1 - b)
		out_of_memory();
	return a + b;
}

size_t size_mul(size_t a, size_t b)
{
	if (b != 0 && a > (size_t)-1 / b)
		out_of_memory();
	return a * b;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory();
	return q;
}

char *xmemdup(const char *s, size_t n)
{
	char *p = xmalloc(size_add(n, 1));
	if (n)
		memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

void buf_free(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

/* Ensures room for extra more bytes plus a terminating NUL. */
void buf_reserve(struct buf *b, size_t extra)
{
	size_t need = size_add(size_add(b->len, extra), 1);
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = size_mul(cap, 2);
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->s[b->len++] = c;
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		buf_append(b, small, (size_t)n);
		return;
	}
	buf_reserve(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_set(struct buf *b, const void *p, size_t n)
{
	b->len = 0;
	buf_append(b, p, n);
}

void buf_copy(struct buf *dst, const struct buf *src)
{
	buf_set(dst, src->s, src->len);
}

const char *buf_cstr(struct buf *b)
{
	buf_reserve(b, 0);
	b->s[b->len] = 0;
	return b->s;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->s, b->s + n, b->len - n);
	b->len -= n;
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n < b->len)
		b->len = n;
}

int buf_eq(const struct buf *b, const char *s)
{
	size_t n = strlen(s);
	return b->len == n && (n == 0 || memcmp(b->s, s, n) == 0);
}

int buf_has_nul(const struct buf *b)
{
	return b->len && memchr(b->s, 0, b->len) != NULL;
}

int mem_caseeq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

int mem_caseprefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && mem_caseeq(s, n, prefix, n);
}

void mem_lower(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

const char *mem_find(const char *s, size_t len, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return s;
	if (len < nlen)
		return NULL;
	return memmem(s, len, needle, nlen);
}

int mem_to_u64(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
