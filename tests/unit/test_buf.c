/* Unit tests for common/buf.c and common/io.c line reading. */
#include "buf.h"
#include "io.h"
#include "tap.h"

#include <string.h>
#include <unistd.h>

static void test_buf(void)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "hello");
	buf_putc(&b, ' ');
	buf_printf(&b, "%d-%s", 42, "x");
	CHECK(buf_eq(&b, "hello 42-x"));
	buf_consume(&b, 6);
	CHECK(buf_eq(&b, "42-x"));
	buf_truncate(&b, 2);
	CHECK(strcmp(buf_cstr(&b), "42") == 0);
	struct buf big = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_printf(&big, "%0300d", i);	/* past the small vsnprintf path */
	CHECK(big.len == 300000);
	CHECK(big.s[299999] == '9');
	buf_free(&big);
	buf_free(&b);
	unsigned long long v;
	CHECK(mem_to_u64("18446744073709551615", 20, &v) == 0 && v == ~0ULL);
	CHECK(mem_to_u64("18446744073709551616", 20, &v) == -1);
	CHECK(mem_to_u64("12a", 3, &v) == -1);
	CHECK(mem_to_u64("", 0, &v) == -1);
	CHECK(mem_caseeq("MaIl", 4, "mail", 4));
	CHECK(!mem_caseeq("mail", 4, "mailx", 5));
}

static void test_getline(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	const char *in = "short\r\nthis-line-is-far-too-long-for-the-limit\r\nnext\r\nlast";
	CHECK(write(p[1], in, strlen(in)) == (ssize_t)strlen(in));
	close(p[1]);
	struct io io;
	io_init(&io, p[0], -1, 1000);
	struct buf line = BUF_INIT;
	CHECK(io_getline(&io, &line, 16) == LINE_OK && buf_eq(&line, "short\r\n"));
	CHECK(io_getline(&io, &line, 16) == LINE_TOOLONG);
	CHECK(io_getline(&io, &line, 16) == LINE_OK && buf_eq(&line, "next\r\n"));
	CHECK(io_getline(&io, &line, 16) == LINE_OK && buf_eq(&line, "last"));
	CHECK(io_getline(&io, &line, 16) == LINE_EOF);
	buf_free(&line);
	io_free(&io);
	close(p[0]);
}

static void test_timeout(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct io io;
	io_init(&io, p[0], -1, 50);
	struct buf line = BUF_INIT;
	CHECK(io_getline(&io, &line, 100) == LINE_ERR && io.err == IO_ERR_TIMEOUT);
	buf_free(&line);
	io_free(&io);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	test_buf();
	test_getline();
	test_timeout();
	return tap_done();
}
