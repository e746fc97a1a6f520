/* handoff: the extension point for the login stages (doc/design.md "Login
 * and mailbox stages"): after a successful check of a request that carried
 * X<service> and an fd (SCM_RIGHTS), the auth daemon passes that fd and
 * the verified address on to the mailbox spawner on run_dir/mailbox.sock.
 * The spawner (mailboxd) and the protocol between the two come with
 * pop3d; until then a hand-off is a temporary failure, so a login stage
 * answers "try again later" instead of opening anything. */
#include "auth.h"

int mailbox_handoff(const struct config *cfg, const struct auth_req *r,
		    const struct buf *user, struct buf *err)
{
	(void)cfg;
	(void)user;
	if (r->fd < 0) {
		buf_puts(err, "no session fd came with the request");
		return -1;
	}
	buf_puts(err, "no mailbox service in this build");
	return -1;
}
