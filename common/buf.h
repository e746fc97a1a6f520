/* buf: the one counted-length byte buffer used for every string and every
 * I/O buffer in posthorn.  All growth is overflow-checked; allocation failure
 * ends the process with exit code 111 (temporary failure), which every caller
 * in the mail path treats as "try again later".  Used by everything. */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *s;	/* bytes; NUL-terminated only after buf_cstr() */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated */
};

#define BUF_INIT {NULL, 0, 0}

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_set(struct buf *b, const void *p, size_t n);
void buf_copy(struct buf *dst, const struct buf *src);
const char *buf_cstr(struct buf *b);
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t n);
int buf_eq(const struct buf *b, const char *s);
int buf_has_nul(const struct buf *b);

/* Memory views: helpers that take (pointer, length) pairs. */
int mem_caseeq(const char *a, size_t alen, const char *b, size_t blen);
int mem_caseprefix(const char *s, size_t len, const char *prefix);
void mem_lower(char *s, size_t len);
const char *mem_find(const char *s, size_t len, const char *needle, size_t nlen);
/* Parses an unsigned decimal; returns 0 on success, -1 on junk or overflow. */
int mem_to_u64(const char *s, size_t len, unsigned long long *out);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xmemdup(const char *s, size_t n);	/* adds a NUL */
/* checked size arithmetic: exits 111 on overflow */
size_t size_add(size_t a, size_t b);
size_t size_mul(size_t a, size_t b);

#endif
