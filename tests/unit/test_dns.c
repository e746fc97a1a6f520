/* test_dns: the DNS answer parser of common/dns.c on hand-made packets:
 * MX with compression, null MX, A/AAAA, rcodes, and malformed packets
 * (pointer loops, lengths past the end) that must fail, not crash. */
#include "dns.h"
#include "tap.h"

#include <string.h>

static size_t put(unsigned char *p, size_t o, const void *d, size_t n)
{
	memcpy(p + o, d, n);
	return o + n;
}

/* Header + question "ex.test" type t. */
static size_t head(unsigned char *p, unsigned rcode, unsigned an, unsigned t)
{
	unsigned char h[12] = {0x12, 0x34, 0x81, (unsigned char)(0x80 | rcode), 0, 1, 0,
			       (unsigned char)an, 0, 0, 0, 0};
	size_t o = put(p, 0, h, 12);
	o = put(p, o, "\2ex\4test\0", 9);
	unsigned char q[4] = {0, (unsigned char)t, 0, 1};
	return put(p, o, q, 4);
}

static size_t rr(unsigned char *p, size_t o, unsigned t, const void *rd, size_t n)
{
	unsigned char f[12] = {0xc0, 12, 0, (unsigned char)t, 0, 1, 0, 0, 0, 60, 0, (unsigned char)n};
	o = put(p, o, f, 12);
	return put(p, o, rd, n);
}

static void test_mx(void)
{
	unsigned char p[512];
	size_t o = head(p, 0, 3, DNS_T_MX);
	o = rr(p, o, DNS_T_MX, "\0\24\3mx2\xc0\14", 8);	/* 20 mx2.ex.test */
	o = rr(p, o, DNS_T_MX, "\0\12\3MX1\xc0\14", 8);	/* 10 mx1.ex.test */
	o = rr(p, o, DNS_T_MX, "\0\24\3mx3\xc0\14", 8);	/* 20 mx3.ex.test */
	struct dns_mx mx[4];
	size_t n = 0;
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 4, &n) == DNS_OK);
	CHECK(n == 3);
	dns_mx_sort(mx, n);
	CHECK(mx[0].pref == 10 && !strcmp(mx[0].host, "mx1.ex.test"));
	CHECK(!strcmp(mx[1].host, "mx2.ex.test") && !strcmp(mx[2].host, "mx3.ex.test"));
	n = 0;
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 2, &n) == DNS_OK && n == 2);
	/* a pointer into itself */
	unsigned char q[512];
	size_t k = head(q, 0, 1, DNS_T_MX);
	size_t at = k + 12 + 2;
	unsigned char loop[4] = {0, 1, 0xc0, (unsigned char)at};
	k = rr(q, k, DNS_T_MX, loop, 4);
	n = 0;
	CHECK(dns_parse(q, k, DNS_T_MX, mx, NULL, 4, &n) == DNS_BAD);
	/* every truncation of the good packet fails cleanly */
	int ok = 1;
	for (size_t cut = 0; cut < o; cut++) {
		n = 0;
		int r = dns_parse(p, cut, DNS_T_MX, mx, NULL, 4, &n);
		if (r == DNS_OK && n == 3)
			ok = 0;
	}
	CHECK(ok);
}

static void test_null_mx(void)
{
	unsigned char p[512];
	size_t o = head(p, 0, 1, DNS_T_MX);
	o = rr(p, o, DNS_T_MX, "\0\0\0", 3);
	struct dns_mx mx[2];
	size_t n = 0;
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 2, &n) == DNS_OK);
	CHECK(n == 1 && mx[0].pref == 0 && mx[0].host[0] == '\0');
}

static void test_addr(void)
{
	unsigned char p[512];
	size_t o = head(p, 0, 2, DNS_T_A);
	o = rr(p, o, DNS_T_A, "\177\0\0\3", 4);
	o = rr(p, o, DNS_T_AAAA, "0123456789abcdef", 16);	/* other type: skipped */
	struct dns_addr a[4];
	size_t n = 0;
	CHECK(dns_parse(p, o, DNS_T_A, NULL, a, 4, &n) == DNS_OK && n == 1);
	CHECK(a[0].family == AF_INET && a[0].a[0] == 127 && a[0].a[3] == 3);
	o = head(p, 0, 1, DNS_T_A);
	o = rr(p, o, DNS_T_A, "\177\0\0", 3);	/* short A */
	n = 0;
	CHECK(dns_parse(p, o, DNS_T_A, NULL, a, 4, &n) == DNS_BAD);
}

static void test_rcode(void)
{
	unsigned char p[512];
	size_t n = 0, o = head(p, 3, 0, DNS_T_MX);
	struct dns_mx mx[1];
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 1, &n) == DNS_NXDOMAIN);
	o = head(p, 2, 0, DNS_T_MX);
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 1, &n) == DNS_TEMP);
	o = head(p, 0, 0, DNS_T_MX);
	CHECK(dns_parse(p, o, DNS_T_MX, mx, NULL, 1, &n) == DNS_NODATA);
	CHECK(dns_parse(p, 5, DNS_T_MX, mx, NULL, 1, &n) == DNS_BAD);
}

static void test_names(void)
{
	CHECK(dns_name_ok("mx.example.test", 15));
	CHECK(dns_name_ok("mx.example.test.", 16));
	CHECK(!dns_name_ok("a..b", 4));
	CHECK(!dns_name_ok("", 0));
	CHECK(!dns_name_ok("a b", 3));
	struct buf err = BUF_INIT;
	CHECK(dns_setup("127.0.0.1:5353", &err) == 0);
	CHECK(dns_setup("127.0.0.1", &err) == 0);
	CHECK(dns_setup("not-an-ip", &err) < 0);
	CHECK(dns_setup("127.0.0.1:99999", &err) < 0);
	CHECK(dns_setup("", &err) == 0);
	buf_free(&err);
}

int main(void)
{
	test_mx();
	test_null_mx();
	test_addr();
	test_rcode();
	test_names();
	return tap_done();
}
