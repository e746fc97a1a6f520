/* resolve: what a recipient address means here.  Local domains come from
 * the domains table, mailboxes from the users table, aliases from the
 * aliases table.  smtpd asks resolve_known() at RCPT time (so unknown users
 * are refused then, never accepted and bounced); enqueue expands aliases
 * with resolve_expand() when a message enters the queue, so every final
 * recipient has its own queue record and its own delivery status.
 *
 * aliases text format: "key: target, target, ..." where key is a local
 * part (every local domain) or a whole address; a target without '@' is in
 * the key's domain.  "local+ext@domain" falls back to "local@domain". */
#ifndef POSTHORN_RESOLVE_H
#define POSTHORN_RESOLVE_H

#include "buf.h"
#include "config.h"
#include "table.h"

#define RESOLVE_MAX_DEPTH 10
#define RESOLVE_MAX_TARGETS 1000

struct resolver {
	struct table domains, users, aliases;
};

/* Opens the three tables from the config directory: 0 ok, -1 error. */
int resolver_open(struct resolver *r, const struct config *c);
void resolver_close(struct resolver *r);
/* 1 if the domain of addr is one of ours, 0 if not, -1 table error. */
int resolve_is_local(struct resolver *r, const char *addr, size_t len);
/* Looks up a mailbox: 1 found ("mailbox:quota" in val), 0 no, -1 error.
 * addr must be normalized; the lookup is case-insensitive. */
int resolve_user(struct resolver *r, const char *addr, size_t len, struct buf *val);
/* A users-table value "mailbox:quota" -> mailbox (trailing slashes
 * dropped) and quota (0 = none): 0 ok, -1 malformed, or a mailbox that
 * would leave mail_dir (absolute, "..", control bytes).  Used by local and
 * mailboxd, so both find the same Maildir. */
int resolve_mailbox(const struct buf *val, struct buf *mailbox, unsigned long long *quota);
/* For a local address: 1 a user or alias exists, 0 unknown, -1 error. */
int resolve_known(struct resolver *r, const char *addr, size_t len);

struct resolve_list {
	struct buf *addrs;	/* final recipients, lowercased when local */
	size_t n, cap;
};
void resolve_list_free(struct resolve_list *l);

/* Expands aliases recursively (depth RESOLVE_MAX_DEPTH, loops detected, an
 * alias that names itself delivers to the mailbox of that name), appending
 * the de-duplicated final recipients.  Foreign addresses pass through.
 * Returns 0 ok, -1 table error (temporary), -2 loop or too many targets
 * (permanent: message in err). */
int resolve_expand(struct resolver *r, const char *addr, size_t len,
		   struct resolve_list *out, struct buf *err);

#endif
