/* login.h: the modules of libexec/imapd-login, the IMAP login stage:
 * main.c (setup), command.c (reading one command with its literals,
 * bounded), parse.c (the I/O-free parser of those bytes: tag, atoms,
 * astrings, strings), session.c (the not-authenticated state: CAPABILITY,
 * NOOP, LOGOUT, STARTTLS, ID, LOGIN, AUTHENTICATE) and auth.c (a login
 * attempt, the hand-off to imapd and its tagged answer).  TLS, the auth
 * daemon request and the relay are common/loginstage.c, shared with
 * pop3d-login.  Only imapd-login includes this. */
#ifndef POSTHORN_IMAP_LOGIN_H
#define POSTHORN_IMAP_LOGIN_H

#include "buf.h"
#include "loginstage.h"

#define IMAP_CMD_MAX 8192	/* a command line with its literals (design.md) */
#define IMAP_NONSYNC_MAX 4096	/* a larger {n+} literal ends the session */
#define IMAP_LITS_MAX 8		/* literals in one command */
#define IMAP_SASL_LINE_MAX 8192	/* one AUTHENTICATE response line */
#define IMAP_LOGIN_MAX_COMMANDS 100
#define IMAP_LOGIN_TIMEOUT 180	/* seconds idle before a login */
#define IMAP_RELAY_TIMEOUT (35 * 60)	/* longer than imapd's 30 min autologout */

/* One command as read: lines (without CRLF) and the literals between
 * them; line[i] ends with the {n} or {n+} that announced lit[i]. */
struct imap_cmd {
	struct buf line[IMAP_LITS_MAX + 1];
	struct buf lit[IMAP_LITS_MAX];
	size_t nlit;
	size_t total;
};

/* command.c results */
enum {
	CMD_OK = 0,
	CMD_EOF = -1,		/* closed or timed out: end the session */
	CMD_TOOLONG = -2,	/* over IMAP_CMD_MAX: BAD, go on */
	CMD_BIGLIT = -3,	/* a synchronising literal over the limit: BAD, go on */
	CMD_NONSYNC_BIG = -4,	/* a {n+} over IMAP_NONSYNC_MAX: BYE */
	CMD_LITERALS = -5,	/* more than IMAP_LITS_MAX literals: BAD, go on */
};

struct imap_login {
	struct login_client c;	/* config, io, TLS, client address, auth connection */
	int implicit;		/* -s: imaps, TLS from the first byte */
	long errors, max_errors, commands;
	long failures, max_failures;
	int done;
};

/* command.c: reads one command; a synchronising literal is answered with
 * a "+" continuation first.  On CMD_TOOLONG/CMD_BIGLIT/CMD_LITERALS the
 * first line (for the tag) is kept in cmd->line[0]. */
int cmd_read(struct imap_login *l, struct imap_cmd *cmd);
void cmd_clear(struct imap_cmd *cmd);	/* wipes (passwords) and empties */
void cmd_free(struct imap_cmd *cmd);
/* The size of a literal announced at the end of line ("{12}" or "{12+}"):
 * 1 found, 0 none.  Used by cmd_read and the parser. */
int cmd_literal_suffix(const char *s, size_t n, size_t *size, int *nonsync, size_t *start);

/* parse.c: a cursor over a command's lines and literals. */
struct imap_cur {
	const struct imap_cmd *cmd;
	size_t seg, pos;
};
void cur_init(struct imap_cur *p, const struct imap_cmd *cmd);
int p_tag(struct imap_cur *p, struct buf *tag);	/* 0 ok, -1 malformed */
int p_sp(struct imap_cur *p);
int p_atom(struct imap_cur *p, struct buf *atom);
int p_astring(struct imap_cur *p, struct buf *out);
int p_string(struct imap_cur *p, struct buf *out);	/* quoted or literal */
int p_nstring(struct imap_cur *p, struct buf *out, int *is_nil);
int p_char(struct imap_cur *p, char c);	/* 0 if the next byte is c (consumed) */
int p_end(const struct imap_cur *p);	/* 1 at the end of the command */

/* session.c */
void session_run(struct imap_login *l);
void tagged(struct imap_login *l, const struct buf *tag, const char *text);
void untagged(struct imap_login *l, const char *text);

/* auth.c: checks the credentials; on success imapd's first line is the
 * tagged answer and the session is relayed until it ends (l->done set).
 * Wipes password. */
void login_attempt(struct imap_login *l, const struct buf *tag, const char *authzid,
		   const char *authcid, struct buf *password);

#endif
