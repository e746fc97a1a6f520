/* header: RFC 5322 header blocks in memory.  Iterates the fields of a
 * message header (LF or CRLF line ends), finds where the header ends (a
 * blank line, or the first line that cannot be a header field when the
 * blank line is missing), unfolds values, and finds or counts fields by
 * name case-insensitively.  Nothing is copied while iterating: fields are
 * views into the caller's memory.  Used by local (Delivered-To loops),
 * smtpd and enqueue (Received:, Message-ID:), qmgr (bounces) and later the
 * MIME and IMAP code. */
#ifndef POSTHORN_HEADER_H
#define POSTHORN_HEADER_H

#include <stddef.h>
#include "buf.h"

/* Longest field name we accept (RFC 5322 has no limit; 998 is the line
 * limit, and nothing sane comes near it). */
#define HEADER_NAME_MAX 998

struct header_field {
	const char *name;	/* field name, without the colon */
	size_t name_len;
	const char *value;	/* raw value after the colon, still folded,
				 * without the final line end */
	size_t value_len;
	const char *raw;	/* the whole field including its line ends */
	size_t raw_len;
};

struct header_iter {
	const char *s;
	size_t len;
	size_t off;		/* start of the next field */
	int done;
	size_t body;		/* valid once done: offset of the body */
	int blank;		/* once done: 1 if a blank line ended the header */
};

void header_iter_init(struct header_iter *it, const char *s, size_t len);
/* Next field: 1 and *f filled, or 0 at the end of the header. */
int header_next(struct header_iter *it, struct header_field *f);

/* Offset where the body starts (after the blank line if there is one, at
 * the first non-field line, or len if all of s is header); *blank tells
 * whether a blank line ended the header (may be NULL). */
size_t header_end(const char *s, size_t len, int *blank);

/* Unfolds a raw value: CRLF/LF before whitespace removed, CRs dropped,
 * leading and trailing whitespace trimmed.  Appends to out. */
void header_unfold(const char *v, size_t n, struct buf *out);

/* First field called name (case-insensitive): 1 found, 0 not. */
int header_find(const char *s, size_t len, const char *name, struct header_field *f);
/* Number of fields called name. */
size_t header_count(const char *s, size_t len, const char *name);
/* Number of fields called name whose unfolded value, without surrounding
 * angle brackets, equals value case-insensitively (Delivered-To: loops). */
size_t header_count_value(const char *s, size_t len, const char *name,
			  const char *value, size_t vlen);

#endif
