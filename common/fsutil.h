/* fsutil: the few filesystem steps that durability depends on: fsync of
 * directories after a create, rename or unlink, and directory creation with
 * an exact owner and mode.  Used by enqueue, qmgr, local, makemap, init. */
#ifndef POSTHORN_FSUTIL_H
#define POSTHORN_FSUTIL_H

#include <sys/types.h>

int fsync_dir(const char *dir);		/* 0 ok, -1 errno */
int fsync_parent(const char *path);	/* fsync of path's directory */
/* Creates dir if missing; sets mode, and owner when uid != (uid_t)-1. */
int dir_ensure(const char *dir, mode_t mode, uid_t uid, gid_t gid);
/* Creates every missing directory on the way to dir (mode 0755). */
int dir_ensure_parents(const char *dir);

#endif
