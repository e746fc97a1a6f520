/* pop3d.h: the modules of libexec/pop3d, the POP3 mailbox stage: pop3d.c
 * (main: environment, maildrop lock), session.c (TRANSACTION commands and
 * replies), store.c (the message list, sending messages, UPDATE) and the
 * I/O-free parse.c (command lines, message numbers, the CRLF/dot-stuffing
 * encoder) that tests/unit/test_pop3.c and tests/fuzz/fuzz_pop3.c call
 * directly.  Only pop3d includes this. */
#ifndef POSTHORN_POP3D_H
#define POSTHORN_POP3D_H

#include <stddef.h>
#include "buf.h"
#include "config.h"
#include "io.h"
#include "uidlist.h"

/* ---- parse.c ---- */
struct pop3_cmd {
	char name[5];		/* upper case, NUL-terminated */
	const char *arg;	/* after the first space, line end removed */
	size_t alen;
	int has_arg;
};

/* Splits a command line (with or without its CRLF): 0 ok, -1 malformed
 * (empty, keyword not 1..4 letters, NUL or bare CR inside). */
int pop3_parse(const char *line, size_t len, struct pop3_cmd *c);
/* A message number 1..max as the whole of s: 0 ok, -1 not one. */
int pop3_msgnum(const char *s, size_t n, size_t max, size_t *out);
/* "n m" for TOP: 0 ok, -1 malformed. */
int pop3_two_args(const char *s, size_t n, const char **a, size_t *alen,
		  const char **b, size_t *blen);

/* Turns stored message bytes into what RETR/TOP send: LF -> CRLF (an
 * existing CRLF is kept), '.' at a line start doubled, and for TOP the
 * output stops after the header and body_lines body lines. */
struct pop3_enc {
	int bol;		/* at the beginning of a line */
	int prev_cr;
	int in_body;
	int line_empty;		/* the current line has had only a CR so far */
	long long body_lines;	/* < 0: no limit */
	int done;		/* TOP limit reached: ignore the rest */
};
void pop3_enc_init(struct pop3_enc *e, long long body_lines);
void pop3_encode(struct pop3_enc *e, const char *p, size_t n, struct buf *out);
/* Ends the multi-line reply: CRLF if the last line had none, ".CRLF". */
void pop3_enc_finish(struct pop3_enc *e, struct buf *out);

/* ---- store.c ---- */
struct pop3_msg {
	unsigned long uid;
	unsigned long long size;
	int deleted;
};

struct store {
	struct uidlist list;
	struct pop3_msg *msgs;	/* the maildrop as it was at login */
	size_t n;
	unsigned long uidvalidity;
};

/* Reads (and brings up to date) the folder's list: 0 ok, -1 errno. */
int store_open(struct store *st, const char *maildir);
void store_close(struct store *st);
/* Totals of the messages not marked deleted. */
void store_stat(const struct store *st, size_t *count, unsigned long long *octets);
/* Sends message i (0-based) to io as a multi-line reply after "+OK";
 * body_lines < 0: all of it (RETR).  0 ok; -1 the message cannot be read
 * (nothing sent yet: the caller answers -ERR); -2 the connection failed. */
int store_send(struct store *st, size_t i, long long body_lines, struct io *io);
/* UPDATE: removes the messages marked deleted and adjusts the quota:
 * 0 ok, -1 some could not be removed (errno). */
int store_update(struct store *st, long long *removed);

/* ---- session.c ---- */
struct session {
	const struct config *cfg;
	struct io io;
	struct store st;
	const char *user;
	size_t line_max;
	long errors, max_errors;
	unsigned long long commands, max_commands;
	int quit;
};

/* Runs the TRANSACTION state until QUIT (then UPDATE), EOF, an error or
 * the timeout.  Returns the exit code. */
int session_run(struct session *s);

#endif
