/* addr: mail addresses.  Parses SMTP paths (RFC 5321 4.1.2: "<local@domain>"
 * with optional source route, dot-string or quoted local part, domain or
 * address literal), RFC 6531 UTF-8 addresses when allowed, and address
 * lists in message headers (RFC 5322 3.4, for sendmail -t).  Used by smtpd,
 * sendmail, enqueue and local. */
#ifndef POSTHORN_ADDR_H
#define POSTHORN_ADDR_H

#include <stddef.h>
#include "buf.h"

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_MAX 256

enum {
	ADDR_OK = 0,
	ADDR_SYNTAX = -1,	/* 501 5.1.3 (or 5.1.7 for the sender) */
	ADDR_TOOLONG = -2,	/* 501 5.1.3: over RFC 5321 4.5.3.1 limits */
	ADDR_UTF8 = -3,		/* non-ASCII without SMTPUTF8: 553 5.6.7 */
};

/* Parses a path that starts at s[0] == '<'.  On success addr holds
 * "local@domain" with the domain lowercased (empty for "<>" when
 * allow_null), and *used the bytes consumed (through '>'). */
int addr_parse_path(const char *s, size_t len, int allow_null, int allow_utf8,
		    struct buf *addr, size_t *used);
/* Checks a bare "local@domain" (no brackets) the same way. */
int addr_check(const char *s, size_t len, int allow_utf8);
/* The domain part (after the last '@'), or an empty string. */
const char *addr_domain(const char *addr, size_t len, size_t *dlen);
/* Lowercases the domain, leaves the local part as it is. */
void addr_normalize(struct buf *addr);
int addr_has_8bit(const char *s, size_t len);

/* Calls fn for each addr-spec in an RFC 5322 address list (To:, Cc:).
 * Display names, comments and group syntax are skipped.  Returns the number
 * of addresses, or -1 if the list is malformed. */
int addr_list_parse(const char *s, size_t len,
		    void (*fn)(const char *addr, size_t alen, void *ctx), void *ctx);

#endif
