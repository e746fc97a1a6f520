/* mime_int: what the files of the MIME module (mime.c, mime_lex.c,
 * mime_imap.c, mime_addr.c, mime_section.c, mime_decode.c) share and nobody
 * else needs: the RFC 822/2045 lexer, Content-* field parsing with RFC 2231
 * parameters, and the address list parser.  The rules follow Dovecot's
 * lib-mail (rfc822-parser, rfc2231-parser, message-address) so that our
 * BODYSTRUCTURE and ENVELOPE match its output. */
#ifndef POSTHORN_MIME_INT_H
#define POSTHORN_MIME_INT_H

#include <stddef.h>
#include "buf.h"
#include "mime.h"

#define MIME_PARAMS_MAX 256		/* more parameters are ignored */
#define MIME_VALUE_MAX (64 * 1024)	/* a longer field value is cut */

/* A cursor over an unfolded field value. */
struct mime_lex {
	const unsigned char *p, *end;
	struct buf *comment;	/* when set: gets the text of the last comment */
};

void mime_lex_init(struct mime_lex *x, const char *s, size_t len);
/* Skips white space and (nested) comments: 1 more data, 0 at the end, -1
 * an unterminated comment. */
int mime_lex_skip(struct mime_lex *x);
/* MIME token (RFC 2045 with '.'): appended; returns mime_lex_skip(). */
int mime_lex_token(struct mime_lex *x, struct buf *out);
/* Quoted string at '"': its content appended; -1 unterminated, else
 * mime_lex_skip(). */
int mime_lex_quoted(struct mime_lex *x, struct buf *out);
/* 1*atext: -1 if none, else mime_lex_skip(). */
int mime_lex_atom(struct mime_lex *x, struct buf *out);
/* dot-atom (obsolete CFWS around dots allowed). */
int mime_lex_dot_atom(struct mime_lex *x, struct buf *out);
/* phrase: words (atoms, quoted strings, and obsolete dots) joined by one
 * space: -1 bad, 0 end, 1 more data (as Dovecot's rfc822_parse_phrase). */
int mime_lex_phrase(struct mime_lex *x, struct buf *out);
int mime_lex_at(const struct mime_lex *x, char c);

/* A NUL byte in a header value is shown as U+FFFD (as Dovecot does); in
 * section bytes it is sent as 0x80 (a literal cannot carry NUL). */
#define MIME_NUL_REPLACEMENT "\xef\xbf\xbd"

/* An unfolded field value with NUL bytes as MIME_NUL_REPLACEMENT, at most
 * MIME_VALUE_MAX bytes of the field looked at. */
void mime_value(const char *v, size_t n, struct buf *out);

/* Parameters, in the order Dovecot writes them: plain ones as they come,
 * then RFC 2231 ones merged (continuations joined, key "name*" kept
 * encoded when any piece was extended). */
struct mime_kv {
	size_t k, klen, v, vlen;	/* offsets into text */
};
struct mime_params {
	struct buf text;
	struct mime_kv *kv;
	size_t n, cap;
};
void mime_params_parse(struct mime_lex *x, struct mime_params *ps);
void mime_params_free(struct mime_params *ps);
/* The value of the first parameter called name, or NULL. */
const char *mime_params_get(const struct mime_params *ps, const char *name, size_t *len);

/* The Content-* fields of one part, as Dovecot's message_part_data. */
struct mime_fields {
	int have_type;		/* a usable Content-Type was seen */
	struct buf type, subtype;
	struct mime_params params;
	int have_id, have_desc, have_enc, have_md5, have_disp, have_loc;
	struct buf id, desc, enc, md5, disp, loc;
	struct mime_params disp_params;
	struct buf lang;	/* languages, each NUL-terminated */
	size_t nlang;
};
void mime_fields_init(struct mime_fields *f);
void mime_fields_free(struct mime_fields *f);
/* Reads the Content-* fields of a header block (first of each wins). */
void mime_fields_read(struct mime_fields *f, const char *hdr, size_t len);
/* The fields of part i as BODYSTRUCTURE and SEARCH use them. */
void mime_part_fields(const struct mime_msg *m, int i, struct mime_fields *f);
/* Content-Type alone: type/subtype and parameters (for the parse). */
void mime_ctype_read(const char *v, size_t n, struct mime_fields *f);

/* The fields of a part's header (mime_hdr.c), as Dovecot reads them: a
 * blank line ends the header; a line without a colon is a field without
 * a value whose name is the line (*no_colon set). */
#include "header.h"
struct mime_hiter {
	const char *s;
	size_t len, off;
};
void mime_hiter_init(struct mime_hiter *it, const char *s, size_t len);
int mime_hiter_next(struct mime_hiter *it, struct header_field *f, int *no_colon);
/* First field called name (with a colon): 1 found, 0 not. */
int mime_hfind(const char *hdr, size_t len, const char *name, struct header_field *f);
/* 1 if a header block ends with its blank line. */
int mime_hdr_blank(const char *hdr, size_t len);

/* Header block of part i, bounded by MIME_HEADER_MAX. */
size_t mime_hdr_len(const struct mime_part *p);

/* The addresses of an address list field (mime_addr.c) appended as IMAP
 * addresses "(name route mailbox host)" without the list's parentheses
 * (a field given twice adds to the list, as in Dovecot); and the "for
 * humans" string form of subjects and names. */
void mime_addr_write(const char *v, size_t n, struct buf *out);
void mime_human_string(const char *s, size_t n, struct buf *out);
/* A string field: CR and LF removed, NIL when absent. */
void mime_nstring(const char *s, size_t n, struct buf *out);

#endif
