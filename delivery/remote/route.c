/* route.c: the next hop of a request as an ordered list of addresses to
 * try.  "[host]:port" is used as given (no MX lookup); a domain goes
 * through its MX records in preference order, or the domain itself (the
 * implicit MX) when it has none.  Each host contributes its AAAA, then its
 * A addresses.  Null MX (RFC 7505) and NXDOMAIN are permanent; DNS
 * failures are temporary. */
#include "remote.h"

#include <arpa/inet.h>
#include <string.h>

#define SMTP_PORT 25

void route_domain(const struct remote_request *rq, struct buf *out)
{
	const char *h = rq->hop.s;
	size_t n = rq->hop.len;
	buf_reset(out);
	if (n && h[0] == '[') {
		const char *close = memchr(h, ']', n);
		buf_append(out, h + 1, (size_t)(close - h - 1));
	} else {
		buf_append(out, h, n);
	}
	mem_lower(out->s, out->len);
	buf_cstr(out);
}

static int literal(const char *host, struct dns_addr *a)
{
	const char *h = mem_caseprefix(host, strlen(host), "ipv6:") ? host + 5 : host;
	if (inet_pton(AF_INET, h, a->a) == 1) {
		a->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, h, a->a) == 1) {
		a->family = AF_INET6;
		return 1;
	}
	return 0;
}

/* Addresses of one host appended to t; returns the worse DNS result of
 * the two lookups when neither found anything. */
static int host_targets(const char *host, int port, struct target *t, size_t max, size_t *n)
{
	struct dns_addr a[DNS_ADDR_MAX];
	size_t na = 0;
	if (literal(host, &a[0])) {
		na = 1;
	} else {
		int r6 = dns_addrs(host, AF_INET6, a, DNS_ADDR_MAX, &na);
		int r4 = dns_addrs(host, AF_INET, a, DNS_ADDR_MAX, &na);
		if (na == 0)
			return r6 < 0 || r4 < 0 ? DNS_TEMP : r4 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
	}
	for (size_t i = 0; i < na && *n < max; i++) {
		struct target *x = &t[(*n)++];
		memset(x, 0, sizeof *x);
		memcpy(x->name, host, strnlen(host, DNS_NAME_MAX));
		x->addr = a[i];
		x->port = port;
	}
	return DNS_OK;
}

/* "[host]:port" */
static int route_literal(struct remote_request *rq, struct target *t, size_t max, size_t *n)
{
	struct buf host = BUF_INIT;
	route_domain(rq, &host);
	const char *colon = memchr(rq->hop.s, ']', rq->hop.len) + 1;
	unsigned long long port = 0;
	size_t plen = rq->hop.len - (size_t)(colon + 1 - rq->hop.s);
	int r = DNS_BAD;
	if (mem_to_u64(colon + 1, plen, &port) == 0 && port > 0 && port < 65536)
		r = host_targets(host.s, (int)port, t, max, n);
	if (r == DNS_BAD)
		rcpt_set_all(rq, '5', "5.3.5 bad next hop %s", rq->hop.s);
	else if (r == DNS_NXDOMAIN || r == DNS_NODATA)
		rcpt_set_all(rq, '5', "5.1.2 host %s not found", host.s);
	else if (r != DNS_OK)
		rcpt_set_all(rq, '4', "4.4.3 cannot look up %s", host.s);
	buf_free(&host);
	return r == DNS_OK ? 0 : -1;
}

int route_targets(struct remote_request *rq, struct target *t, size_t max, size_t *n)
{
	*n = 0;
	if (rq->hop.s[0] == '[')
		return route_literal(rq, t, max, n);
	struct dns_mx mx[DNS_MX_MAX];
	size_t nmx = 0;
	int r = dns_mx(rq->hop.s, mx, DNS_MX_MAX, &nmx);
	if (r == DNS_NXDOMAIN) {
		rcpt_set_all(rq, '5', "5.1.2 domain %s not found", rq->hop.s);
		return -1;
	}
	if (r == DNS_OK && nmx >= 1 && mx[0].host[0] == '\0') {
		rcpt_set_all(rq, '5', "5.1.10 domain %s accepts no mail (null MX)", rq->hop.s);
		return -1;
	}
	if (r != DNS_OK && r != DNS_NODATA) {
		rcpt_set_all(rq, '4', "4.4.3 MX lookup for %s failed", rq->hop.s);
		return -1;
	}
	if (r == DNS_NODATA) {	/* implicit MX */
		nmx = 1;
		mx[0].pref = 0;
		memset(mx[0].host, 0, sizeof mx[0].host);
		memcpy(mx[0].host, rq->hop.s, strnlen(rq->hop.s, DNS_NAME_MAX));
	}
	int any_temp = 0;
	for (size_t i = 0; i < nmx && *n < max; i++)
		if (mx[i].host[0] && host_targets(mx[i].host, SMTP_PORT, t, max, n) == DNS_TEMP)
			any_temp = 1;
	if (*n)
		return 0;
	if (any_temp)
		rcpt_set_all(rq, '4', "4.4.3 address lookup for the MX hosts of %s failed", rq->hop.s);
	else
		rcpt_set_all(rq, '5', "5.1.2 no address for %s", rq->hop.s);
	return -1;
}
