/* fuzz_smtp: libFuzzer entry point over smtpd's command parser
 * (smtpd/parse.c) and its DATA decoder and header scanner (smtpd/data.c).
 * Besides the sanitizers it checks invariants that would expose a
 * smuggling or truncation bug: decoding does not depend on how the input
 * is split into reads, DATA ends only after CRLF.CRLF, and a clean message
 * re-encoded (LF -> CRLF, dot-stuffing) gives back exactly the bytes read.
 * Built by tests/fuzz/run.
 * FUZZ_SOURCES: smtpd/parse.c smtpd/data.c */
#include "addr.h"
#include "../../smtpd/data.h"
#include "../../smtpd/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) check_at((ok), __LINE__)

static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_smtp.c:%d: invariant broken\n", line);
		abort();
	}
}

static int code_ok(int c)
{
	return c == 0 || c == 501 || c == 504 || c == 552 || c == 553 || c == 555;
}

static void fuzz_mail_rcpt(const struct smtp_cmd *c, unsigned flags)
{
	struct parse_opts o = {flags & 1, (flags >> 1) & 1, (flags >> 2) & 1, 1000};
	if (c->verb == V_MAIL) {
		struct mail_req m = {.addr = BUF_INIT};
		struct smtp_err e = smtp_parse_mail(c->arg, c->arglen, &o, &m);
		check(code_ok(e.code));
		if (e.code == 0) {
			check(m.addr.len == 0 || addr_check(m.addr.s, m.addr.len, 1) == ADDR_OK);
			check(m.size <= 1000);
			check(!m.smtputf8 || o.smtputf8_offered);
		}
		mail_req_free(&m);
	} else if (c->verb == V_RCPT) {
		struct rcpt_req r = {.addr = BUF_INIT};
		struct smtp_err e = smtp_parse_rcpt(c->arg, c->arglen, &o, &r);
		check(code_ok(e.code));
		if (e.code == 0)
			check(r.postmaster || addr_check(r.addr.s, r.addr.len, o.smtputf8) == ADDR_OK);
		rcpt_req_free(&r);
	}
}

static void fuzz_commands(const char *s, size_t n, unsigned flags)
{
	size_t off = 0;
	while (off < n) {
		const char *nl = memchr(s + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - s) - off : n - off;
		struct smtp_cmd c;
		if (smtp_parse_command(s + off, len, &c) == 0) {
			check(c.arg >= s + off && c.arg + c.arglen <= s + off + len);
			check(!memchr(s + off, '\r', len) && !memchr(s + off, 0, len));
			fuzz_mail_rcpt(&c, flags);
		}
		off += len + 1;
	}
}

/* Decodes in pieces whose sizes come from the seed. */
static size_t decode(const char *s, size_t n, size_t piece, struct data_dec *d, struct buf *out)
{
	size_t off = 0;
	data_dec_init(d, 100);
	while (off < n && !d->done) {
		size_t k = n - off < piece ? n - off : piece;
		size_t used = data_dec_feed(d, s + off, k, out);
		check(used == k || d->done);
		off += used;
	}
	return off;
}

/* A line that starts with one '.' not doubled (and is not the end): the
 * dot is removed, so such input does not come back byte for byte. */
static int has_lone_dot(const char *s, size_t used)
{
	for (size_t i = 0; i + 3 < used; i++)
		if ((i == 0 || s[i - 1] == '\n') && s[i] == '.' && s[i + 1] != '.')
			return 1;
	return 0;
}

static void encode(const struct buf *out, struct buf *enc)
{
	int bol = 1;
	for (size_t i = 0; i < out->len; i++) {
		if (bol && out->s[i] == '.')
			buf_putc(enc, '.');
		if (out->s[i] == '\n')
			buf_puts(enc, "\r\n");
		else
			buf_putc(enc, out->s[i]);
		bol = out->s[i] == '\n';
	}
	buf_puts(enc, ".\r\n");
}

/* A clean message encoded again decodes to itself and, without lone
 * dots, is exactly the bytes consumed. */
static void check_roundtrip(const char *s, size_t used, const struct buf *out)
{
	struct buf enc = BUF_INIT, again = BUF_INIT;
	struct data_dec d;
	encode(out, &enc);
	if (!has_lone_dot(s, used))
		check(enc.len == used && memcmp(enc.s, s, used) == 0);
	data_dec_init(&d, ~(size_t)0);
	check(data_dec_feed(&d, enc.s, enc.len, &again) == enc.len && d.done);
	check(!data_dec_bad(&d) && again.len == out->len);
	check(out->len == 0 || memcmp(again.s, out->s, out->len) == 0);
	buf_free(&enc);
	buf_free(&again);
}

static void scan(const char *s, size_t n, size_t piece, struct buf *out, struct hdr_scan *h)
{
	hdr_scan_init(h, 200);
	size_t off = 0;
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;
		size_t used = 0;
		while (used < k) {
			used += hdr_scan_feed(h, s + off + used, k - used, out);
			if (h->state == HS_END) {
				buf_puts(out, "X-Added: 1\n");
				hdr_scan_body(h, out);
			}
		}
		off += k;
	}
	hdr_scan_eof(h, out);
	if (h->state == HS_END)
		hdr_scan_body(h, out);
}

static void fuzz_data(const char *s, size_t n, size_t piece)
{
	struct data_dec d1, d2;
	struct buf o1 = BUF_INIT, o2 = BUF_INIT;
	size_t u1 = decode(s, n, n ? n : 1, &d1, &o1);
	size_t u2 = decode(s, n, piece, &d2, &o2);
	check(u1 == u2 && d1.done == d2.done && data_dec_bad(&d1) == data_dec_bad(&d2));
	check(o1.len == o2.len && memcmp(o1.s ? o1.s : "", o2.s ? o2.s : "", o1.len) == 0);
	if (d1.done) {
		check(u1 >= 3 && memcmp(s + u1 - 3, ".\r\n", 3) == 0);
		check(u1 == 3 || (u1 >= 5 && memcmp(s + u1 - 5, "\r\n.\r\n", 5) == 0));
		if (!d1.bare_lf && !d1.bare_cr && !d1.nul)
			check_roundtrip(s, u1, &o1);
	}
	struct hdr_scan h1, h2;
	struct buf s1 = BUF_INIT, s2 = BUF_INIT;
	scan(o1.s ? o1.s : "", o1.len, o1.len ? o1.len : 1, &s1, &h1);
	scan(o1.s ? o1.s : "", o1.len, piece, &s2, &h2);
	check(h1.too_big == h2.too_big && h1.received == h2.received);
	/* a header block over the limit is dropped: the message is refused */
	if (!h1.too_big)
		check(s1.len == s2.len && memcmp(s1.s ? s1.s : "", s2.s ? s2.s : "", s1.len) == 0);
	hdr_scan_free(&h1);
	hdr_scan_free(&h2);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&o1);
	buf_free(&o2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned flags = data[0];
	size_t piece = (size_t)data[1] % 17 + 1;
	const char *s = (const char *)data + 2;
	fuzz_commands(s, size - 2, flags);
	fuzz_data(s, size - 2, piece);
	return 0;
}
