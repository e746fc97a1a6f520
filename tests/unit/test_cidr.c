/* test_cidr: relay-clients address blocks (common/cidr.c), IPv4 and IPv6. */
#include "cidr.h"
#include "tap.h"

#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int match(const struct cidr_list *l, const char *ip)
{
	return cidr_list_match(l, ip, strlen(ip));
}

static int parses(const char *s)
{
	struct cidr c;
	return cidr_parse(s, strlen(s), &c) == 0;
}

static void test_parse(void)
{
	CHECK(parses("127.0.0.1"));
	CHECK(parses("10.0.0.0/8"));
	CHECK(parses("0.0.0.0/0"));
	CHECK(parses("::1"));
	CHECK(parses("2001:db8::/32"));
	CHECK(parses("::/0"));
	CHECK(!parses("10.0.0.0/33"));
	CHECK(!parses("2001:db8::/129"));
	CHECK(!parses("10.0.0.0/"));
	CHECK(!parses("10.0.0.0/-1"));
	CHECK(!parses("10.0.0.0/8/8"));
	CHECK(!parses("10.0.0"));
	CHECK(!parses("256.0.0.1"));
	CHECK(!parses("example.test"));
	CHECK(!parses(""));
	CHECK(!parses("1.2.3.4 "));
	struct cidr c;
	CHECK(cidr_parse("10.0.0.0\0/8", 11, &c) < 0);
}

static void test_match_v4(void)
{
	struct cidr_list l = CIDR_LIST_INIT;
	struct buf err = BUF_INIT;
	const char *t = "# relay clients\n127.0.0.1\n\n  10.1.0.0/16  # office\n192.168.7.9/31\n";
	CHECK(cidr_list_parse(&l, t, strlen(t), &err) == 0);
	CHECK(l.n == 3);
	CHECK(match(&l, "127.0.0.1"));
	CHECK(!match(&l, "127.0.0.2"));
	CHECK(match(&l, "10.1.255.3"));
	CHECK(!match(&l, "10.2.0.1"));
	CHECK(match(&l, "192.168.7.8"));
	CHECK(match(&l, "192.168.7.9"));
	CHECK(!match(&l, "192.168.7.10"));
	CHECK(match(&l, "::ffff:10.1.2.3"));
	CHECK(!match(&l, "::1"));
	CHECK(!match(&l, "unknown"));
	CHECK(!match(&l, ""));
	cidr_list_free(&l);
	buf_free(&err);
}

static void test_match_v6(void)
{
	struct cidr_list l = CIDR_LIST_INIT;
	struct buf err = BUF_INIT;
	const char *t = "::1\n2001:db8:1::/48\nfe80::/10\n";
	CHECK(cidr_list_parse(&l, t, strlen(t), &err) == 0);
	CHECK(match(&l, "::1"));
	CHECK(match(&l, "2001:db8:1:ffff::25"));
	CHECK(!match(&l, "2001:db8:2::25"));
	CHECK(match(&l, "febf::1"));
	CHECK(!match(&l, "fec0::1"));
	CHECK(!match(&l, "127.0.0.1"));
	cidr_list_free(&l);
	buf_free(&err);
}

static void test_zero_prefix(void)
{
	struct cidr_list l = CIDR_LIST_INIT;
	struct buf err = BUF_INIT;
	const char *t = "0.0.0.0/0\n";
	CHECK(cidr_list_parse(&l, t, strlen(t), &err) == 0);
	CHECK(match(&l, "203.0.113.5"));
	CHECK(!match(&l, "2001:db8::1"));
	cidr_list_free(&l);
	buf_free(&err);
}

static void test_bad_lines(void)
{
	struct cidr_list l = CIDR_LIST_INIT;
	struct buf err = BUF_INIT;
	const char *t = "127.0.0.1\nnonsense\n10.0.0.0/99\n::1";
	CHECK(cidr_list_parse(&l, t, strlen(t), &err) == 2);
	CHECK(l.n == 2);
	CHECK(buf_eq(&err, "line 2: not an address block"));
	CHECK(match(&l, "::1"));
	cidr_list_free(&l);
	buf_free(&err);
}

static void test_load(void)
{
	struct cidr_list l = CIDR_LIST_INIT;
	struct buf err = BUF_INIT;
	CHECK(cidr_list_load(&l, "/nonexistent/relay-clients", &err) == 0);
	CHECK(l.n == 0);
	char path[] = "/tmp/test_cidr.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "10.0.0.0/8\n", 11) == 11);
	close(fd);
	CHECK(cidr_list_load(&l, path, &err) == 0);
	CHECK(match(&l, "10.9.9.9"));
	unlink(path);
	cidr_list_free(&l);
	buf_free(&err);
}

int main(void)
{
	test_parse();
	test_match_v4();
	test_match_v6();
	test_zero_prefix();
	test_bad_lines();
	test_load();
	return tap_done();
}
