/* parse: the SMTP command parser of smtpd, free of I/O so that the unit
 * tests and the fuzz target (tests/fuzz/fuzz_smtp.c) can call it directly.
 * It splits a command line into verb and argument and parses the MAIL and
 * RCPT arguments: the path (common/addr.h) and the ESMTP parameters
 * (RFC 5321 4.1.2: SIZE of RFC 1870, BODY of RFC 6152, SMTPUTF8 of
 * RFC 6531; RET, ENVID, NOTIFY and ORCPT of RFC 3461).  Every failure comes back as the reply smtpd must send. */
#ifndef POSTHORN_SMTPD_PARSE_H
#define POSTHORN_SMTPD_PARSE_H

#include <stddef.h>
#include "buf.h"

enum smtp_verb {
	V_UNKNOWN, V_HELO, V_EHLO, V_MAIL, V_RCPT, V_DATA, V_RSET, V_NOOP,
	V_QUIT, V_VRFY, V_EXPN, V_HELP, V_NOTIMPL, V_STARTTLS, V_AUTH,
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;	/* after the verb and its space, trailing spaces trimmed */
	size_t arglen;
};

/* A reply: code 0 means success (no error). */
struct smtp_err {
	int code;
	const char *enh;
	const char *text;
};

struct mail_req {
	struct buf addr;		/* "" for the null sender */
	unsigned long long size;	/* SIZE=, 0 if absent */
	int body_8bit;			/* BODY=8BITMIME */
	int smtputf8;			/* SMTPUTF8 */
	struct buf ret;			/* RET=: "FULL", "HDRS" or empty */
	struct buf envid;		/* ENVID=, xtext decoded; empty if absent */
};

struct rcpt_req {
	struct buf addr;		/* "postmaster" alone for <postmaster> */
	int postmaster;			/* RCPT TO:<postmaster>, no domain */
	struct buf notify;		/* NOTIFY=, upper case; empty if absent */
	struct buf orcpt;		/* ORCPT= as "type;decoded"; empty if absent */
};

/* What the session allows while parsing. */
struct parse_opts {
	int esmtp;			/* EHLO given: parameters allowed */
	int smtputf8_offered;		/* SMTPUTF8 advertised */
	int smtputf8;			/* RCPT: the transaction has SMTPUTF8 */
	unsigned long long max_size;	/* SIZE= above this: 552 */
};

/* line: the command without its line end.  Returns 0, or -1 when the line
 * holds a NUL or a CR (then the reply is 500 5.5.2). */
int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd);
/* arg of MAIL ("FROM:<path> params") and RCPT ("TO:<path> params"). */
struct smtp_err smtp_parse_mail(const char *arg, size_t len,
				const struct parse_opts *o, struct mail_req *out);
struct smtp_err smtp_parse_rcpt(const char *arg, size_t len,
				const struct parse_opts *o, struct rcpt_req *out);
/* Decodes xtext (RFC 3461 4) into out: 0, or -1 when malformed or the
 * result is not printable ASCII. */
int xtext_decode(const char *s, size_t len, struct buf *out);
/* 1 if s is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);
/* HELO/EHLO argument: printable ASCII, at most 255 bytes: 1 ok, 0 bad. */
int smtp_helo_valid(const char *s, size_t len);

void mail_req_free(struct mail_req *m);
void rcpt_req_free(struct rcpt_req *r);

#endif
