/* dns: the MX, A and AAAA lookups of remote delivery (delivery/remote).
 * Queries go through glibc's resolver (res_nquery) to the server named by
 * dns_resolver ("IP[:port]", IPv4 or IPv6) or, when that is empty, to the
 * system's; answers are parsed here by a bounded parser that checks every
 * length and pointer against the packet, so a hostile or broken DNS reply
 * can only make a lookup fail.  Used by remote and tests/fuzz/fuzz_dns. */
#ifndef POSTHORN_DNS_H
#define POSTHORN_DNS_H

#include <stddef.h>
#include <sys/socket.h>
#include "buf.h"

#define DNS_NAME_MAX 255	/* presentation form, without the final dot */
#define DNS_MX_MAX 32		/* MX records kept per domain */
#define DNS_ADDR_MAX 16		/* addresses kept per host */

/* Results of a lookup */
enum {
	DNS_OK = 0,		/* records found */
	DNS_NODATA = 1,		/* the name exists but has none of that type */
	DNS_NXDOMAIN = 2,	/* no such domain: permanent */
	DNS_TEMP = -1,		/* SERVFAIL, timeout, no server: try again */
	DNS_BAD = -2,		/* malformed answer or name: try again */
};

#define DNS_T_A 1
#define DNS_T_MX 15
#define DNS_T_AAAA 28

struct dns_mx {
	unsigned pref;
	char host[DNS_NAME_MAX + 1];	/* lower case, no final dot; "" = null MX */
};

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char a[16];	/* 4 or 16 bytes */
};

/* Sets the resolver used by the lookups below: "IP[:port]" or "[IPv6]:port"
 * or empty for the system's.  0 ok, -1 bad address (message in err). */
int dns_setup(const char *resolver, struct buf *err);

/* MX records of domain, sorted by preference (stable for equal ones).
 * A single record with an empty host and preference 0 is a null MX. */
int dns_mx(const char *domain, struct dns_mx *mx, size_t max, size_t *n);
/* A (family AF_INET) or AAAA (AF_INET6) addresses of host, appended to
 * out after the *n already there, up to max in all. */
int dns_addrs(const char *host, int family, struct dns_addr *out, size_t max, size_t *n);

/* The parser, exposed for tests and the fuzzer: the records of type qtype
 * in the answer section of msg (len bytes).  MX: fills mx; A/AAAA: fills
 * addrs.  Returns DNS_OK, DNS_NODATA, DNS_NXDOMAIN, DNS_TEMP (rcode
 * SERVFAIL etc.) or DNS_BAD. */
int dns_parse(const unsigned char *msg, size_t len, int qtype, struct dns_mx *mx,
	      struct dns_addr *addrs, size_t max, size_t *n);
/* Sorts MX records by preference, keeping the order of equal ones. */
void dns_mx_sort(struct dns_mx *mx, size_t n);
/* A host name fit for a query: letters, digits, '-', '_' and '.', labels of
 * 1..63 bytes, at most 253 bytes, an optional final dot. */
int dns_name_ok(const char *s, size_t len);

#endif
