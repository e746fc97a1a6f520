/* privsep: dropping root to a service account (see privsep.h). */
#include "privsep.h"
#include "log.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

int account_lookup(const char *name, struct account *a)
{
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return -1;
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	return 0;
}

int group_lookup(const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);
	if (!gr)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

int priv_is_root(void)
{
	return geteuid() == 0;
}

void priv_drop(const char *name, gid_t extra_gid)
{
	if (!priv_is_root())
		return;
	struct account a;
	if (account_lookup(name, &a) < 0)
		die(111, "unknown user %s: run posthorn init as root to create it", name);
	if (a.uid == 0)
		die(111, "refusing to run as %s: it is uid 0", name);
	gid_t groups[1] = {extra_gid};
	int n = extra_gid == (gid_t)-1 ? 0 : 1;
	if (setgroups((size_t)n, groups) < 0 || setgid(a.gid) < 0 || setuid(a.uid) < 0)
		die(111, "cannot become %s", name);
	if (setuid(0) == 0 || geteuid() != a.uid || getegid() != a.gid)
		die(111, "privileges not dropped to %s", name);
}
