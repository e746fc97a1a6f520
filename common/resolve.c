/* resolve: local domains, mailboxes and alias expansion (see resolve.h). */
#include "resolve.h"
#include "addr.h"

#include <stdlib.h>
#include <string.h>

static int open_one(struct table *t, const struct config *c, const char *name)
{
	struct buf p = BUF_INIT;
	config_file(c, name, &p);
	int r = table_open(t, p.s);
	buf_free(&p);
	return r;
}

int resolver_open(struct resolver *r, const struct config *c)
{
	r->domains.fd = r->users.fd = r->aliases.fd = -1;
	if (open_one(&r->domains, c, "domains.cdb") < 0 ||
	    open_one(&r->users, c, "users.cdb") < 0 ||
	    open_one(&r->aliases, c, "aliases.cdb") < 0) {
		resolver_close(r);
		return -1;
	}
	return 0;
}

void resolver_close(struct resolver *r)
{
	table_close(&r->domains);
	table_close(&r->users);
	table_close(&r->aliases);
}

static int lookup_lower(struct table *t, const char *s, size_t len, struct buf *val)
{
	char small[ADDR_MAX + 1];
	if (len > ADDR_MAX)
		return 0;
	memcpy(small, s, len);
	mem_lower(small, len);
	return table_lookup(t, small, len, val);
}

int resolve_is_local(struct resolver *r, const char *addr, size_t len)
{
	size_t dlen;
	const char *d = addr_domain(addr, len, &dlen);
	if (dlen == 0)
		return 0;
	return lookup_lower(&r->domains, d, dlen, NULL);
}

int resolve_user(struct resolver *r, const char *addr, size_t len, struct buf *val)
{
	return lookup_lower(&r->users, addr, len, val);
}

/* Position of the '+' extension in the local part, or 0 if none. */
static size_t ext_pos(const char *addr, size_t len)
{
	const char *at = memrchr(addr, '@', len);
	if (!at)
		return 0;
	const char *plus = memchr(addr, '+', (size_t)(at - addr));
	return plus && plus > addr ? (size_t)(plus - addr) : 0;
}

/* Alias lookup: the whole address, the local part alone, then both again
 * without a +extension. */
static int alias_lookup(struct resolver *r, const char *addr, size_t len, struct buf *val)
{
	const char *at = memrchr(addr, '@', len);
	size_t local = at ? (size_t)(at - addr) : len;
	int k = lookup_lower(&r->aliases, addr, len, val);
	if (k != 0)
		return k;
	k = lookup_lower(&r->aliases, addr, local, val);
	if (k != 0)
		return k;
	size_t p = ext_pos(addr, len);
	if (p == 0)
		return 0;
	char base[ADDR_MAX + 1];
	size_t dlen = len - local;
	if (p + dlen > ADDR_MAX)
		return 0;
	memcpy(base, addr, p);
	memcpy(base + p, addr + local, dlen);
	k = lookup_lower(&r->aliases, base, p + dlen, val);
	if (k != 0)
		return k;
	return lookup_lower(&r->aliases, base, p, val);
}

static int user_lookup_ext(struct resolver *r, const char *addr, size_t len)
{
	int k = resolve_user(r, addr, len, NULL);
	if (k != 0)
		return k;
	size_t p = ext_pos(addr, len);
	if (p == 0)
		return 0;
	const char *at = memrchr(addr, '@', len);
	char base[ADDR_MAX + 1];
	size_t dlen = (size_t)(addr + len - at);
	memcpy(base, addr, p);
	memcpy(base + p, at, dlen);
	return resolve_user(r, base, p + dlen, NULL);
}

int resolve_known(struct resolver *r, const char *addr, size_t len)
{
	if (len > ADDR_MAX)
		return 0;
	int k = user_lookup_ext(r, addr, len);
	if (k != 0)
		return k;
	return alias_lookup(r, addr, len, NULL);
}

/* A mailbox must stay below mail_dir: relative, no "..", no odd bytes. */
static int mailbox_ok(const char *m, size_t n)
{
	if (n == 0 || m[0] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == '.' && (i == 0 || m[i - 1] == '/') && i + 1 < n && m[i + 1] == '.' &&
		    (i + 2 == n || m[i + 2] == '/'))
			return 0;
	}
	return 1;
}

int resolve_mailbox(const struct buf *val, struct buf *mailbox, unsigned long long *quota)
{
	const char *colon = val->len ? memrchr(val->s, ':', val->len) : NULL;
	size_t mlen = colon ? (size_t)(colon - val->s) : val->len;
	*quota = 0;
	if (colon) {
		size_t qlen = val->len - mlen - 1;
		if (qlen > 0 && mem_to_u64(colon + 1, qlen, quota) < 0)
			return -1;
	}
	while (mlen > 1 && val->s[mlen - 1] == '/')
		mlen--;
	if (!mailbox_ok(val->s, mlen))
		return -1;
	buf_set(mailbox, val->s, mlen);
	return 0;
}

void resolve_list_free(struct resolve_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_free(&l->addrs[i]);
	free(l->addrs);
	memset(l, 0, sizeof *l);
}

static int list_has(const struct resolve_list *l, const char *a, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (mem_caseeq(l->addrs[i].s, l->addrs[i].len, a, n))
			return 1;
	return 0;
}

static int list_add(struct resolve_list *l, const char *a, size_t n, int lower)
{
	if (list_has(l, a, n))
		return 0;
	if (l->n >= RESOLVE_MAX_TARGETS)
		return -1;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->addrs = xrealloc(l->addrs, size_mul(l->cap, sizeof *l->addrs));
	}
	struct buf *b = &l->addrs[l->n++];
	*b = (struct buf)BUF_INIT;
	buf_set(b, a, n);
	if (lower)
		mem_lower(b->s, b->len);
	else
		addr_normalize(b);
	return 0;
}

struct chain {
	const char *addr;
	size_t len;
	const struct chain *up;
};

static int in_chain(const struct chain *c, const char *a, size_t n)
{
	for (; c; c = c->up)
		if (mem_caseeq(c->addr, c->len, a, n))
			return 1;
	return 0;
}

static int expand(struct resolver *r, const char *addr, size_t len, int depth,
		  const struct chain *up, struct resolve_list *out, struct buf *err);

/* Expands each target of one alias value. */
static int expand_targets(struct resolver *r, const struct buf *val, const char *key,
			  size_t klen, int depth, const struct chain *self,
			  struct resolve_list *out, struct buf *err)
{
	size_t dlen;
	const char *dom = addr_domain(key, klen, &dlen);
	struct buf t = BUF_INIT;
	size_t i = 0;
	int rc = 0;
	while (i < val->len && rc == 0) {
		while (i < val->len && (val->s[i] == ',' || val->s[i] == ' ' || val->s[i] == '\t'))
			i++;
		size_t start = i;
		while (i < val->len && val->s[i] != ',' && val->s[i] != ' ' && val->s[i] != '\t')
			i++;
		if (i == start)
			break;
		buf_set(&t, val->s + start, i - start);
		if (!memchr(t.s, '@', t.len)) {
			buf_putc(&t, '@');
			buf_append(&t, dom, dlen);
		}
		if (addr_check(t.s, t.len, 1) != ADDR_OK) {
			buf_printf(err, "5.3.5 bad alias target \"%.*s\"", (int)(i - start), val->s + start);
			rc = -2;
			break;
		}
		rc = expand(r, t.s, t.len, depth + 1, self, out, err);
	}
	buf_free(&t);
	return rc;
}

static int expand(struct resolver *r, const char *addr, size_t len, int depth,
		  const struct chain *up, struct resolve_list *out, struct buf *err)
{
	if (depth > RESOLVE_MAX_DEPTH) {
		buf_printf(err, "5.4.6 alias expansion too deep (loop?) at %.*s", (int)len, addr);
		return -2;
	}
	int local = resolve_is_local(r, addr, len);
	if (local < 0)
		return -1;
	if (!local)
		return list_add(out, addr, len, 0) < 0 ? -3 : 0;
	if (in_chain(up, addr, len)) {
		/* "a: a, b" keeps a copy for a's own mailbox; a real loop fails. */
		if (user_lookup_ext(r, addr, len) == 1)
			return list_add(out, addr, len, 1) < 0 ? -3 : 0;
		buf_printf(err, "5.4.6 alias loop at %.*s", (int)len, addr);
		return -2;
	}
	struct buf val = BUF_INIT;
	int k = alias_lookup(r, addr, len, &val);
	int rc;
	if (k < 0) {
		rc = -1;
	} else if (k == 0) {
		rc = list_add(out, addr, len, 1) < 0 ? -3 : 0;
	} else {
		struct chain self = {addr, len, up};
		rc = expand_targets(r, &val, addr, len, depth, &self, out, err);
	}
	buf_free(&val);
	return rc;
}

int resolve_expand(struct resolver *r, const char *addr, size_t len,
		   struct resolve_list *out, struct buf *err)
{
	int rc = expand(r, addr, len, 0, NULL, out, err);
	if (rc == -3) {
		buf_reset(err);
		buf_printf(err, "5.5.3 alias expands to more than %d recipients", RESOLVE_MAX_TARGETS);
		rc = -2;
	}
	return rc;
}
