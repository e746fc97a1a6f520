/* imapd.h: the modules of libexec/imapd, the IMAP mailbox stage (the
 * session after login): imapd.c (main: environment, greeting or hand-off
 * first line), session.c (command loop, states, untagged updates, IDLE),
 * the I/O-free parse.c (tags, atoms, strings, literals, lists, sequence
 * sets, dates) that tests/unit/test_imap_parse.c and tests/fuzz/fuzz_imap.c
 * call directly, and one file per command group: cmd_misc.c, folder_cmd.c,
 * fetch.c, store_cmd.c, search.c.  The store is reached only through
 * mbox.h.  Only imapd includes this. */
#ifndef POSTHORN_IMAPD_H
#define POSTHORN_IMAPD_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* ---- parse.c ---- */

#define IMAP_DEPTH_MAX 16	/* nesting of parenthesised lists */
#define IMAP_SEQ_MAX 4096	/* ranges in one sequence set */
#define IMAP_LITERAL_DIGITS 10	/* {n}: at most this many digits */

/* A command as one buffer: its lines and the literal bytes that follow
 * each "{n}" / "{n+}" line end, the last line end removed.  Strings are
 * (pointer, length) into that buffer; a quoted string is unescaped in
 * place, so the buffer is writable. */
struct imap_parser {
	char *s;
	size_t len, pos;
	int depth;		/* open '(' */
};
struct imap_str {
	char *p;
	size_t n;
};
/* A sequence set: ranges lo:hi as sent (0 stands for '*'). */
struct imap_range {
	unsigned long lo, hi;
};
struct imap_seqset {
	struct imap_range *r;
	size_t n;
};

void imap_p_init(struct imap_parser *p, char *s, size_t len);
int imap_p_peek(const struct imap_parser *p);	/* next byte or -1 */
int imap_p_end(const struct imap_parser *p);	/* 1 at the end */
/* Each returns 0 when the item was there (and consumes it), -1 if not. */
int imap_p_sp(struct imap_parser *p);
int imap_p_char(struct imap_parser *p, char c);
int imap_p_tag(struct imap_parser *p, struct imap_str *out);
int imap_p_atom(struct imap_parser *p, struct imap_str *out);
/* A keyword from a list (case-insensitive), e.g. "UID", "BODY.PEEK". */
int imap_p_word(struct imap_parser *p, const char *word);
int imap_p_string(struct imap_parser *p, struct imap_str *out);
int imap_p_astring(struct imap_parser *p, struct imap_str *out);
/* LIST's mailbox pattern: list-chars ('%' and '*' allowed) or a string. */
int imap_p_listmbox(struct imap_parser *p, struct imap_str *out);
/* NIL gives out->p NULL. */
int imap_p_nstring(struct imap_parser *p, struct imap_str *out);
/* A flag: "\Seen" style or a keyword atom. */
int imap_p_flag(struct imap_parser *p, struct imap_str *out);
int imap_p_number(struct imap_parser *p, unsigned long long *out);
int imap_p_nznumber(struct imap_parser *p, unsigned long *out);	/* 1..2^32-1 */
int imap_p_open(struct imap_parser *p);		/* '(' with depth check */
int imap_p_close(struct imap_parser *p);	/* ')' */
/* Sequence set (allocated: imap_seqset_free). */
int imap_p_seqset(struct imap_parser *p, struct imap_seqset *out);
void imap_seqset_free(struct imap_seqset *s);
/* True if v is in the set, '*' being star. */
int imap_seqset_has(const struct imap_seqset *s, unsigned long v, unsigned long star);
/* date: d-Mon-yyyy, optionally quoted: unix time of 00:00 UTC. */
int imap_p_date(struct imap_parser *p, long long *out);
/* date-time: "dd-Mon-yyyy hh:mm:ss +zzzz": unix time. */
int imap_p_datetime(struct imap_parser *p, long long *out);

/* If line (one line with its line end) ends in "{n}" or "{n+}": 1 and n,
 * sync = 1 for "{n}"; 0 if not; -1 if the number is malformed. */
int imap_line_literal(const char *line, size_t len, unsigned long long *n, int *sync);

/* System flag name ("\Seen", any case) -> MF_* bit; 0 if not one. */
unsigned imap_sysflag(const char *p, size_t n);
/* An atom usable as a keyword (no '\'). */
int imap_is_keyword(const char *p, size_t n);

/* Output helpers: an IMAP string (quoted when it can be, else a
 * literal), NIL for p == NULL; a date-time for INTERNALDATE. */
void imap_put_string(struct buf *out, const char *p, size_t n);
void imap_put_astring(struct buf *out, const char *p, size_t n);
void imap_put_datetime(struct buf *out, long long t);

#endif
