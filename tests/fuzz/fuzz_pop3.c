/* fuzz_pop3: libFuzzer entry point over pop3d's I/O-free parts
 * (pop3d/mailbox/parse.c) and the uidlist file parser (common/uidlist.c).
 * Invariants besides the sanitizers: the RETR encoder does not depend on
 * how the message is split into reads; its output never has a line that is
 * a lone "." before the end, and undoing it (dot-unstuffing, CRLF -> LF)
 * gives back the stored bytes of a CR-free message; TOP output is a prefix
 * of RETR output; the octets RETR sends before ".CRLF" equal the size
 * uidlist computes; a uidlist that parses formats back to the same text.
 * Built by tests/fuzz/run.
 * FUZZ_SOURCES: pop3d/mailbox/parse.c */
#include "../../pop3d/mailbox/pop3d.h"
#include "uidlist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) check_at((ok), __LINE__)

static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pop3.c:%d: invariant broken\n", line);
		abort();
	}
}

static void encode(const char *p, size_t n, long long lines, size_t step, struct buf *out)
{
	struct pop3_enc e;
	pop3_enc_init(&e, lines);
	buf_reset(out);
	for (size_t off = 0; off < n; off += step)
		pop3_encode(&e, p + off, n - off < step ? n - off : step, out);
	pop3_enc_finish(&e, out);
}

/* Lines of out: none is "." except the last. */
static void check_terminator(const struct buf *out)
{
	check(out->len >= 3 && !memcmp(out->s + out->len - 3, ".\r\n", 3));
	check(out->len == 3 || (out->len >= 5 && !memcmp(out->s + out->len - 5, "\r\n.\r\n", 5)));
	const char *end = out->s + out->len - 3;
	for (const char *p = out->s; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		check(!(n == 3 && !memcmp(p, ".\r\n", 3)));
		p += n;
	}
}

/* Unstuffs and turns CRLF into LF: the stored form of a CR-free message. */
static void undo(const struct buf *out, struct buf *back)
{
	buf_reset(back);
	int bol = 1;
	for (size_t i = 0; i < out->len - 3; i++) {
		char c = out->s[i];
		if (bol && c == '.') {
			bol = 0;
			continue;
		}
		if (c == '\r' && i + 1 < out->len && out->s[i + 1] == '\n')
			continue;
		buf_putc(back, c);
		bol = c == '\n';
	}
}

static void fuzz_encoder(const char *p, size_t n)
{
	struct buf whole = BUF_INIT, split = BUF_INIT, top = BUF_INIT, back = BUF_INIT;
	encode(p, n, -1, n ? n : 1, &whole);
	check_terminator(&whole);
	encode(p, n, -1, 1 + n % 7, &split);
	check(split.len == whole.len && !memcmp(split.s, whole.s, whole.len));
	long long lines = n ? (unsigned char)p[0] % 5 : 0;
	encode(p, n, lines, 3, &top);
	check_terminator(&top);
	check(top.len <= whole.len && !memcmp(top.s, whole.s, top.len - 3));
	/* the size uidlist gives equals the octets before ".CRLF", unstuffed */
	int cr = 0;
	unsigned long long size = uidlist_crlf_count(p, n, &cr);
	if (n && p[n - 1] != '\n')
		size += p[n - 1] == '\r' ? 1 : 2;
	size_t dots = 0;
	int bol = 1;
	for (size_t i = 0; i < whole.len - 3; i++) {
		dots += bol && whole.s[i] == '.';
		bol = whole.s[i] == '\n';
	}
	check(size == whole.len - 3 - dots);
	if (!memchr(p, '\r', n)) {
		undo(&whole, &back);
		size_t want = n + (n && p[n - 1] != '\n');
		check(back.len == want && (n == 0 || !memcmp(back.s, p, n)));
	}
	buf_free(&whole);
	buf_free(&split);
	buf_free(&top);
	buf_free(&back);
}

static void fuzz_commands(const char *p, size_t n)
{
	struct pop3_cmd c;
	size_t num;
	const char *a, *b;
	size_t al, bl;
	if (pop3_parse(p, n, &c) == 0) {
		check(strlen(c.name) >= 1 && strlen(c.name) <= 4);
		if (c.has_arg) {
			pop3_msgnum(c.arg, c.alen, 1000, &num);
			if (pop3_two_args(c.arg, c.alen, &a, &al, &b, &bl) == 0)
				check(al + bl + 1 == c.alen);
		}
	}
}

static void fuzz_uidlist(const char *p, size_t n)
{
	struct uidlist u;
	struct buf out = BUF_INIT;
	uidlist_init(&u, "/nonexistent");
	if (uidlist_parse(&u, p, n) == 0) {
		uidlist_format(&u, &out);
		struct uidlist v;
		uidlist_init(&v, "/nonexistent");
		check(uidlist_parse(&v, out.s, out.len) == 0 && v.n == u.n);
		for (size_t i = 0; i < u.n; i++)
			check(uidlist_find(&v, u.msgs[i].uid) != NULL);
		uidlist_free(&v);
	}
	buf_free(&out);
	uidlist_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = size ? (const char *)data : "";
	fuzz_commands(p, size);
	fuzz_encoder(p, size);
	fuzz_uidlist(p, size);
	return 0;
}
