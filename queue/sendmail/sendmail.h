/* sendmail.h: shared by sendmail.c (options, recipients, the pipe to
 * enqueue) and message.c (reading stdin, the header edits). */
#ifndef POSTHORN_SENDMAIL_H
#define POSTHORN_SENDMAIL_H

#include "buf.h"
#include "config.h"

/* sysexits.h values, spelled out where they are used */
#define EX_OK_ 0
#define EX_USAGE_ 64
#define EX_DATAERR_ 65
#define EX_NOUSER_ 67
#define EX_SOFTWARE_ 70
#define EX_OSERR_ 71
#define EX_TEMPFAIL_ 75
#define EX_NOPERM_ 77
#define EX_CONFIG_ 78

struct rcpts {
	struct buf *v;
	size_t n, cap;
};

struct msg {
	struct buf header;	/* the fields, edited, each ending in LF */
	struct buf body;	/* after the blank line */
};

/* Prints "sendmail: ..." to stderr and exits with code. */
void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Adds one address (qualified with domain when it has no '@'). */
void rcpts_add(struct rcpts *r, const char *a, size_t n, const char *domain);
/* Reads stdin (CRLF to LF; a lone "." ends it unless dot_ok) into m,
 * at most max bytes. */
void message_read(struct msg *m, int dot_ok, size_t max);
/* -t: adds the To/Cc/Bcc addresses; removes every Bcc field. */
void message_take_rcpts(struct msg *m, struct rcpts *r, const char *domain);
/* Adds From:, Date:, Message-ID: when missing. */
void message_add_headers(struct msg *m, const char *sender, const char *fullname,
			 const char *host);
/* RFC 5322 date of now. */
void date_now(struct buf *out);

#endif
