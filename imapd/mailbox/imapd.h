/* imapd.h: the modules of libexec/imapd, the IMAP mailbox stage (the
 * session after login): imapd.c (main: environment, greeting or hand-off
 * first line), session.c (command loop, states, untagged updates),
 * the I/O-free parse.c (tags, atoms, strings, literals, lists, sequence
 * sets, dates) that tests/unit/test_imap_parse.c and tests/fuzz/fuzz_imap.c
 * call directly, and one file per command group: misc.c (CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, NAMESPACE, CHECK, IDLE), folder_cmd.c,
 * fetch.c, store_cmd.c, search.c.  The store is reached only through
 * mbox.h.  Only imapd includes this. */
#ifndef POSTHORN_IMAPD_H
#define POSTHORN_IMAPD_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "imapfmt.h"
#include "mbox.h"

/* ---- parse.c ---- */

#define IMAP_DEPTH_MAX 16	/* nesting of parenthesised lists */
#define IMAP_SEQ_MAX 32768	/* ranges in one sequence set (a 64 KiB line) */
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

/* INTERNALDATE's date-time, quoted ("17-Jul-1996 09:44:25 +0000"). */
void imap_put_datetime(struct buf *out, long long t);

/* ---- the session (session.c) ---- */

#include "config.h"
#include "io.h"

#define IMAP_CAPS "IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE NAMESPACE ENABLE SPECIAL-USE " \
	"CHILDREN UNSELECT ID CONDSTORE QRESYNC ESEARCH"
#define IMAP_LINE_MAX 65536		/* command line, literal data not counted */
#define IMAP_LITERAL_MAX 65536		/* a literal outside APPEND */
#define IMAP_LITERALS_MAX 1000		/* literals in one command */
#define IMAP_PART_DEPTH 32		/* section part numbers: 1.2.3... */
#define IMAP_TIMEOUT_MS (30 * 60 * 1000)	/* RFC 3501 5.4 */

enum imap_state { IMAP_AUTH, IMAP_SELECTED, IMAP_LOGOUT };

struct mbox;
struct mbox_msg;

struct session {
	const struct config *cfg;
	const char *user, *root;	/* address, Maildir */
	struct io io;			/* io.out is where replies are built */
	enum imap_state state;
	struct mbox *mb;		/* the selected folder */
	int condstore;			/* CONDSTORE enabled (RFC 7162 3.1) */
	int qresync;			/* QRESYNC enabled: VANISHED, not EXPUNGE */
	long errors, max_errors;
	unsigned long long max_append;	/* max_message_size */
	struct buf cmd;			/* the current command, literals inline */
	struct imap_str tag;
	int uid;			/* the command is a UID command */
	int allow_expunge;		/* EXPUNGE responses allowed now */
	long sync_failed;		/* mbox_sync failures (logged once) */
	int done;			/* end the session */
};

int session_run(struct session *s);
/* Replies: the tag, status and text with CRLF.  session_bad counts an
 * error (too many end the session). */
void session_tagged(struct session *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_bad(struct session *s, const char *text);
void session_no_errno(struct session *s, const char *what, int err);
/* Ascending numbers as a set "a:b,c". */
void session_put_set(struct buf *o, const unsigned long *v, size_t n);
/* The expunges of up: "* n EXPUNGE" each, or one "* VANISHED uids"
 * under QRESYNC. */
void session_put_expunged(struct session *s, const struct mbox_update *up);
/* QRESYNC: "* VANISHED (EARLIER) uids" for the UIDs of set (below
 * UIDNEXT) that are not in the folder (none: nothing). */
void session_put_vanished(struct session *s, const struct imap_seqset *set);
/* Sends what changed in the selected folder (RFC 3501 7.4.1/5.5). */
void session_updates(struct session *s, int allow_expunge);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" of the folder. */
void session_put_flaglist(struct session *s);
/* "(\Seen \Recent kw ...)" of a message. */
void session_put_flags(struct session *s, const struct mbox_msg *m);
/* Flushes io.out when it has grown large (long FETCH responses). */
void session_maybe_flush(struct session *s);
/* The messages of a sequence set (UIDs when uid), sorted, unique:
 * 0 ok, -1 a number outside the folder (BAD). */
int session_seqs(struct session *s, const struct imap_seqset *set, int uid,
		 size_t **out, size_t *n);
/* Parses "(flag ...)" or a single flag into system flags and keywords
 * (created in the folder when create): 0 ok, -1 syntax, -2 bad keyword. */
int session_flags(struct session *s, struct imap_parser *p, int create,
		  unsigned *flags, uint32_t *kw);
/* A mailbox name argument as a C string (caller frees); NULL: syntax. */
char *session_mailbox(struct imap_parser *p);

/* Command handlers: p is just after the command name. */
typedef void imap_cmd_fn(struct session *s, struct imap_parser *p);
imap_cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable, cmd_namespace,
	cmd_idle, cmd_check;
imap_cmd_fn cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename, cmd_subscribe,
	cmd_unsubscribe, cmd_list, cmd_lsub, cmd_status, cmd_append, cmd_close,
	cmd_unselect, cmd_expunge;
imap_cmd_fn cmd_fetch;
imap_cmd_fn cmd_store, cmd_copy, cmd_move;
imap_cmd_fn cmd_search;

#endif
