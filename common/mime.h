/* mime: MIME structure of a message in memory (RFC 2045-2047, 2231, 5322)
 * and what IMAP makes of it (RFC 3501 7.4.2): BODYSTRUCTURE, BODY,
 * ENVELOPE, BODY[section]<partial>, and the decoding SEARCH needs.  Used by
 * imapd (FETCH, SEARCH, the cache of envelope and body structure) and the
 * unit tests and fuzzer.
 *
 * The message is given as bytes in memory (imapd mmaps the file); it is
 * never modified or read out of bounds, and every pass is linear.  IMAP
 * shows a message with CRLF line ends: every size, line count and partial
 * offset here is in those octets (a bare LF counts 2, as uidlist_crlf_count
 * does), and a message whose last line has no line end is presented with
 * one (as uidlist and pop3d count it), so RFC822.SIZE, BODY[] and the
 * sizes in BODYSTRUCTURE always agree.
 *
 * The parse builds an array of parts (no per-part allocation): part 0 is
 * the whole message.  A multipart has its parts as children; a
 * message/rfc822 part has exactly one child, the encapsulated message
 * (header and body), whose own children follow the same rules.  Limits:
 * MIME_DEPTH_MAX levels (a deeper part is a leaf: its body is opaque),
 * MIME_PARTS_MAX parts (the rest of a multipart that would need more is
 * its epilogue), MIME_HEADER_MAX bytes of each part's header are looked at.
 * Malformed input gets the structure Dovecot gives it: a missing boundary
 * makes a multipart with one empty text/plain part, a boundary never
 * closed ends at the end of the enclosing part, a header without a blank
 * line ends at the first line that is not a field, the first Content-Type
 * wins. */
#ifndef POSTHORN_MIME_H
#define POSTHORN_MIME_H

#include <stddef.h>
#include <time.h>
#include "buf.h"

#define MIME_DEPTH_MAX 32
#define MIME_PARTS_MAX 10000
#define MIME_HEADER_MAX (256 * 1024)
/* RFC 2046 allows 70; a longer boundary is cut to this many bytes (as
 * Dovecot does), and still matches since boundary lines match by prefix. */
#define MIME_BOUNDARY_MAX 80

enum mime_kind {
	MIME_LEAF = 0,
	MIME_MULTIPART,
	MIME_MESSAGE,		/* message/rfc822: one child, the message */
};

/* Offsets are into the message bytes; sizes and line counts are in CRLF
 * octets as IMAP presents them. */
struct mime_part {
	size_t hdr, hdr_len;	/* header, with the blank line that ends it */
	size_t body, body_len;
	unsigned long long hdr_size, body_size;	/* CRLF octets */
	unsigned long long body_lines;		/* line ends in the body */
	int kind;		/* enum mime_kind */
	int parent, child, next;	/* part indexes; -1: none */
	int depth;		/* 0 for the message itself */
	int digest;		/* multipart/digest: children default to message/rfc822 */
	size_t bound, bound_len;	/* multipart: boundary (in mime_msg.strings) */
	int closed;		/* multipart: close delimiter seen (or no boundary) */
	int opaque;		/* below MIME_DEPTH_MAX: a multipart or message
				 * shown as application/octet-stream */
	/* bookkeeping of the parse */
	int last;		/* last child so far */
	unsigned long long lf0, bare0;	/* line ends before the body */
};

struct mime_msg {
	const char *s;
	size_t len;
	int add_lf;		/* no line end at the end: presented with one */
	struct mime_part *parts;
	size_t n, cap;
	struct buf strings;	/* boundaries */
};

/* Parses s[0..len) (the memory must stay valid while m is used).  Never
 * fails: any bytes give a structure. */
void mime_parse(struct mime_msg *m, const char *s, size_t len);
void mime_free(struct mime_msg *m);

/* ---- IMAP output (mime_imap.c) ---- */

/* BODYSTRUCTURE (extensible = 1) or BODY (0) of part i (0: the message),
 * exactly as Dovecot writes it.  Appended to out. */
void mime_bodystructure(const struct mime_msg *m, int i, int extensible, struct buf *out);
/* ENVELOPE, in its parentheses, of the message whose header is part i's
 * header (part 0, or the child of a message/rfc822 part). */
void mime_envelope(const struct mime_msg *m, int i, struct buf *out);
/* ENVELOPE from a header block alone. */
void mime_envelope_header(const char *hdr, size_t len, struct buf *out);

/* ---- sections (mime_section.c) ----
 * A section's bytes are a list of views (into the message, or static
 * strings such as the blank line that ends HEADER.FIELDS), sent with every
 * bare LF as CRLF.  imapd gets the total size first (the literal's {n}),
 * then writes or streams the bytes; a 50 MB body is never copied before it
 * is sent. */
struct mime_view {
	const char *p;
	size_t len;
};

struct mime_section {
	struct mime_view *v;
	size_t n, cap;
	unsigned long long size;	/* CRLF octets of all views */
	int found;		/* 0: the section does not exist (empty) */
};

enum {
	MIME_SEC_OK = 0,
	MIME_SEC_SYNTAX = -1,	/* not a section spec: BAD */
};

/* Resolves a section spec as it appears between the brackets of
 * BODY[...] ("", "HEADER", "1.2.MIME", "HEADER.FIELDS (A B)", ...,
 * case-insensitive) to its views.  A section that does not exist is
 * MIME_SEC_OK with found = 0 and no bytes (RFC 3501: an empty string).
 * Returns MIME_SEC_SYNTAX for a malformed spec. */
int mime_section_get(const struct mime_msg *m, const char *spec, size_t len,
		     struct mime_section *sec);
void mime_section_free(struct mime_section *sec);

/* Octets a partial <start.count> yields (count = ULLONG_MAX: to the end). */
unsigned long long mime_section_partial_size(const struct mime_section *sec,
					     unsigned long long start,
					     unsigned long long count);
/* Writes the CRLF form of octets [start, start+count) of the section
 * (a NUL byte is sent as 0x80, as Dovecot does: literals cannot carry
 * NUL). */
void mime_section_write(const struct mime_section *sec, unsigned long long start,
			unsigned long long count, struct buf *out);
/* The same in pieces: fn gets each converted chunk (at most about 64 KiB);
 * a nonzero return from fn stops and is returned. */
int mime_section_stream(const struct mime_section *sec, unsigned long long start,
			unsigned long long count,
			int (*fn)(const char *p, size_t n, void *ctx), void *ctx);

/* The part that a section number path ("1.2.3", without a text part)
 * names: its index, or -1.  A non-multipart message's part 1 is itself. */
int mime_part_by_path(const struct mime_msg *m, const char *path, size_t len);

/* ---- search helpers (mime_decode.c) ---- */

/* First field called name in a header block, unfolded (CRLF before
 * whitespace removed, surrounding whitespace trimmed): 1 found, 0 not. */
int mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out);
/* RFC 2047 encoded words of a header value decoded to UTF-8 (charsets via
 * iconv; an unknown charset or a broken word is kept as it is; white
 * space between adjacent encoded words is dropped).  Appended to out. */
void mime_decode_words(const char *s, size_t len, struct buf *out);
/* Content-Transfer-Encoding of a leaf body undone: base64 and
 * quoted-printable are decoded (bad bytes skipped / kept), anything else
 * copied.  enc may be NULL (7bit).  Appended to out. */
void mime_decode_body(const char *enc, size_t enclen, const char *s, size_t len,
		      struct buf *out);
/* The part's body decoded for SEARCH BODY/TEXT: transfer-decoded, and
 * text in a known charset converted to UTF-8.  Leaves only; appended. */
void mime_part_text(const struct mime_msg *m, int i, struct buf *out);
/* Case-insensitive substring search (ASCII letters folded only: UTF-8
 * bytes >= 0x80 must match exactly).  1 found, 0 not.  An empty needle is
 * always found. */
int mime_search(const char *hay, size_t hlen, const char *needle, size_t nlen);
/* RFC 5322 date-time (with the obsolete forms: two-digit years, zone
 * names, missing seconds or weekday) to time_t: 0 ok, -1 unparseable.
 * *tzoff gets the zone offset in seconds east of UTC (may be NULL). */
int mime_parse_date(const char *s, size_t len, time_t *t, int *tzoff);

#endif
