/* authclient: asks the auth daemon (auth/, running as user_auth, the only
 * process that reads passwd.cdb) whether a password is right.  Used by
 * smtpd (AUTH) and the pop3/imap login stages.  The daemon delays failed
 * answers and counts failures per client IP itself, so a client cannot
 * guess faster by opening more connections.
 *
 * Wire protocol on run_dir/auth.sock (SOCK_STREAM, records of
 * common/record.h), one request and one answer at a time, any number per
 * connection:
 *   request: Q<service: smtp|pop3|imap>  I<client ip>  U<authcid>
 *            Z<authzid, may be empty>  P<password>  E0:
 *   answer:  C<2 ok | 5 wrong credentials | 4 temporary failure>
 *            U<canonical address, lowercased, on success>  W<text>  E0:
 * A login stage that wants a mailbox opened passes, with the request, one
 * end of a socketpair as SCM_RIGHTS and adds  X<mailbox service: pop3|imap>;
 * on success the daemon hands that fd and the verified address to the
 * mailbox spawner (doc/design.md "Login and mailbox stages"). */
#ifndef POSTHORN_AUTHCLIENT_H
#define POSTHORN_AUTHCLIENT_H

#include "buf.h"
#include "config.h"

struct auth_result {
	int code;		/* 2, 4 or 5 */
	struct buf user;	/* canonical address on success */
	struct buf text;
};

/* Connects (once per session, kept open): 0 ok, -1 (result 4). */
int auth_connect(int *fd, const struct config *c);
/* One verification; mailbox_fd >= 0 also asks for the mailbox stage for
 * service mbox_service.  Always fills r (code 4 on any local failure). */
void auth_check(int fd, const char *service, const char *ip, const char *authzid,
		const char *authcid, const char *password, int mailbox_fd,
		const char *mbox_service, struct auth_result *r);
void auth_result_free(struct auth_result *r);

#endif
