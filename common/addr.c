/* addr: address parsing (see addr.h).  Grammar from RFC 5321 4.1.2 and
 * RFC 5322 3.4; UTF-8 per RFC 6531 3.3 (any byte >= 0x80 in atext). */
#include "addr.h"

#include <ctype.h>
#include <string.h>

static int is_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	/* c != 0: strchr would find the string's own terminator */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_qtext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* local-part = Dot-string / Quoted-string; returns bytes used or -1. */
static long parse_local(const char *s, size_t len, int utf8)
{
	size_t i = 0;
	if (len && s[0] == '"') {
		for (i = 1; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"')
				return (long)i + 1;
			if (c == '\\') {
				if (++i >= len || (unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
					return -1;
			} else if (!is_qtext(c, utf8)) {
				return -1;
			}
		}
		return -1;
	}
	int atom = 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (!atom)
				return -1;
			atom = 0;
		} else if (is_atext(c, utf8)) {
			atom = 1;
		} else {
			break;
		}
	}
	return atom ? (long)i : -1;
}

/* Domain = sub-domain *("." sub-domain) / address-literal. */
static long parse_domain(const char *s, size_t len, int utf8)
{
	size_t i = 0;
	if (len && s[0] == '[') {
		for (i = 1; i < len && s[i] != ']'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 33 || c > 126 || c == '[' || c == '\\')
				return -1;
		}
		return i < len && i > 1 ? (long)i + 1 : -1;
	}
	size_t label = 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if (isalnum(c) || (c >= 0x80 && utf8) || (c == '-' && label > 0)) {
			if (++label > 63)
				return -1;
		} else {
			break;
		}
	}
	if (label == 0 || s[i - 1] == '-')
		return -1;
	return (long)i;
}

int addr_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* mailbox = Local-part "@" Domain; returns bytes used or an ADDR_ error. */
static long parse_mailbox(const char *s, size_t len, int utf8)
{
	long l = parse_local(s, len, 1);
	if (l < 0 || (size_t)l >= len || s[l] != '@')
		return ADDR_SYNTAX;
	long d = parse_domain(s + l + 1, len - (size_t)l - 1, 1);
	if (d < 0)
		return ADDR_SYNTAX;
	if (l > ADDR_LOCAL_MAX || d > ADDR_DOMAIN_MAX)
		return ADDR_TOOLONG;
	size_t total = (size_t)l + 1 + (size_t)d;
	if (!utf8 && addr_has_8bit(s, total))
		return ADDR_UTF8;
	return (long)total;
}

/* Skips an obsolete source route "@a,@b:" (RFC 5321 4.1.2, C.). */
static size_t skip_route(const char *s, size_t len)
{
	if (len == 0 || s[0] != '@')
		return 0;
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return 0;
	return (size_t)(colon - s) + 1;
}

int addr_parse_path(const char *s, size_t len, int allow_null, int allow_utf8,
		    struct buf *addr, size_t *used)
{
	buf_reset(addr);
	if (len < 2 || s[0] != '<')
		return ADDR_SYNTAX;
	if (s[1] == '>') {
		if (!allow_null)
			return ADDR_SYNTAX;
		*used = 2;
		return ADDR_OK;
	}
	size_t i = 1 + skip_route(s + 1, len - 1);
	long m = parse_mailbox(s + i, len - i, allow_utf8);
	if (m < 0)
		return (int)m;
	if (i + (size_t)m >= len || s[i + (size_t)m] != '>')
		return ADDR_SYNTAX;
	if ((size_t)m > ADDR_MAX)
		return ADDR_TOOLONG;
	buf_set(addr, s + i, (size_t)m);
	addr_normalize(addr);
	*used = i + (size_t)m + 1;
	return ADDR_OK;
}

int addr_check(const char *s, size_t len, int allow_utf8)
{
	long m = parse_mailbox(s, len, allow_utf8);
	if (m < 0)
		return (int)m;
	if ((size_t)m != len)
		return ADDR_SYNTAX;
	return len > ADDR_MAX ? ADDR_TOOLONG : ADDR_OK;
}

const char *addr_domain(const char *addr, size_t len, size_t *dlen)
{
	for (size_t i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			*dlen = len - i;
			return addr + i;
		}
	*dlen = 0;
	return addr + len;
}

void addr_normalize(struct buf *addr)
{
	size_t dlen;
	const char *d = addr_domain(addr->s, addr->len, &dlen);
	mem_lower((char *)d, dlen);
}

/* --- RFC 5322 address lists --- */

struct lexer {
	const char *s;
	size_t len, i;
};

static void skip_cfws(struct lexer *lx)
{
	int depth = 0;
	while (lx->i < lx->len) {
		char c = lx->s[lx->i];
		if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			lx->i++;
		} else if (c == '(') {
			depth++;
			lx->i++;
		} else if (depth > 0 && c == ')') {
			depth--;
			lx->i++;
		} else if (depth > 0 && c == '\\' && lx->i + 1 < lx->len) {
			lx->i += 2;
		} else if (depth > 0) {
			lx->i++;
		} else {
			return;
		}
	}
}

/* Skips a quoted string starting at '"'. */
static void skip_quoted(struct lexer *lx)
{
	for (lx->i++; lx->i < lx->len; lx->i++) {
		if (lx->s[lx->i] == '\\')
			lx->i++;
		else if (lx->s[lx->i] == '"') {
			lx->i++;
			return;
		}
	}
}

/* Copies one addr-spec (local@domain) out of the text from here to the
 * next ',' ';' '>' at depth 0, dropping comments and folding. */
static void collect_spec(struct lexer *lx, struct buf *out, const char *stops)
{
	buf_reset(out);
	while (lx->i < lx->len) {
		skip_cfws(lx);
		if (lx->i >= lx->len || strchr(stops, lx->s[lx->i]))
			return;
		if (lx->s[lx->i] == '"') {
			size_t start = lx->i;
			skip_quoted(lx);
			buf_append(out, lx->s + start, lx->i - start);
		} else {
			buf_putc(out, lx->s[lx->i++]);
		}
	}
}

int addr_list_parse(const char *s, size_t len,
		    void (*fn)(const char *addr, size_t alen, void *ctx), void *ctx)
{
	struct lexer lx = {s, len, 0};
	struct buf spec = BUF_INIT;
	int count = 0, bad = 0;
	while (lx.i < lx.len && !bad) {
		skip_cfws(&lx);
		if (lx.i >= lx.len)
			break;
		char c = lx.s[lx.i];
		if (c == ',' || c == ';') {
			lx.i++;
			continue;
		}
		/* Look ahead for '<' or ':' at depth 0 before the next ','. */
		size_t save = lx.i;
		int angle = 0, group = 0;
		while (lx.i < lx.len) {
			skip_cfws(&lx);
			if (lx.i >= lx.len)
				break;
			c = lx.s[lx.i];
			if (c == '"') {
				skip_quoted(&lx);
				continue;
			}
			if (c == '<') { angle = 1; break; }
			if (c == ':') { group = 1; break; }
			if (c == ',' || c == ';') break;
			lx.i++;
		}
		if (group) {
			lx.i++;	/* the group's members are parsed as a list */
			continue;
		}
		if (angle) {
			lx.i++;
			collect_spec(&lx, &spec, ">");
			if (lx.i >= lx.len) {
				bad = 1;
				break;
			}
			lx.i++;
		} else {
			lx.i = save;
			collect_spec(&lx, &spec, ",;");
		}
		if (spec.len == 0)
			continue;
		size_t r = 0;
		const char *p = spec.s;
		if (p[0] == '@')	/* obsolete route inside <> */
			r = skip_route(p, spec.len);
		if (addr_check(p + r, spec.len - r, 1) != ADDR_OK) {
			bad = 1;
			break;
		}
		fn(p + r, spec.len - r, ctx);
		count++;
	}
	buf_free(&spec);
	return bad ? -1 : count;
}
