/* test_pop3: pop3d's I/O-free parts (pop3d/mailbox/parse.c): command line
 * splitting, message numbers, TOP arguments, and the encoder that turns
 * stored bytes into RETR/TOP output (LF -> CRLF, dot-stuffing, header and
 * body line counting for TOP, split-invariance).  Unit tests link only the
 * common library, so the source is included here directly. */
#include "../../pop3d/mailbox/parse.c"
#include "tap.h"

static int cmd_is(const char *line, const char *name, const char *arg)
{
	struct pop3_cmd c;
	if (pop3_parse(line, strlen(line), &c) < 0 || strcmp(c.name, name))
		return 0;
	if (!arg)
		return !c.has_arg;
	return c.has_arg && c.alen == strlen(arg) && !memcmp(c.arg, arg, c.alen);
}

static void test_parse(void)
{
	struct pop3_cmd c;
	CHECK(cmd_is("STAT\r\n", "STAT", NULL));
	CHECK(cmd_is("stat\n", "STAT", NULL));
	CHECK(cmd_is("retr 12\r\n", "RETR", "12"));
	CHECK(cmd_is("TOP 1 10", "TOP", "1 10"));
	CHECK(cmd_is("PASS with spaces \r\n", "PASS", "with spaces "));
	CHECK(cmd_is("LIST \r\n", "LIST", ""));
	CHECK(pop3_parse("\r\n", 2, &c) == -1);
	CHECK(pop3_parse("STATS\r\n", 7, &c) == -1);
	CHECK(pop3_parse("ST4T\r\n", 6, &c) == -1);
	CHECK(pop3_parse(" STAT\r\n", 7, &c) == -1);
	CHECK(pop3_parse("STAT\rX\r\n", 8, &c) == -1);
	CHECK(pop3_parse("RETR 1\0\r\n", 9, &c) == -1);
}

static void test_numbers(void)
{
	size_t n;
	const char *a, *b;
	size_t al, bl;
	CHECK(pop3_msgnum("1", 1, 3, &n) == 0 && n == 1);
	CHECK(pop3_msgnum("3", 1, 3, &n) == 0 && n == 3);
	CHECK(pop3_msgnum("4", 1, 3, &n) == -1);
	CHECK(pop3_msgnum("0", 1, 3, &n) == -1);
	CHECK(pop3_msgnum("+1", 2, 3, &n) == -1);
	CHECK(pop3_msgnum("1x", 2, 3, &n) == -1);
	CHECK(pop3_msgnum("", 0, 3, &n) == -1);
	CHECK(pop3_msgnum("99999999999999999999999", 23, 3, &n) == -1);
	CHECK(pop3_two_args("1 10", 4, &a, &al, &b, &bl) == 0 && al == 1 && bl == 2);
	CHECK(pop3_two_args("1", 1, &a, &al, &b, &bl) == -1);
	CHECK(pop3_two_args("1 ", 2, &a, &al, &b, &bl) == -1);
	CHECK(pop3_two_args(" 1", 2, &a, &al, &b, &bl) == -1);
	CHECK(pop3_two_args("1 2 3", 5, &a, &al, &b, &bl) == -1);
}

/* Encodes in in pieces of size step (0: whole). */
static void encode(const char *in, long long lines, size_t step, struct buf *out)
{
	struct pop3_enc e;
	size_t len = strlen(in);
	pop3_enc_init(&e, lines);
	buf_reset(out);
	if (step == 0)
		step = len ? len : 1;
	for (size_t off = 0; off < len; off += step)
		pop3_encode(&e, in + off, len - off < step ? len - off : step, out);
	pop3_enc_finish(&e, out);
	buf_cstr(out);
}

static int enc_is(const char *in, long long lines, const char *want)
{
	struct buf out = BUF_INIT;
	int ok = 1;
	for (size_t step = 0; step <= 4 && ok; step++) {
		encode(in, lines, step, &out);
		ok = out.len == strlen(want) && !memcmp(out.s, want, out.len);
		if (!ok)
			printf("# step %zu: got \"%s\"\n", step, out.s);
	}
	buf_free(&out);
	return ok;
}

static void test_encoder(void)
{
	CHECK(enc_is("a\nb\n", -1, "a\r\nb\r\n.\r\n"));
	CHECK(enc_is("a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n"));
	CHECK(enc_is(".a\n..b\n.\n", -1, "..a\r\n...b\r\n..\r\n.\r\n"));
	CHECK(enc_is("x.\n", -1, "x.\r\n.\r\n"));
	CHECK(enc_is("no end", -1, "no end\r\n.\r\n"));
	CHECK(enc_is("cr end\r", -1, "cr end\r\n.\r\n"));
	CHECK(enc_is("", -1, ".\r\n"));
	CHECK(enc_is("bare\rcr\n", -1, "bare\rcr\r\n.\r\n"));
	/* TOP: header, the empty line, then n body lines */
	CHECK(enc_is("H: 1\nH: 2\n\nb1\nb2\nb3\n", 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"));
	CHECK(enc_is("H: 1\n\nb1\nb2\nb3\n", 2, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n"));
	CHECK(enc_is("H: 1\r\n\r\n.b1\r\nb2\r\n", 1, "H: 1\r\n\r\n..b1\r\n.\r\n"));
	CHECK(enc_is("H: 1\n\nb1", 5, "H: 1\r\n\r\nb1\r\n.\r\n"));
	CHECK(enc_is("H: only header\n", 0, "H: only header\r\n.\r\n"));
}

int main(void)
{
	test_parse();
	test_numbers();
	test_encoder();
	return tap_done();
}
