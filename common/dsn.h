/* dsn: RFC 3464 delivery status notifications: failures (bounces), delay
 * notices and success reports (RFC 3461 NOTIFY).  Composes the
 * whole multipart/report message: a human-readable text part naming each
 * recipient and what happened, the message/delivery-status part, and the
 * original's header (text/rfc822-headers) or the whole original
 * (message/rfc822).  Lines end in LF, as everything in the queue.  Used by
 * qmgr, and by remote delivery later (issue 4). */
#ifndef POSTHORN_DSN_H
#define POSTHORN_DSN_H

#include <stddef.h>
#include "buf.h"

struct dsn_rcpt {
	const char *addr;	/* Final-Recipient */
	size_t addr_len;
	const char *orig;	/* Original-Recipient, NULL/0 when none */
	size_t orig_len;
	const char *diag;	/* "5.1.1 text" or "550 5.1.1 text" */
	size_t diag_len;
	int temporary;		/* the reason was temporary (expired in queue) */
	const char *action;	/* "failed" (NULL), "delayed", "delivered", "relayed" */
	const char *mta;	/* Remote-MTA "name[ip]" or NULL: then the
				 * diagnostic is an SMTP reply (smtp; ...) */
	size_t mta_len;
};

enum dsn_kind { DSN_FAILURE, DSN_DELAY, DSN_SUCCESS };

struct dsn_msg {
	const char *qid;
	const char *reporting_mta;	/* our hostname */
	const char *to;			/* the original sender: gets the bounce */
	long long arrival;
	long long now;
	const char *original;		/* original header or whole message */
	size_t original_len;
	int original_is_full;		/* message/rfc822 instead of headers */
	enum dsn_kind kind;		/* subject and text; DSN_FAILURE when any failed */
	const char *envid;		/* Original-Envelope-Id, NULL when none */
};

/* The status code of a diagnostic: the first "c.s.d" token (c 2, 4 or 5),
 * else "5.0.0" ("4.0.0" when temporary).  Copied to out (reset first). */
void dsn_status(const char *diag, size_t len, int temporary, struct buf *out);
/* 1 if s is a valid NOTIFY value as kept in F records: NEVER, or a comma
 * list of SUCCESS, FAILURE, DELAY (upper case, each at most once). */
int dsn_notify_valid(const char *s, size_t n);
/* Appends the complete bounce message to out. */
void dsn_compose(struct buf *out, const struct dsn_msg *m,
		 const struct dsn_rcpt *r, size_t n);

#endif
