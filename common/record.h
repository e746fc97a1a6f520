/* record: the typed, length-prefixed record format of queue files and of
 * the pipe from smtpd and sendmail to enqueue (doc/queue.md has the whole
 * protocol).  A record is
 *     TYPE LENGTH ':' DATA '\n'
 * TYPE one byte, LENGTH decimal (leading zeros allowed, at most 20 digits),
 * DATA exactly LENGTH bytes.  Readers check every length against their own
 * limit before they read the data.  Used by smtpd, enqueue, qmgr, mailq,
 * sendmail and posthorn. */
#ifndef POSTHORN_RECORD_H
#define POSTHORN_RECORD_H

#include <stddef.h>
#include "buf.h"
#include "io.h"

/* record types */
#define REC_VERSION	'V'	/* queue file format version: "1" */
#define REC_QID		'I'	/* queue id */
#define REC_TIME	'T'	/* arrival, seconds since the epoch */
#define REC_SENDER	'S'	/* envelope sender, empty for <> */
#define REC_ATTR	'A'	/* "name=value" */
#define REC_ORCPT	'O'	/* original recipient of the next R record */
#define REC_NOTIFY	'F'	/* DSN NOTIFY of the next R record (RFC 3461) */
#define REC_RCPT	'R'	/* recipient still to do */
#define REC_DONE	'D'	/* recipient done (R rewritten in place) */
#define REC_MESSAGE	'M'	/* message bytes, LF line ends */
#define REC_END		'E'	/* end: nothing valid follows */

#define QUEUE_FORMAT_VERSION "1"
#define QUEUE_FORMAT_NUM 1	/* the same, for comparing: readers take 1..this */

/* Appends one record to b. */
void rec_put(struct buf *b, char type, const void *data, size_t len);
void rec_puts(struct buf *b, char type, const char *s);
/* Header of a record whose data follows separately: the length is written
 * with 12 digits so it can be patched in place later. */
void rec_put_header_fixed(struct buf *b, char type, unsigned long long len);
#define REC_FIXED_HEADER_LEN 14	/* type + 12 digits + ':' */

/* Reads one record from io: type, data (up to max bytes).
 * Returns 1 ok, 0 clean EOF before a record, -1 malformed/EOF inside,
 * -2 longer than max. */
int rec_get(struct io *io, char *type, struct buf *data, size_t max);

/* Parses one record from memory at *off; on success advances *off and sets
 * *type, *data, *len.  Returns 1 ok, 0 at end of memory, -1 malformed. */
int rec_parse(const char *mem, size_t memlen, size_t *off, char *type,
	      const char **data, size_t *len);

#endif
