/* cidr: address blocks ("10.0.0.0/8", "2001:db8::/32", "127.0.0.1") and
 * the test "is this client IP in one of them".  smtpd reads the
 * relay-clients table (text, one block per line, '#' comments) with it;
 * IPv4 clients seen as IPv4-mapped IPv6 ("::ffff:10.1.2.3") match IPv4
 * blocks.  Used by smtpd. */
#ifndef POSTHORN_CIDR_H
#define POSTHORN_CIDR_H

#include <stddef.h>
#include "buf.h"

struct cidr {
	unsigned char addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	unsigned prefix;	/* 0..128, counted on the 16-byte form */
};

struct cidr_list {
	struct cidr *v;
	size_t n, cap;
};

#define CIDR_LIST_INIT {NULL, 0, 0}

/* Parses one block (no spaces); 0 ok, -1 syntax. */
int cidr_parse(const char *s, size_t len, struct cidr *out);
/* Parses an IP address; 0 ok, -1 not an address. */
int cidr_parse_ip(const char *s, size_t len, unsigned char out[16]);
/* 1 if ip (text) lies in c, else 0 (also for a malformed ip). */
int cidr_contains(const struct cidr *c, const unsigned char ip[16]);
void cidr_list_add(struct cidr_list *l, const struct cidr *c);
void cidr_list_free(struct cidr_list *l);
/* Parses a table text: blocks separated by lines, '#' to the end of a line
 * is a comment.  Bad lines are skipped and counted; the first one is
 * described in err ("LINE: text").  Returns the number of bad lines. */
int cidr_list_parse(struct cidr_list *l, const char *text, size_t len, struct buf *err);
/* Loads a file; a missing file is an empty list.  Returns -1 on a read
 * error (errno), else the number of bad lines (see cidr_list_parse). */
int cidr_list_load(struct cidr_list *l, const char *path, struct buf *err);
/* 1 if the textual address ip is inside a block of l. */
int cidr_list_match(const struct cidr_list *l, const char *ip, size_t len);

#endif
