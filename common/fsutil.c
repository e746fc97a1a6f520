/* fsutil: directory fsync and creation (see fsutil.h). */
#include "fsutil.h"
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return fsync_dir(".");
	if (slash == path)
		return fsync_dir("/");
	char *dir = xmemdup(path, (size_t)(slash - path));
	int r = fsync_dir(dir);
	int e = errno;
	free(dir);
	errno = e;
	return r;
}

int dir_ensure(const char *dir, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(dir, uid, gid) < 0)
		return -1;
	if ((st.st_mode & 07777) != mode && chmod(dir, mode) < 0)
		return -1;
	return 0;
}

int dir_ensure_parents(const char *dir)
{
	size_t n = strlen(dir);
	char *p = xmemdup(dir, n);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		char c = p[i];
		p[i] = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			errno = e;
			return -1;
		}
		p[i] = c;
	}
	free(p);
	return 0;
}
