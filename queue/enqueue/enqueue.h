/* enqueue.h: the state shared by enqueue's parts: enqueue.c (setup, the
 * temporary file, commit), envelope.c (reading and checking the client's
 * records, alias expansion, writing the queue file body) and daemon.c
 * (enqueue -d: the same protocol for each connection to enqueue.sock). */
#ifndef POSTHORN_ENQUEUE_H
#define POSTHORN_ENQUEUE_H

#include <sys/types.h>
#include "buf.h"
#include "config.h"
#include "io.h"
#include "qfile.h"
#include "resolve.h"

struct enq {
	const struct config *cfg;
	int fd;			/* the temporary queue file */
	struct buf file;	/* bytes not yet written to fd */
	off_t written;		/* bytes already written */
	off_t msg_hdr_off;	/* offset of the M record header, -1 before */
	unsigned long long msg_len;
	char qid[QID_MAX + 1];
	struct buf sender;
	struct resolver res;
	struct resolve_list rcpts;	/* final recipients, de-duplicated */
	struct buf *origs;		/* original recipient of each, parallel */
	struct buf *notifies;		/* DSN NOTIFY (F record) of each, parallel */
	size_t norig;
	unsigned long long nrcpt_in;	/* R records received (before expansion) */
	uid_t caller;		/* the real uid of whoever ran us, saved first */
	int trusted;		/* caller is root, the queue user or user_smtpd:
				 * only then are client/helo/proto/auth kept */
};

/* Ends the process: removes the temporary file, writes
 * "error <reply>\n" to the client and exits with code (1 or 111). */
void enq_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Queues bytes for the file, writing when the buffer is large. */
void enq_put(struct enq *e, const void *p, size_t n);
void enq_flush(struct enq *e);
/* Reads the client's records up to E0: and writes the queue file body
 * (everything after the V, I and T records), message length patched. */
void envelope_read(struct enq *e, struct io *in);

/* The queue directory and its tmp/ and incoming/ subdirectories. */
struct qdirs {
	int q, tmp, inc;
};
int qdirs_open(const struct config *cfg, struct qdirs *q);	/* 0, -1 errno */
/* May caller (a uid) vouch for the trace attributes client, helo, proto
 * and auth? */
int caller_trusted(const struct config *cfg, uid_t caller);
/* One message: records on fd 0, the queue id and the answer on fd 1.
 * Returns once it is queued; every failure ends the process (enq_fail). */
void enqueue_one(const struct config *cfg, uid_t caller, int trusted, const struct qdirs *q);
/* enqueue -d: serves the listening socket on fd 3 until SIGTERM. */
int enqueue_daemon(const struct config *cfg, const struct qdirs *q);

#endif
