/* auth.h: the modules of libexec/auth: main.c (accept loop, a child per
 * connection), conn.c (one client connection: requests and answers),
 * verify.c (passwd.cdb and crypt(3)), throttle.c (failures per client IP
 * in memory shared by all children) and handoff.c (the mailbox stage). */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include "buf.h"
#include "config.h"

/* Bounds of the request records (doc/design.md, common/authclient.h). */
#define AUTH_USER_MAX 256
#define AUTH_PASS_MAX 1024
#define AUTH_IP_MAX 64
#define AUTH_SERVICE_MAX 16

struct auth_req {
	struct buf service, ip, user, authzid, password, mbox;
	int have_mbox;		/* X record present */
	int fd;			/* passed with SCM_RIGHTS, or -1 */
};

/* conn.c: serves one connection on fd until EOF, error or idle timeout. */
void conn_serve(const struct config *cfg, int fd);

/* verify.c */
void verify_init(void);	/* makes the dummy hash for unknown users */
/* 2 right, 5 wrong (or unknown user), 4 table error; canonical address
 * (lowercased) into user on success. */
int verify_password(const struct config *cfg, const struct auth_req *r, struct buf *user);

/* throttle.c */
int throttle_init(void);	/* before the first fork: 0 ok, -1 */
/* Records a failure from ip; returns the seconds to wait before answering. */
unsigned throttle_fail(const char *ip, size_t len, unsigned base_delay);

/* handoff.c: passes the verified session fd to the mailbox stage:
 * 0 ok, -1 temporary failure (text in err). */
int mailbox_handoff(const struct config *cfg, const struct auth_req *r,
		    const struct buf *user, struct buf *err);

#endif
