/* cidr: address blocks and membership (see cidr.h).  Everything is kept in
 * the 16-byte IPv6 form so one comparison serves both families. */
#include "cidr.h"
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IP_TEXT_MAX 64	/* longer than any IPv6 text form with a zone */

/* An IPv4 address lives at ::ffff:0:0/96 (RFC 4291 2.5.5.2). */
static void v4_mapped(unsigned char out[16], const unsigned char v4[4])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int cidr_parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char text[IP_TEXT_MAX];
	unsigned char v4[4];
	if (len == 0 || len >= sizeof text || memchr(s, 0, len))
		return -1;
	memcpy(text, s, len);
	text[len] = 0;
	if (inet_pton(AF_INET, text, v4) == 1) {
		v4_mapped(out, v4);
		return 0;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

static int parse_prefix(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned long long v;
	if (len == 0 || len > 3 || mem_to_u64(s, len, &v) < 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cidr_parse(const char *s, size_t len, struct cidr *out)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	if (cidr_parse_ip(s, alen, out->addr) < 0)
		return -1;
	int v4 = memchr(s, ':', alen) == NULL;
	unsigned max = v4 ? 32 : 128;
	unsigned p = max;
	if (slash && parse_prefix(slash + 1, len - alen - 1, max, &p) < 0)
		return -1;
	out->prefix = v4 ? p + 96 : p;
	return 0;
}

int cidr_contains(const struct cidr *c, const unsigned char ip[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr, ip, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (ip[full] & mask);
}

void cidr_list_add(struct cidr_list *l, const struct cidr *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? size_mul(l->cap, 2) : 16;
		l->v = xrealloc(l->v, size_mul(cap, sizeof *l->v));
		l->cap = cap;
	}
	l->v[l->n++] = *c;
}

void cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line of the table: 1 added, 0 blank/comment, -1 bad. */
static int parse_table_line(struct cidr_list *l, const char *s, size_t len)
{
	const char *hash = memchr(s, '#', len);
	if (hash)
		len = (size_t)(hash - s);
	while (len && is_space(*s)) {
		s++;
		len--;
	}
	while (len && is_space(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	struct cidr c;
	if (cidr_parse(s, len, &c) < 0)
		return -1;
	cidr_list_add(l, &c);
	return 1;
}

int cidr_list_parse(struct cidr_list *l, const char *text, size_t len, struct buf *err)
{
	int bad = 0, lineno = 0;
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - text - off) : len - off;
		lineno++;
		if (parse_table_line(l, text + off, n) < 0 && bad++ == 0)
			buf_printf(err, "line %d: not an address block", lineno);
		off += n + (nl != NULL);
	}
	return bad;
}

int cidr_list_load(struct cidr_list *l, const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	int r = file_read(path, &text, 1 << 20);
	if (r < 0) {
		buf_free(&text);
		if (r == -1 && errno == ENOENT)
			return 0;
		if (r == -2)
			errno = EFBIG;
		return -1;
	}
	r = cidr_list_parse(l, text.s, text.len, err);
	buf_free(&text);
	return r;
}

int cidr_list_match(const struct cidr_list *l, const char *ip, size_t len)
{
	unsigned char a[16];
	if (cidr_parse_ip(ip, len, a) < 0)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (cidr_contains(&l->v[i], a))
			return 1;
	return 0;
}
