/* mailboxd.h: the modules of libexec/mailboxd, the mailbox spawner:
 * mailboxd.c (main, accept loop) and spawn.c (one hand-off from the auth
 * daemon: request, user lookup, fork+exec of the mailbox stage).  The
 * hand-off protocol is in doc/design.md "Login and mailbox stages"; its
 * client is auth/handoff.c.  Only mailboxd includes this. */
#ifndef POSTHORN_MAILBOXD_H
#define POSTHORN_MAILBOXD_H

#include "buf.h"
#include "config.h"

#define MBOX_REQ_MAX 1024	/* one request packet */
#define MBOX_RECV_TIMEOUT_MS 10000

struct mbox_req {
	struct buf service, user, ip;
	int fd;			/* the session fd, or -1 */
};

/* Parses a request packet's records (Q, U, I, E): 0 ok, -1 malformed. */
int mbox_parse(const char *p, size_t n, struct mbox_req *r);
void mbox_req_free(struct mbox_req *r);
/* Serves one connection from the auth daemon: reads the request, starts
 * the mailbox stage, answers C2 or C4. */
void mbox_serve(const struct config *cfg, int conn);

#endif
