/* local.h: the pieces of libexec/local shared between its files: one
 * delivery request from qmgr (doc/design.md "qmgr <-> local"), its reply,
 * the socket side (request.c) and the delivery itself (deliver.c); the
 * skeleton they share with remote, and the worker pool, are
 * common/agent.c and common/agentpool.c. */
#ifndef POSTHORN_LOCAL_H
#define POSTHORN_LOCAL_H

#include <sys/types.h>
#include "buf.h"
#include "config.h"

/* One request packet: the records are small, so a packet bigger than
 * this is malformed rather than something to grow for. */
#define LOCAL_PACKET_MAX 8192
#define LOCAL_ID_MAX 64
#define LOCAL_ORCPT_MAX 1000

struct local_request {
	struct buf id;		/* N: echoed in the reply */
	struct buf qid;		/* Q */
	struct buf sender;	/* S: empty for <> */
	struct buf rcpt;	/* R */
	struct buf orcpt;	/* O: may be empty */
	unsigned long long off;	/* P: first message byte in the queue file */
	unsigned long long len;	/* L: message length */
	long long arrival;	/* T */
	unsigned long index;	/* X: the recipient's index in the queue file */
	int fd;			/* the queue file, read-only; -1 none */
};

struct local_reply {
	char status;		/* '2' delivered, '4' temporary, '5' permanent */
	struct buf text;	/* enhanced status code and text */
};

void request_init(struct local_request *rq);
void request_free(struct local_request *rq);	/* closes rq->fd */
/* Receives one packet.  Returns 1 with a well-formed request, 0 when the
 * socket is closed (qmgr gone), -1 when the packet is malformed: then
 * rq->id holds the request id if it could be read, and err the reason. */
int request_recv(int sock, struct local_request *rq, struct buf *err);
/* Sends the N, C, W reply packet: 0 ok, -1 errno. */
int reply_send(int sock, const struct buf *id, char status, const char *text, size_t len);

void reply_set(struct local_reply *rp, char status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Delivers one request (runs in a worker). */
void local_deliver(const struct config *cfg, const struct local_request *rq,
		   struct local_reply *rp);

#endif
