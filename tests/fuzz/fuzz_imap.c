/* fuzz_imap: libFuzzer entry point over imapd's I/O-free command parser
 * (imapd/mailbox/parse.c).  The first byte chooses a sequence of parser
 * calls to run over the rest as one command buffer.  Invariants besides
 * the sanitizers: the position never goes past the end or backwards, every
 * string returned lies inside the buffer, nesting never exceeds its
 * limit, a sequence set has 1..IMAP_SEQ_MAX ranges, a quoted string
 * written by imapfmt_string parses back to the same bytes, and the
 * literal announcement found at a line end agrees with take_literal.
 * Built by tests/fuzz/run.
 * FUZZ_SOURCES: imapd/mailbox/parse.c */
#include "../../imapd/mailbox/imapd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) check_at((ok), __LINE__)

static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_imap.c:%d: invariant broken\n", line);
		abort();
	}
}

static void check_str(const struct imap_parser *p, const struct imap_str *s)
{
	if (!s->p)
		return;
	check(s->p >= p->s && s->n <= p->len && (size_t)(s->p - p->s) <= p->len - s->n);
}

static int step(struct imap_parser *p, unsigned op)
{
	struct imap_str s = {NULL, 0};
	struct imap_seqset set;
	unsigned long long n;
	unsigned long u;
	long long t;
	int r;
	switch (op % 14) {
	case 0: r = imap_p_tag(p, &s); break;
	case 1: r = imap_p_atom(p, &s); break;
	case 2: r = imap_p_astring(p, &s); break;
	case 3: r = imap_p_string(p, &s); break;
	case 4: r = imap_p_nstring(p, &s); break;
	case 5: r = imap_p_flag(p, &s); break;
	case 6: r = imap_p_listmbox(p, &s); break;
	case 7: r = imap_p_number(p, &n); break;
	case 8: r = imap_p_nznumber(p, &u); check(r < 0 || (u > 0 && u <= 0xffffffffUL)); break;
	case 9: r = imap_p_open(p); break;
	case 10: r = imap_p_close(p); break;
	case 11:
		r = imap_p_seqset(p, &set);
		check(r < 0 ? set.r == NULL : (set.n >= 1 && set.n <= IMAP_SEQ_MAX));
		if (r == 0)
			imap_seqset_has(&set, 7, 100);
		imap_seqset_free(&set);
		break;
	case 12: r = imap_p_date(p, &t); break;
	default: r = imap_p_datetime(p, &t); break;
	}
	check_str(p, &s);
	check(p->depth >= 0 && p->depth <= IMAP_DEPTH_MAX);
	return r;
}

static void roundtrip(const char *d, size_t n)
{
	struct buf out = BUF_INIT;
	imapfmt_string(&out, d, n);
	struct imap_parser p;
	struct imap_str s;
	imap_p_init(&p, out.s, out.len);
	check(imap_p_string(&p, &s) == 0 && imap_p_end(&p));
	check(s.n == n && !memcmp(s.p, d, n));
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0];
	char *s = xmemdup((const char *)data + 1, size - 1);
	size_t n = size - 1;
	roundtrip(s, n);
	unsigned long long lit;
	int sync;
	imap_line_literal(s, n, &lit, &sync);
	struct imap_parser p;
	imap_p_init(&p, s, n);
	for (unsigned i = 0; i < 64 && !imap_p_end(&p); i++) {
		size_t before = p.pos;
		step(&p, seed + i * 7);
		check(p.pos >= before && p.pos <= p.len);
		if (p.pos == before && imap_p_sp(&p) < 0)
			p.pos++;	/* skip a byte nothing accepts */
	}
	free(s);
	return 0;
}
