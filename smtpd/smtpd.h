/* smtpd.h: the session state shared by smtpd's modules: session.c (the
 * command loop, replies, HELO/EHLO and the small commands), mail.c (MAIL,
 * RCPT and the recipient policy), data_cmd.c (DATA), enqueue_client.c (the
 * pipe to enqueue) and headers.c (the fields smtpd adds). */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"
#include "cidr.h"
#include "config.h"
#include "io.h"
#include "resolve.h"

struct limits {
	unsigned long long max_size, max_header;
	size_t line_max, data_line_max;
	long max_rcpt, max_errors, max_hops;
	int timeout_ms, data_timeout_ms, data_deadline_ms;
	long max_junk;
	unsigned error_delay;	/* seconds */
};

struct session {
	const struct config *cfg;
	struct limits lim;
	struct io io;
	int submission;		/* -m submission */
	const char *hostname, *domain;
	struct buf ip, rdns, helo;
	int esmtp, smtputf8_offered;
	/* the current transaction */
	int in_mail;
	struct buf from;
	struct buf *rcpts;
	size_t nrcpt, rcpt_cap;
	int rcpt_tried;		/* a RCPT was seen, even if refused */
	int body_8bit, smtputf8;
	struct buf dsn_mail;	/* DSN (RFC 3461): A ret=/envid= records for enqueue */
	struct buf *rcpt_dsn;	/* per rcpts[i]: its O and F records, parallel */
	/* policy, loaded on first use */
	struct resolver res;
	int res_state;		/* 0 not opened, 1 open, -1 failed */
	struct cidr_list relay;
	int relay_loaded;
	/* counters */
	long errors, messages, junk;
	int quit;
	struct buf tmp;		/* scratch for log_safe */
	/* AUTH (auth_cmd.c); kept across RSET and EHLO (RFC 4954 4) */
	struct buf auth_user;	/* the authenticated address; empty: none */
	long auth_failures;
	int auth_fd;		/* to the auth daemon; 0: none (fd 0 is the client) */
	/* TLS (starttls.c) */
	struct tls_server *tls;	/* NULL: no key, STARTTLS not offered */
	int tls_probed;		/* the first input was checked for a ClientHello */
	int tls_lazy;		/* key waiting on POSTHORN_TLS_FDS, loaded at STARTTLS */
};

/* session.c */
void session_init(struct session *s, const struct config *cfg, int submission);
void session_free(struct session *s);
void session_run(struct session *s);
void session_reset(struct session *s);
void reply(struct session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error reply: counted, delayed after a few, may end the session. */
void reply_error(struct session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *safe(struct session *s, const char *p, size_t n);

/* mail.c */
void cmd_mail(struct session *s, const char *arg, size_t len);
void cmd_rcpt(struct session *s, const char *arg, size_t len);

/* data_cmd.c */
void cmd_data(struct session *s, size_t arglen);

/* enqueue_client.c: the pipe protocol of doc/design.md */
struct enq {
	pid_t pid;		/* the enqueue process run; -1 on the socket */
	int sock;		/* talking to the queue writer on run_dir/enqueue.sock */
	struct io io;		/* rfd: enqueue's stdout, wfd: its stdin (one socket) */
	struct buf qid;
	int failed;		/* a write failed or timed out: enqueue is gone */
};
/* Starts enqueue and reads its queue id: 0 ok, -1 failure. */
int enq_start(struct enq *e, const struct config *cfg, int timeout_ms);
/* Queues one record; written out once 64 KiB are waiting. */
void enq_record(struct enq *e, char type, const void *p, size_t n);
void enq_flush(struct enq *e);
/* Writes E0:, reads the answer: 0 queued, else the SMTP reply for the
 * client (code, enhanced code, text) in reply. */
int enq_finish(struct enq *e, int *code, struct buf *enh, struct buf *text);
/* Closes the pipe without E0: (enqueue then queues nothing) and reaps. */
void enq_abort(struct enq *e);

/* starttls.c */
struct tls_server;
/* Loads the key (then drops root); implicit: the handshake of -m smtps.
 * -1: end the session (already logged). */
int starttls_setup(struct session *s, int implicit);
void starttls_free(struct session *s);
int starttls_offer(const struct session *s);
void cmd_starttls(struct session *s, size_t arglen);
int starttls_probe(struct session *s);	/* 0 go on, -1 close, -2 timeout */
void starttls_received(struct session *s, struct buf *out);

/* auth_cmd.c */
void cmd_auth(struct session *s, const char *arg, size_t len);
int auth_offered(const struct session *s);	/* AUTH in EHLO and allowed */
size_t auth_line_max(const struct session *s);	/* longest command line read */
void auth_wipe(struct buf *b);			/* zeroes all of b's memory */
void auth_free(struct session *s);

/* headers.c */
void hdr_received(struct session *s, const char *qid, struct buf *out);
void hdr_date(struct buf *out);
void hdr_message_id(struct session *s, const char *qid, struct buf *out);

#endif
