/* test_header: the RFC 5322 header parser (common/header.c): folding,
 * CRLF and LF, a missing blank line, 8-bit bytes, huge lines, empty input,
 * finding and counting fields. */
#include "header.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define S(x) x, sizeof(x) - 1

static int value_is(const struct header_field *f, const char *want)
{
	struct buf v = BUF_INIT;
	header_unfold(f->value, f->value_len, &v);
	int ok = v.len == strlen(want) && memcmp(v.s, want, v.len) == 0;
	buf_free(&v);
	return ok;
}

static void test_simple(void)
{
	const char m[] = "From: a@b\nSubject: hi\n\nbody\n";
	struct header_iter it;
	struct header_field f;
	header_iter_init(&it, S(m));
	CHECK(header_next(&it, &f) == 1);
	CHECK(f.name_len == 4 && memcmp(f.name, "From", 4) == 0);
	CHECK(value_is(&f, "a@b"));
	CHECK(f.raw_len == 10);
	CHECK(header_next(&it, &f) == 1);
	CHECK(value_is(&f, "hi"));
	CHECK(header_next(&it, &f) == 0);
	CHECK(header_next(&it, &f) == 0);	/* stays at the end */
	CHECK(it.blank == 1);
	CHECK(it.body == strlen("From: a@b\nSubject: hi\n\n"));
	CHECK(strcmp(m + it.body, "body\n") == 0);
}

static void test_folding(void)
{
	const char m[] = "Subject: one\r\n two\r\n\tthree\r\nX: y\r\n\r\nB";
	struct header_field f;
	CHECK(header_find(S(m), "subject", &f) == 1);
	CHECK(value_is(&f, "one two\tthree"));
	CHECK(f.raw_len == strlen("Subject: one\r\n two\r\n\tthree\r\n"));
	/* the raw value keeps its folding but not the final CRLF */
	CHECK(f.value_len == strlen(" one\r\n two\r\n\tthree"));
	CHECK(header_find(S(m), "X", &f) == 1 && value_is(&f, "y"));
	int blank = 0;
	CHECK(header_end(S(m), &blank) == sizeof(m) - 2 && blank == 1);
}

static void test_no_blank_line(void)
{
	const char m[] = "From: a\nTo: b\nthis is the body\nSubject: not a header\n";
	int blank = 1;
	size_t end = header_end(S(m), &blank);
	CHECK(blank == 0);
	CHECK(end == strlen("From: a\nTo: b\n"));
	CHECK(header_count(S(m), "Subject") == 0);
	/* all header, no body at all, last line without LF */
	const char h[] = "From: a\nTo: b";
	CHECK(header_end(S(h), &blank) == sizeof(h) - 1 && blank == 0);
	struct header_field f;
	CHECK(header_find(S(h), "to", &f) == 1 && value_is(&f, "b"));
	/* a continuation line first is not a header */
	const char c[] = " folded: x\n\n";
	CHECK(header_end(S(c), &blank) == 0 && blank == 0);
	/* body starts with a line that has a space before the colon word */
	const char d[] = "A: 1\nnot a field: x\n";
	CHECK(header_end(S(d), &blank) == 5);
}

static void test_empty(void)
{
	int blank = 1;
	CHECK(header_end("", 0, &blank) == 0 && blank == 0);
	CHECK(header_end(NULL, 0, NULL) == 0);
	CHECK(header_end(S("\n"), &blank) == 1 && blank == 1);
	CHECK(header_end(S("\r\nX: y\n"), &blank) == 2 && blank == 1);
	CHECK(header_count("", 0, "From") == 0);
	struct header_field f;
	CHECK(header_find("", 0, "From", &f) == 0);
	/* empty value, name only */
	const char m[] = "X-Empty:\nY:\r\n\n";
	CHECK(header_find(S(m), "x-empty", &f) == 1 && f.value_len == 0);
	CHECK(header_find(S(m), "y", &f) == 1 && f.value_len == 0);
}

static void test_8bit_and_odd(void)
{
	const char m[] = "Subject: gr\xc3\xbc\xc3\x9f\x65\nX-Bin: \x01\x7f\xff\n"
			 "Obs-Name : value\n\xc3\x84rger: x\n";
	struct header_field f;
	CHECK(header_find(S(m), "subject", &f) == 1 && value_is(&f, "gr\xc3\xbc\xc3\x9f\x65"));
	CHECK(header_find(S(m), "x-bin", &f) == 1 && f.value_len == 4);
	CHECK(header_find(S(m), "obs-name", &f) == 1 && value_is(&f, "value"));
	/* an 8-bit byte cannot start a field name: that line starts the body */
	int blank;
	size_t end = header_end(S(m), &blank);
	CHECK(end == sizeof(m) - 1 - strlen("\xc3\x84rger: x\n") && blank == 0);
	/* NUL bytes in a value are just bytes */
	const char n[] = "A: x\0y\nB: z\n\n";
	CHECK(header_find(S(n), "B", &f) == 1 && value_is(&f, "z"));
	CHECK(header_find(S(n), "A", &f) == 1 && f.value_len == 4);
}

static void test_huge(void)
{
	size_t n = 4u << 20;	/* one 4 MiB header line, then a 1 MiB fold */
	struct buf m = BUF_INIT;
	buf_puts(&m, "X-Huge: ");
	for (size_t i = 0; i < n; i++)
		buf_putc(&m, 'a');
	buf_puts(&m, "\n ");
	for (size_t i = 0; i < n / 4; i++)
		buf_putc(&m, 'b');
	buf_puts(&m, "\nTo: c\n\nbody");
	struct header_field f;
	CHECK(header_find(m.s, m.len, "x-huge", &f) == 1);
	CHECK(f.value_len == 1 + n + 2 + n / 4);
	CHECK(header_find(m.s, m.len, "to", &f) == 1 && value_is(&f, "c"));
	CHECK(header_end(m.s, m.len, NULL) == m.len - 4);
	/* a field name longer than the limit is not a field */
	buf_reset(&m);
	for (size_t i = 0; i < HEADER_NAME_MAX + 1; i++)
		buf_putc(&m, 'N');
	buf_puts(&m, ": v\n\n");
	CHECK(header_end(m.s, m.len, NULL) == 0);
	buf_free(&m);
}

static void test_count(void)
{
	const char m[] = "Delivered-To: demo@example.test\n"
			 "delivered-to:   <DEMO@Example.TEST> \n"
			 "Delivered-To: other@example.test\n"
			 "Delivered-To: demo@example.test.evil\n"
			 "Delivered-To:\n demo@example.test\n"
			 "\n"
			 "Delivered-To: demo@example.test\n";
	CHECK(header_count(S(m), "Delivered-To") == 5);
	CHECK(header_count_value(S(m), "delivered-to", S("demo@example.test")) == 3);
	CHECK(header_count_value(S(m), "Delivered-To", S("nobody@x")) == 0);
	CHECK(header_count(S(m), "Received") == 0);
}

static void test_unfold_trim(void)
{
	struct buf v = BUF_INIT;
	header_unfold(S("  \r\n\t  "), &v);
	CHECK(v.len == 0);
	header_unfold(S(" a\r\n b "), &v);
	CHECK(v.len == 3 && memcmp(v.s, "a b", 3) == 0);
	buf_free(&v);
}

int main(void)
{
	test_simple();
	test_folding();
	test_no_blank_line();
	test_empty();
	test_8bit_and_odd();
	test_huge();
	test_count();
	test_unfold_trim();
	return tap_done();
}
