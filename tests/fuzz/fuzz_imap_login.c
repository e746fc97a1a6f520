/* fuzz_imap_login: libFuzzer entry point over imapd-login's parser
 * (imapd/login/parse.c) and its literal announcement check (command.c).
 * The input is cut into a command the way command.c reads one: lines at
 * CRLF/LF, and after a line that ends in {n} or {n+} the next n bytes are
 * its literal (at most IMAP_LITS_MAX).  The first byte chooses the parser
 * calls.  Invariants besides the sanitizers: the cursor never passes the
 * end of its line or the last line, every value returned is at most as
 * long as the input, and p_end holds only on the last line.
 * Built by tests/fuzz/run.
 * FUZZ_SOURCES: imapd/login/parse.c imapd/login/command.c */
#include "../../imapd/login/login.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) check_at((ok), __LINE__)
static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_imap_login: invariant at line %d\n", line);
		abort();
	}
}

/* Splits p into c as command.c would have read it. */
static void build(struct imap_cmd *c, const char *p, size_t n)
{
	size_t i = 0;
	for (;;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n, len = end - i;
		if (len && p[i + len - 1] == '\r')
			len--;
		buf_set(&c->line[c->nlit], p + i, len);
		i = nl ? end + 1 : n;
		size_t lit, start;
		int ns;
		struct buf *l = &c->line[c->nlit];
		if (c->nlit == IMAP_LITS_MAX || !cmd_literal_suffix(l->s, l->len, &lit, &ns, &start) ||
		    lit > n - i)
			return;
		buf_set(&c->lit[c->nlit], p + i, lit);
		i += lit;
		c->nlit++;
	}
}

static void cur_ok(const struct imap_cur *p)
{
	check(p->seg <= p->cmd->nlit);
	check(p->pos <= p->cmd->line[p->seg].len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned ops = data[0];
	struct imap_cmd c;
	memset(&c, 0, sizeof c);
	build(&c, (const char *)data + 1, size - 1);
	struct imap_cur p;
	struct buf v = BUF_INIT;
	int nil;
	cur_init(&p, &c);
	p_tag(&p, &v);
	for (int k = 0; k < 32; k++) {
		int r;
		switch ((ops >> (k % 4 * 2)) & 3) {
		case 0: r = p_astring(&p, &v); break;
		case 1: r = p_nstring(&p, &v, &nil); break;
		case 2: r = p_atom(&p, &v); break;
		default: r = p_char(&p, '(') == 0 || p_char(&p, ')') == 0 ? 0 : p_sp(&p); break;
		}
		cur_ok(&p);
		if (r == 0)
			check(v.len <= size);
		if (p_end(&p))
			check(p.seg == c.nlit);
		p_sp(&p);
	}
	buf_free(&v);
	cmd_free(&c);
	return 0;
}
