/* data: DATA decoding and the header scanner (see data.h).  Used by
 * smtpd's DATA command, the unit tests and the fuzz target. */
#include "data.h"

#include <string.h>

/* Decoder states: at the beginning of a line, after a leading '.', after
 * ".\r", inside a line, after a CR inside a line. */
enum { ST_BOL, ST_DOT, ST_DOTCR, ST_MID, ST_CR };

void data_dec_init(struct data_dec *d, size_t line_max)
{
	memset(d, 0, sizeof *d);
	d->state = ST_BOL;
	d->clean_bol = 1;	/* the DATA command's own CRLF */
	d->line_max = line_max;
}

int data_dec_bad(const struct data_dec *d)
{
	return d->bare_lf || d->bare_cr || d->long_line || d->nul;
}

static void end_line(struct data_dec *d, struct buf *out, int clean)
{
	buf_putc(out, '\n');
	d->clean_bol = clean;
	d->line_len = 0;
	d->state = ST_BOL;
}

/* A run of ordinary bytes inside a line; returns how many were taken. */
static size_t take_text(struct data_dec *d, const char *p, size_t n, struct buf *out)
{
	size_t j = 0;
	while (j < n && p[j] != '\r' && p[j] != '\n')
		j++;
	if (memchr(p, 0, j))
		d->nul = 1;	/* RFC 5321 4.1.1.4: no NUL in mail data */
	buf_append(out, p, j);
	d->line_len = size_add(d->line_len, j);
	if (d->line_len > d->line_max)
		d->long_line = 1;
	return j;
}

/* One step of the state machine; returns the bytes consumed (0 means the
 * same byte is looked at again in the new state). */
static size_t dec_step(struct data_dec *d, const char *p, size_t n, struct buf *out)
{
	char c = p[0];
	switch (d->state) {
	case ST_BOL:
		d->state = c == '.' ? ST_DOT : ST_MID;
		return c == '.';
	case ST_DOT:	/* the leading dot is dropped in every case */
		d->state = c == '\r' ? ST_DOTCR : ST_MID;
		return c == '\r';
	case ST_DOTCR:
		if (c == '\n') {
			if (d->clean_bol)
				d->done = 1;	/* CRLF.CRLF */
			else
				end_line(d, out, 1);
			return 1;
		}
		d->bare_cr = 1;
		buf_putc(out, '\r');
		d->state = ST_MID;
		return 0;
	case ST_CR:
		if (c == '\n') {
			end_line(d, out, 1);
			return 1;
		}
		d->bare_cr = 1;
		buf_putc(out, '\r');
		d->state = ST_MID;
		return 0;
	default:	/* ST_MID */
		if (c == '\r') {
			d->state = ST_CR;
			return 1;
		}
		if (c == '\n') {
			d->bare_lf = 1;
			end_line(d, out, 0);
			return 1;
		}
		return take_text(d, p, n, out);
	}
}

size_t data_dec_feed(struct data_dec *d, const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n && !d->done)
		i += dec_step(d, p + i, n - i, out);
	return i;
}

/* --- header scanner --- */

void hdr_scan_init(struct hdr_scan *h, size_t max)
{
	memset(h, 0, sizeof *h);
	h->state = HS_HEADER;
	h->max = max;
}

void hdr_scan_free(struct hdr_scan *h)
{
	buf_free(&h->hold);
}

enum { L_FIELD, L_CONT, L_BLANK, L_OTHER };

/* Length of the field name of a header line ("Name:" or the obsolete
 * "Name :"), or 0 if the line is not a header field. */
static size_t field_name(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && s[i] != ':' && (unsigned char)s[i] >= 33 && (unsigned char)s[i] <= 126)
		i++;
	size_t name = i;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return name > 0 && i < len && s[i] == ':' ? name : 0;
}

static int classify(struct hdr_scan *h, const char *s, size_t len, int first)
{
	if (len == 1)
		return L_BLANK;
	if (s[0] == ' ' || s[0] == '\t')
		return first ? L_OTHER : L_CONT;
	size_t name = field_name(s, len);
	if (name == 0)
		return L_OTHER;
	if (mem_caseeq(s, name, "Received", 8))
		h->received++;
	else if (mem_caseeq(s, name, "Date", 4))
		h->has_date = 1;
	else if (mem_caseeq(s, name, "Message-ID", 10))
		h->has_msgid = 1;
	return L_FIELD;
}

/* The line just completed in hold ends the header block: pass the header
 * lines on and keep the line itself for hdr_scan_body. */
static void end_block(struct hdr_scan *h, struct buf *out, int kind)
{
	buf_append(out, h->hold.s, h->line_start);
	buf_consume(&h->hold, h->line_start);
	h->line_start = 0;
	h->need_blank = kind == L_OTHER;
	h->state = HS_END;
}

size_t hdr_scan_feed(struct hdr_scan *h, const char *p, size_t n, struct buf *out)
{
	if (h->state == HS_BODY) {
		buf_append(out, p, n);
		return n;
	}
	size_t i = 0;
	while (i < n && h->state == HS_HEADER) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t take = nl ? (size_t)(nl - p) - i + 1 : n - i;
		buf_append(&h->hold, p + i, take);
		i += take;
		if (h->hold.len > h->max) {
			/* rejected anyway: drop it so memory stays bounded */
			h->too_big = 1;
			buf_reset(&h->hold);
			h->line_start = 0;
			h->state = HS_BODY;
			break;
		}
		if (!nl)
			break;
		int kind = classify(h, h->hold.s + h->line_start,
				    h->hold.len - h->line_start, h->line_start == 0);
		if (kind == L_BLANK || kind == L_OTHER)
			end_block(h, out, kind);
		else
			h->line_start = h->hold.len;
	}
	return i;
}

void hdr_scan_body(struct hdr_scan *h, struct buf *out)
{
	if (h->need_blank)
		buf_putc(out, '\n');
	buf_append(out, h->hold.s, h->hold.len);
	buf_reset(&h->hold);
	h->state = HS_BODY;
}

void hdr_scan_eof(struct hdr_scan *h, struct buf *out)
{
	if (h->state != HS_HEADER)
		return;
	buf_append(out, h->hold.s, h->hold.len);
	buf_reset(&h->hold);
	h->line_start = 0;
	h->need_blank = 0;
	h->state = HS_END;
}
