/* Unit tests for common/record.c: writing, reading from a stream with
 * limits, and parsing from memory (truncation, bad lengths, overflow). */
#include "record.h"
#include "tap.h"

#include <string.h>
#include <unistd.h>

/* Reads records from the bytes s through a pipe. */
static int get_from(const char *s, size_t n, char *type, struct buf *d, size_t max, int count)
{
	int p[2];
	if (pipe(p) < 0)
		return -99;
	if (write(p[1], s, n) != (ssize_t)n)
		return -99;
	close(p[1]);
	struct io io;
	io_init(&io, p[0], -1, 1000);
	int r = 0;
	for (int i = 0; i < count; i++)
		r = rec_get(&io, type, d, max);
	io_free(&io);
	close(p[0]);
	return r;
}

static void test_put(void)
{
	struct buf b = BUF_INIT;
	rec_puts(&b, 'S', "bob@example.test");
	rec_put(&b, 'E', "", 0);
	rec_put(&b, 'M', "a\nb\0c", 5);
	CHECK(b.len == 21 + 4 + 9);
	CHECK(memcmp(b.s, "S16:bob@example.test\nE0:\nM5:a\nb\0c\n", b.len) == 0);
	buf_reset(&b);
	rec_put_header_fixed(&b, 'M', 4096);
	CHECK(b.len == REC_FIXED_HEADER_LEN && memcmp(b.s, "M000000004096:", 14) == 0);
	buf_free(&b);
}

static void test_get(void)
{
	struct buf d = BUF_INIT;
	char t = 0;
	CHECK(get_from("S3:abc\n", 7, &t, &d, 100, 1) == 1 && t == 'S' && buf_eq(&d, "abc"));
	CHECK(get_from("M007:a\nb\nc\nd\n", 13, &t, &d, 100, 1) == 1 && d.len == 7);
	CHECK(get_from("E0:\n", 4, &t, &d, 100, 2) == 0);	/* clean EOF after one */
	CHECK(get_from("S3:abcd", 7, &t, &d, 100, 1) == -1);	/* no newline after data */
	CHECK(get_from("S5:abc", 6, &t, &d, 100, 1) == -1);	/* EOF inside the data */
	CHECK(get_from("S:abc\n", 6, &t, &d, 100, 1) == -1);	/* no length */
	CHECK(get_from("Sx3:abc\n", 8, &t, &d, 100, 1) == -1);	/* junk in length */
	CHECK(get_from("S101:", 5, &t, &d, 100, 1) == -2);	/* over the limit: not read */
	CHECK(get_from("S999999999999999999999:", 23, &t, &d, 100, 1) == -1);	/* overflow */
	buf_free(&d);
}

static void test_parse(void)
{
	const char *m = "V1:1\nR3:a@b\nE0:\n";
	size_t off = 0, len;
	char t;
	const char *d;
	CHECK(rec_parse(m, strlen(m), &off, &t, &d, &len) == 1 && t == 'V' && len == 1 && d[0] == '1');
	CHECK(rec_parse(m, strlen(m), &off, &t, &d, &len) == 1 && t == 'R' && len == 3);
	CHECK(rec_parse(m, strlen(m), &off, &t, &d, &len) == 1 && t == 'E' && len == 0);
	CHECK(rec_parse(m, strlen(m), &off, &t, &d, &len) == 0);
	off = 0;
	CHECK(rec_parse("R9:abc\n", 7, &off, &t, &d, &len) == -1);	/* length past the end */
	off = 0;
	CHECK(rec_parse("R3:abcX", 7, &off, &t, &d, &len) == -1);	/* no newline */
	off = 0;
	CHECK(rec_parse("R18446744073709551615:", 22, &off, &t, &d, &len) == -1);
	off = 0;
	CHECK(rec_parse("R3", 2, &off, &t, &d, &len) == -1);	/* truncated header */
}

int main(void)
{
	test_put();
	test_get();
	test_parse();
	return tap_done();
}
