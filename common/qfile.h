/* qfile: reading and updating queue files (layout in doc/design.md and
 * queue/README.md).  qfile_read() parses the envelope of an open queue
 * file and locates the message bytes without reading them, so a scan of
 * thousands of messages stays cheap; qfile_mark_done() turns one R record
 * into D in place.  The queue listing shared by mailq, sendmail -bp and
 * `posthorn queue list` is here too.  Used by qmgr, mailq, sendmail and
 * posthorn. */
#ifndef POSTHORN_QFILE_H
#define POSTHORN_QFILE_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"
#include "config.h"

#define QID_MAX 48		/* a queue id is at most this many hex digits */
#define QFILE_ENVELOPE_MAX (16u << 20)	/* envelope bytes before the M record */

struct qrcpt {
	struct buf addr;	/* the recipient */
	struct buf orig;	/* its O record, empty when none */
	struct buf notify;	/* its F record: NEVER or SUCCESS,FAILURE,DELAY; empty = default */
	off_t type_off;		/* file offset of the R/D type byte */
	size_t index;		/* position among R/D records: the X index */
	int done;		/* a D record */
};

struct qfile {
	struct buf qid;
	struct buf sender;	/* empty: the null sender */
	int has_sender;		/* an S record was seen */
	long long arrival;	/* T record */
	struct buf attrs;	/* A records, each "name=value\n" */
	struct qrcpt *rcpts;
	size_t nrcpt, cap;
	off_t msg_off;		/* first message byte */
	size_t msg_len;
	int complete;		/* E0: found after the message */
};

/* Parses the queue file open on fd.  Returns 0 ok (check q->complete:
 * when 0, err says why: truncated, or a message length that does not fit),
 * -1 read error (errno), -2 malformed (message in err), QFILE_NEWER: its V
 * record names a format newer than QUEUE_FORMAT_NUM (message in err):
 * written by a newer posthorn, so it is never delivered, bounced, moved
 * to corrupt/ or deleted by this one (queue/README.md "Versions"). */
#define QFILE_NEWER (-3)
int qfile_read(int fd, struct qfile *q, struct buf *err);
void qfile_free(struct qfile *q);
/* The value of attribute name (A name=value) into out: 1 found, 0 not. */
int qfile_attr(const struct qfile *q, const char *name, struct buf *out);
/* 1 if the recipient's NOTIFY includes word (SUCCESS, FAILURE, DELAY).
 * Without an F record FAILURE and DELAY are on (RFC 3461 4.1). */
int qfile_notify(const struct qrcpt *r, const char *word);
/* Rewrites rcpt's R to D (not fsynced: the caller fsyncs once a batch). */
int qfile_mark_done(int fd, const struct qrcpt *r);
/* Reads at most max message bytes into out (reset first). 0 ok, -1 error. */
int qfile_message(int fd, const struct qfile *q, size_t max, struct buf *out);
/* Reads the message header: the bytes up to and including the empty line
 * (or the whole message when it has no body), at most max. */
int qfile_headers(int fd, const struct qfile *q, size_t max, struct buf *out);
/* 1 if s is a well-formed queue id (uppercase hex, 1..QID_MAX). */
int qid_valid(const char *s, size_t len);

/* Last deferral reasons, from defer/<qid>: pairs of R and W records. */
struct qreason {
	struct buf rcpt, text;
};
struct qreasons {
	struct qreason *v;
	size_t n;
};
int qreasons_read(const char *path, struct qreasons *r);	/* 0, or -1 */
const struct buf *qreasons_find(const struct qreasons *r, const struct buf *rcpt);
void qreasons_free(struct qreasons *r);

/* Prints the queue listing (mailq format) to fd.  Returns 0, or -1 with a
 * message in err when the queue cannot be read. */
int qlist_print(const struct config *cfg, int fd, struct buf *err);

#endif
