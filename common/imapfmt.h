/* imapfmt: the IMAP output syntax (RFC 3501 section 9) written into a
 * struct buf: atoms, quoted strings, literals, NIL, parenthesised lists.
 * A string is sent quoted when it can be (no CR, LF, NUL or 8-bit byte,
 * and at most IMAPFMT_ESCAPES_MAX quotes and backslashes), else as a
 * literal {n}\r\n...: the rule Dovecot follows, so that our output can be
 * compared with its byte for byte.  Used by imapd for
 * everything it emits and by common/mime.c for ENVELOPE and BODYSTRUCTURE. */
#ifndef POSTHORN_IMAPFMT_H
#define POSTHORN_IMAPFMT_H

#include <stddef.h>
#include "buf.h"

/* A string with more quotes and backslashes than this is sent as a
 * literal (Dovecot's rule: escaping a lot makes it hard to read). */
#define IMAPFMT_ESCAPES_MAX 4

/* 1 if s can be sent as a quoted string. */
int imapfmt_quotable(const char *s, size_t n);
/* 1 if s is a non-empty ATOM (RFC 3501 atom: no atom-specials). */
int imapfmt_is_atom(const char *s, size_t n);

/* string: "..." with \ and " escaped, or {n}\r\n followed by the bytes. */
void imapfmt_string(struct buf *out, const char *s, size_t n);
void imapfmt_string_c(struct buf *out, const char *s);
/* nstring: NIL when s is NULL, else a string. */
void imapfmt_nstring(struct buf *out, const char *s, size_t n);
/* astring: bare when it is 1*ASTRING-CHAR (atom characters and ']') and
 * not "NIL", else a string. */
void imapfmt_astring(struct buf *out, const char *s, size_t n);
/* literal: always {n}\r\n + bytes. */
void imapfmt_literal(struct buf *out, const char *s, size_t n);
void imapfmt_nil(struct buf *out);

/* A parenthesised list: items are separated by one space.
 *     struct imapfmt_list l;
 *     imapfmt_list_open(&l, out);
 *     imapfmt_list_item(&l); imapfmt_string(out, ...);
 *     imapfmt_list_close(&l);
 * imapfmt_list_item writes the separator (nothing before the first). */
struct imapfmt_list {
	struct buf *out;
	size_t items;
};
void imapfmt_list_open(struct imapfmt_list *l, struct buf *out);
struct buf *imapfmt_list_item(struct imapfmt_list *l);
void imapfmt_list_close(struct imapfmt_list *l);

#endif
