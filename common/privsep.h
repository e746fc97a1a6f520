/* privsep: the one place where a process changes its user.  A program
 * started as root calls priv_drop() with the configured account before it
 * touches any untrusted input; started as an ordinary user it keeps its own
 * identity (the single-user mode used by tests and `make run`).  Used by
 * master (for every child it starts) and by posthorn init. */
#ifndef POSTHORN_PRIVSEP_H
#define POSTHORN_PRIVSEP_H

#include <sys/types.h>

struct account {
	uid_t uid;
	gid_t gid;
};

/* Looks up a user name; 0 ok, -1 unknown. */
int account_lookup(const char *name, struct account *a);
/* Looks up a group name; 0 ok, -1 unknown. */
int group_lookup(const char *name, gid_t *gid);
/* As root: become name (supplementary groups cleared, then extra_gid added
 * if not (gid_t)-1), verified; as non-root: no change.  Exits 111 on
 * failure: a process must never go on with more rights than it should. */
void priv_drop(const char *name, gid_t extra_gid);
int priv_is_root(void);

#endif
