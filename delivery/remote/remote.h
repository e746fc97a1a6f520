/* remote.h: the pieces of libexec/remote shared between its files: one
 * delivery request from qmgr (doc/design.md "Remote delivery"), the socket
 * side (request.c), routing through DNS (route.c), the ESMTP client
 * (smtp.c), the message body on the wire (body.c) and the per-request
 * child processes (children.c); the skeleton they share with local is
 * common/agent.c. */
#ifndef POSTHORN_REMOTE_H
#define POSTHORN_REMOTE_H

#include <sys/types.h>
#include "buf.h"
#include "config.h"
#include "dns.h"
#include "io.h"

#define REMOTE_PACKET_MAX 262144
#define REMOTE_ID_MAX 64
#define REMOTE_RCPT_MAX 1000
#define REMOTE_XTEXT_MAX 1000	/* ORCPT, ENVID */

struct remote_rcpt {
	unsigned long index;	/* X */
	struct buf addr;	/* R */
	struct buf orcpt;	/* O: may be empty */
	struct buf notify;	/* F: may be empty */
	char status;		/* '2', '4', '5'; 0 = not yet decided */
	int dsn_passed;		/* accepted by a peer that offered DSN: it reports */
	struct buf text;	/* enhanced code and text for the reply */
};

struct remote_request {
	struct buf id, qid, sender, hop;	/* N Q S H */
	unsigned long long off, len;		/* P L */
	long long arrival;			/* T */
	int body8, smtputf8;			/* A body=8BITMIME, A smtputf8=1 */
	struct buf ret, envid;			/* A ret=, A envid= */
	struct remote_rcpt *rcpts;
	size_t nrcpts;
	int fd;			/* the queue file, read-only; -1 none */
	struct buf relay;	/* "host[ip]:port" of the last peer, for M */
};

void request_init(struct remote_request *rq);
void request_free(struct remote_request *rq);
/* 1 a well-formed request, 0 socket closed, -1 malformed (id and the
 * recipient indexes kept when readable, reason in err). */
int request_recv(int sock, struct remote_request *rq, struct buf *err);
/* Sends the reply packet: N, M, then X C W per recipient.  0 ok, -1. */
int reply_send(int sock, const struct remote_request *rq);
/* Sets the status of every recipient still undecided. */
void rcpt_set_all(struct remote_request *rq, char status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rcpt_set(struct remote_rcpt *r, char status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* route.c: the hosts to try, in order. */
struct target {
	char name[DNS_NAME_MAX + 1];
	struct dns_addr addr;
	int port;
};
#define ROUTE_TARGETS_MAX 64
/* 0 with targets, or -1 with every recipient decided (5.1.2, 5.1.10,
 * 4.4.3). */
int route_targets(struct remote_request *rq, struct target *t, size_t max, size_t *n);
/* The domain the TLS policy and SMTPUTF8 checks are keyed on. */
void route_domain(const struct remote_request *rq, struct buf *out);

/* smtp.c: one delivery attempt to one address.  Returns 0 when the
 * recipients' fate is known (all decided), 1 "try the next address" (the
 * recipients keep a temporary status as the last reason). */
enum tls_policy { TLSP_NONE, TLSP_MAY, TLSP_ENCRYPT, TLSP_VERIFY };
int smtp_deliver(const struct config *cfg, struct remote_request *rq, const struct target *t,
		 enum tls_policy pol, int tls_allowed);

/* body.c: streams L bytes from offset P as SMTP DATA: CRLF, dot-stuffing,
 * optionally converted to 7-bit quoted-printable. 0 ok, -1 read error
 * (reason in err), -2 write error/timeout. */
int body_send(struct io *io, int fd, unsigned long long off, unsigned long long len,
	      int convert_qp, struct buf *err);
/* Whether the message bytes hold any byte >= 0x80. -1 on read error. */
int body_is_8bit(int fd, unsigned long long off, unsigned long long len);

/* Children: one per request (the table is common/agent.c's); a child
 * that dies without answering has its request answered (4.3.0) by the
 * parent. */
void children_init(size_t max);
void children_add(pid_t pid, const struct remote_request *rq);

#endif
