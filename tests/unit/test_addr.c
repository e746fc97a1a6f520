/* test_addr: SMTP paths and RFC 5322 address lists (common/addr.c):
 * dot-strings, quoted local parts, source routes, address literals, UTF-8
 * with and without SMTPUTF8, and the RFC 5321 4.5.3.1 length limits. */
#include "addr.h"
#include "tap.h"

#include <string.h>

static struct buf a = BUF_INIT;

/* Parses s as a path; returns the result code, a holds the address. */
static int path(const char *s, int allow_null, int utf8)
{
	size_t used = 0;
	int r = addr_parse_path(s, strlen(s), allow_null, utf8, &a, &used);
	buf_cstr(&a);
	return r;
}

static int path_is(const char *s, const char *want)
{
	return path(s, 0, 0) == ADDR_OK && buf_eq(&a, want);
}

static void test_paths(void)
{
	CHECK(path_is("<bob@example.test>", "bob@example.test"));
	CHECK(path_is("<Bob.Smith@EXAMPLE.Test>", "Bob.Smith@example.test"));
	CHECK(path_is("<a+tag@sub.example.test>", "a+tag@sub.example.test"));
	CHECK(path_is("<!#$%&'*+-/=?^_`{|}~@x.test>", "!#$%&'*+-/=?^_`{|}~@x.test"));
	CHECK(path_is("<@relay.test,@r2.test:bob@example.test>", "bob@example.test"));
	CHECK(path_is("<bob@[192.0.2.1]>", "bob@[192.0.2.1]"));
	CHECK(path_is("<bob@[IPv6:2001:db8::1]>", "bob@[ipv6:2001:db8::1]"));
	size_t used = 0;
	const char *s = "<bob@example.test> SIZE=10";
	CHECK(addr_parse_path(s, strlen(s), 0, 0, &a, &used) == ADDR_OK && used == 18);
}

static void test_null(void)
{
	CHECK(path("<>", 1, 0) == ADDR_OK && a.len == 0);
	CHECK(path("<>", 0, 0) == ADDR_SYNTAX);
}

static void test_quoted(void)
{
	CHECK(path_is("<\"john doe\"@example.test>", "\"john doe\"@example.test"));
	CHECK(path_is("<\"a\\\"b\"@example.test>", "\"a\\\"b\"@example.test"));
	CHECK(path_is("<\"a@b\"@example.test>", "\"a@b\"@example.test"));
	CHECK(path("<\"unterminated@example.test>", 0, 0) == ADDR_SYNTAX);
	CHECK(path("<\"a\x01\"@example.test>", 0, 0) == ADDR_SYNTAX);
}

static void test_syntax_errors(void)
{
	const char *bad[] = {
		"bob@example.test", "<bob@example.test", "<bob>", "<@example.test>",
		"<bob@>", "<.bob@x.test>", "<bob.@x.test>", "<bo..b@x.test>",
		"<bob@-x.test>", "<bob@x-.test>", "<bob@x..test>", "<bob@x.test.>",
		"<bob@[]>", "<bob smith@x.test>", "<bob@x_y.test>", "", "<",
		"<bob@x.test\r>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(path(bad[i], 1, 1) == ADDR_SYNTAX);
	size_t used;
	CHECK(addr_parse_path("<bob\0@x.test>", 14, 0, 1, &a, &used) == ADDR_SYNTAX);
	CHECK(addr_parse_path("<bob@x\0.test>", 14, 0, 1, &a, &used) == ADDR_SYNTAX);
}

static void test_utf8(void)
{
	const char *u = "<d\xc3\xa9mo@example.test>";
	CHECK(path(u, 0, 0) == ADDR_UTF8);
	CHECK(path(u, 0, 1) == ADDR_OK && buf_eq(&a, "d\xc3\xa9mo@example.test"));
	CHECK(path("<demo@b\xc3\xbc\x63her.test>", 0, 0) == ADDR_UTF8);
	CHECK(path("<demo@b\xc3\xbc\x63her.test>", 0, 1) == ADDR_OK);
	CHECK(path("<\"\xc3\xa9\"@x.test>", 0, 0) == ADDR_UTF8);
	CHECK(addr_has_8bit("abc\x80", 4) == 1);
	CHECK(addr_has_8bit("abc", 3) == 0);
}

static void test_limits(void)
{
	char s[400];
	/* local part: 64 ok, 65 too long (RFC 5321 4.5.3.1.1) */
	memset(s, 'l', sizeof s);
	s[0] = '<';
	memcpy(s + 65, "@x.test>", 9);
	CHECK(path(s, 0, 0) == ADDR_OK);
	memset(s, 'l', sizeof s);
	s[0] = '<';
	memcpy(s + 66, "@x.test>", 9);
	CHECK(path(s, 0, 0) == ADDR_TOOLONG);
	/* a label longer than 63 is a syntax error */
	memset(s, 'd', sizeof s);
	memcpy(s, "<a@", 3);
	memcpy(s + 3 + 64, ".test>", 7);
	CHECK(path(s, 0, 0) == ADDR_SYNTAX);
	/* domain over 255 (labels of 50) */
	size_t n = 0;
	memcpy(s + n, "<a@", 3);
	n += 3;
	for (int i = 0; i < 6; i++) {
		memset(s + n, 'd', 50);
		n += 50;
		s[n++] = '.';
	}
	memcpy(s + n, "test>", 6);
	CHECK(path(s, 0, 0) == ADDR_TOOLONG);
}

static void test_check_domain(void)
{
	CHECK(addr_check("bob@example.test", 16, 0) == ADDR_OK);
	CHECK(addr_check("bob@example.test ", 17, 0) == ADDR_SYNTAX);
	CHECK(addr_check("bob", 3, 0) == ADDR_SYNTAX);
	size_t dl;
	const char *d = addr_domain("a@b@Example.test", 16, &dl);
	CHECK(dl == 12 && memcmp(d, "Example.test", 12) == 0);
	addr_domain("nodomain", 8, &dl);
	CHECK(dl == 0);
	struct buf b = BUF_INIT;
	buf_puts(&b, "MiXed@MiXed.TEST");
	addr_normalize(&b);
	CHECK(buf_eq(&b, "MiXed@mixed.test"));
	buf_free(&b);
}

struct collected {
	struct buf all;
	int n;
};

static void collect(const char *s, size_t len, void *ctx)
{
	struct collected *c = ctx;
	if (c->n++)
		buf_putc(&c->all, ',');
	buf_append(&c->all, s, len);
}

/* Parses an address list; returns the count and the addresses joined. */
static int list(const char *s, struct collected *c)
{
	buf_reset(&c->all);
	c->n = 0;
	int r = addr_list_parse(s, strlen(s), collect, c);
	buf_cstr(&c->all);
	return r;
}

static void test_lists(void)
{
	struct collected c = {BUF_INIT, 0};
	CHECK(list("bob@example.test", &c) == 1 && buf_eq(&c.all, "bob@example.test"));
	CHECK(list("Bob <bob@x.test>, \"Smith, Al\" <al@y.test>", &c) == 2 &&
	      buf_eq(&c.all, "bob@x.test,al@y.test"));
	CHECK(list("a@x.test (comment, with comma), b@y.test", &c) == 2 &&
	      buf_eq(&c.all, "a@x.test,b@y.test"));
	CHECK(list("team: a@x.test, b@x.test;, c@y.test", &c) == 3);
	CHECK(list("undisclosed-recipients:;", &c) == 0);
	CHECK(list("Folded\r\n <f@x.test>", &c) == 1 && buf_eq(&c.all, "f@x.test"));
	CHECK(list("<@route.test:r@x.test>", &c) == 1 && buf_eq(&c.all, "r@x.test"));
	CHECK(list("J\xc3\xb6rg <j\xc3\xb6rg@x.test>", &c) == 1);
	CHECK(list("Bob <bob@x.test", &c) == -1);
	CHECK(list("not an address", &c) == -1);
	CHECK(list("", &c) == 0);
	buf_free(&c.all);
}

int main(void)
{
	test_paths();
	test_null();
	test_quoted();
	test_syntax_errors();
	test_utf8();
	test_limits();
	test_check_domain();
	test_lists();
	buf_free(&a);
	return tap_done();
}
