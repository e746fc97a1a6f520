/* dns.c: MX/A/AAAA lookups for remote delivery (see dns.h).  The query
 * goes out through res_nquery, aimed at dns_resolver when one is set
 * (tests use a dnsmasq on loopback); the answer is parsed here with every
 * offset checked, compression pointers bounded, names validated. */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#define DNS_HDR 12
#define DNS_PTR_MAX 64		/* compression pointers followed per name */
#define DNS_PACKET_MAX 65535

static struct sockaddr_in resolver;
static int have_resolver;

int dns_setup(const char *spec, struct buf *err)
{
	have_resolver = 0;
	if (!spec || !*spec)
		return 0;
	struct buf host = BUF_INIT;
	unsigned long long port = 53;
	const char *colon = strrchr(spec, ':');
	buf_set(&host, spec, colon ? (size_t)(colon - spec) : strlen(spec));
	int bad = colon && (mem_to_u64(colon + 1, strlen(colon + 1), &port) < 0 ||
			    port == 0 || port > 65535);
	memset(&resolver, 0, sizeof resolver);
	resolver.sin_family = AF_INET;
	resolver.sin_port = htons((unsigned short)port);
	if (bad || inet_pton(AF_INET, buf_cstr(&host), &resolver.sin_addr) != 1) {
		buf_printf(err, "dns_resolver: not IPv4[:port]: %s", spec);
		buf_free(&host);
		return -1;
	}
	buf_free(&host);
	have_resolver = 1;
	return 0;
}

int dns_name_ok(const char *s, size_t len)
{
	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Skips or expands the name at *off.  out (may be NULL) gets the name in
 * lower case without the final dot; *off moves past the name as stored. */
static int name_read(const unsigned char *msg, size_t len, size_t *off, char *out)
{
	size_t pos = *off, o = 0, end = 0;
	int jumps = 0;
	for (;;) {
		if (pos >= len)
			return -1;
		unsigned l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > DNS_PTR_MAX)
				return -1;
			if (!end)
				end = pos + 2;
			pos = (l & 0x3f) << 8 | msg[pos + 1];
			continue;
		}
		if (l & 0xc0)
			return -1;
		pos++;
		if (l == 0)
			break;
		if (pos + l > len || o + l + 1 > DNS_NAME_MAX + 1)
			return -1;
		if (out) {
			if (o)
				out[o++] = '.';
			for (unsigned i = 0; i < l; i++) {
				char c = (char)msg[pos + i];
				out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
			}
		} else {
			o += l + 1;
		}
		pos += l;
	}
	if (out)
		out[o] = '\0';
	*off = end ? end : pos;
	return 0;
}

static int take_mx(const unsigned char *msg, size_t len, size_t rd, size_t rdlen,
		   struct dns_mx *mx)
{
	if (rdlen < 3)
		return -1;
	size_t off = rd + 2;
	mx->pref = get16(msg + rd);
	if (name_read(msg, len, &off, mx->host) < 0 || off != rd + rdlen)
		return -1;
	return mx->host[0] == '\0' || dns_name_ok(mx->host, strlen(mx->host)) ? 0 : -1;
}

static int take_addr(const unsigned char *msg, size_t rd, size_t rdlen, int qtype,
		     struct dns_addr *a)
{
	size_t want = qtype == DNS_T_A ? 4 : 16;
	if (rdlen != want)
		return -1;
	a->family = qtype == DNS_T_A ? AF_INET : AF_INET6;
	memcpy(a->a, msg + rd, want);
	return 0;
}

static int header_check(const unsigned char *msg, size_t len)
{
	if (len < DNS_HDR)
		return DNS_BAD;
	unsigned rcode = msg[3] & 0x0f;
	if (rcode == 3)
		return DNS_NXDOMAIN;
	if (rcode != 0)
		return DNS_TEMP;
	if (!(msg[2] & 0x80) || (msg[2] & 0x02))	/* not a response, or truncated */
		return DNS_BAD;
	return DNS_OK;
}

int dns_parse(const unsigned char *msg, size_t len, int qtype, struct dns_mx *mx,
	      struct dns_addr *addrs, size_t max, size_t *n)
{
	int h = header_check(msg, len);
	if (h != DNS_OK)
		return h;
	unsigned qd = get16(msg + 4), an = get16(msg + 6);
	size_t off = DNS_HDR;
	for (unsigned i = 0; i < qd; i++) {
		if (name_read(msg, len, &off, NULL) < 0 || off + 4 > len)
			return DNS_BAD;
		off += 4;
	}
	size_t start = *n;
	for (unsigned i = 0; i < an; i++) {
		if (name_read(msg, len, &off, NULL) < 0 || off + 10 > len)
			return DNS_BAD;
		unsigned type = get16(msg + off), cls = get16(msg + off + 2);
		size_t rdlen = get16(msg + off + 8), rd = off + 10;
		if (rd + rdlen > len)
			return DNS_BAD;
		off = rd + rdlen;
		if (type != (unsigned)qtype || cls != 1 || *n >= max)
			continue;	/* CNAMEs and the like: the resolver followed them */
		int r = qtype == DNS_T_MX ? take_mx(msg, len, rd, rdlen, &mx[*n])
					  : take_addr(msg, rd, rdlen, qtype, &addrs[*n]);
		if (r < 0)
			return DNS_BAD;
		(*n)++;
	}
	return *n > start ? DNS_OK : DNS_NODATA;
}

void dns_mx_sort(struct dns_mx *mx, size_t n)
{
	for (size_t i = 1; i < n; i++) {	/* insertion sort: stable, n is small */
		struct dns_mx t = mx[i];
		size_t j = i;
		for (; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
}

/* Runs one query; the answer goes to ans (DNS_PACKET_MAX bytes). */
static int query(const char *name, int qtype, unsigned char *ans, size_t *alen)
{
	struct __res_state st;
	memset(&st, 0, sizeof st);
	if (res_ninit(&st) < 0)
		return DNS_TEMP;
	if (have_resolver) {
		st.nsaddr_list[0] = resolver;
		st.nscount = 1;
	}
	st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	st.retrans = 3;
	st.retry = 2;
	int r = res_nquery(&st, name, C_IN, qtype, ans, DNS_PACKET_MAX);
	int herr = st.res_h_errno;
	res_nclose(&st);
	if (r >= 0) {
		*alen = (size_t)r < DNS_PACKET_MAX ? (size_t)r : DNS_PACKET_MAX;
		return DNS_OK;
	}
	if (herr == HOST_NOT_FOUND)
		return DNS_NXDOMAIN;
	if (herr == NO_DATA)
		return DNS_NODATA;
	return DNS_TEMP;
}

static int lookup(const char *name, int qtype, struct dns_mx *mx, struct dns_addr *addrs,
		  size_t max, size_t *n)
{
	if (!dns_name_ok(name, strlen(name)))
		return DNS_BAD;
	unsigned char *ans = xmalloc(DNS_PACKET_MAX);
	size_t alen = 0;
	int r = query(name, qtype, ans, &alen);
	if (r == DNS_OK)
		r = dns_parse(ans, alen, qtype, mx, addrs, max, n);
	free(ans);
	return r;
}

int dns_mx(const char *domain, struct dns_mx *mx, size_t max, size_t *n)
{
	*n = 0;
	int r = lookup(domain, DNS_T_MX, mx, NULL, max, n);
	if (r == DNS_OK)
		dns_mx_sort(mx, *n);
	return r;
}

int dns_addrs(const char *host, int family, struct dns_addr *out, size_t max, size_t *n)
{
	return lookup(host, family == AF_INET6 ? DNS_T_AAAA : DNS_T_A, NULL, out, max, n);
}
