/* data: the DATA decoder and header scanner of smtpd, free of I/O so that
 * the unit tests and the fuzz target can drive them byte by byte.
 *
 * data_dec turns the SMTP data stream into message bytes: it removes dot
 * stuffing, turns CRLF into LF and stops exactly after the CRLF.CRLF that
 * ends DATA.  Nothing else ends it: a bare LF or bare CR anywhere (so also
 * "\n.\n", "\r.\r", "\n.\r\n") is recorded and the message is rejected after
 * the real end, so a message can never be cut short or split in two (SMTP
 * smuggling).  hdr_scan watches the header block as it streams by: it
 * counts Received: fields (mail loops), notices Date: and Message-ID:,
 * bounds the header size, and stops at the end of the header block so
 * smtpd can insert fields there. */
#ifndef POSTHORN_SMTPD_DATA_H
#define POSTHORN_SMTPD_DATA_H

#include <stddef.h>
#include "buf.h"

struct data_dec {
	int state;
	int clean_bol;		/* the previous line ended in CRLF */
	size_t line_len, line_max;
	int bare_lf, bare_cr, long_line, nul;	/* reasons to reject */
	int done;		/* CRLF.CRLF seen */
};

void data_dec_init(struct data_dec *d, size_t line_max);
/* Decodes p[0..n), appending message bytes to out.  Returns the bytes
 * consumed: all of them, or fewer when the end of DATA was reached
 * (d->done) and the rest belongs to the next command. */
size_t data_dec_feed(struct data_dec *d, const char *p, size_t n, struct buf *out);
/* 1 if the message must be rejected for its line structure. */
int data_dec_bad(const struct data_dec *d);

enum { HS_HEADER, HS_END, HS_BODY };

struct hdr_scan {
	int state;		/* HS_END: caller inserts fields, then hdr_scan_body */
	struct buf hold;	/* header bytes not yet passed on */
	size_t line_start;	/* start of the unfinished line in hold */
	size_t max, total;	/* header size limit, header bytes seen */
	int too_big;
	int need_blank;		/* the body started without an empty line */
	unsigned received;
	int has_date, has_msgid;
};

void hdr_scan_init(struct hdr_scan *h, size_t max);
void hdr_scan_free(struct hdr_scan *h);
/* Passes message bytes through to out.  While in the header block whole
 * lines are held back; when the block ends the header lines go to out, the
 * state becomes HS_END and the count of bytes consumed is returned: the
 * caller appends its own fields to out, calls hdr_scan_body and feeds the
 * rest. */
size_t hdr_scan_feed(struct hdr_scan *h, const char *p, size_t n, struct buf *out);
/* After HS_END: writes the separator and held bytes, switches to HS_BODY. */
void hdr_scan_body(struct hdr_scan *h, struct buf *out);
/* At the end of the message while still in the header block: everything
 * held is header; it goes to out and the state becomes HS_END. */
void hdr_scan_eof(struct hdr_scan *h, struct buf *out);

#endif
