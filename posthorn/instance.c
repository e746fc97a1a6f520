/* instance.c: helpers about an instance's place on the machine, used by
 * init, start and user: where the build's daemons are, copying them into
 * DIR/libexec for root mode, the service accounts, and atomic file writes. */
#include "posthorn.h"
#include "fsutil.h"
#include "io.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const daemons[] = {"master", "smtpd", "enqueue", "qmgr", "local", "auth", "pop3d", "pop3d-login", "mailboxd", "remote", "imapd-login", "imapd", NULL};

void complain(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	buf_puts(&b, "posthorn: ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_putc(&b, '\n');
	ssize_t w = write(2, b.s, b.len);
	(void)w;
	buf_free(&b);
}

int build_libexec(struct buf *out)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');	/* .../bin/posthorn -> .../bin */
	if (!slash)
		return -1;
	*slash = 0;
	slash = strrchr(exe, '/');		/* .../bin -> ... */
	if (!slash)
		return -1;
	*slash = 0;
	buf_reset(out);
	buf_puts(out, exe[0] ? exe : "/");
	buf_puts(out, "/libexec");
	buf_cstr(out);
	return 0;
}

int service_ids(const struct config *cfg, const char *key, uid_t *uid, gid_t *gid)
{
	if (!priv_is_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	struct account a;
	if (account_lookup(config_str(cfg, key), &a) < 0)
		return -1;
	*uid = a.uid;
	*gid = a.gid;
	return 0;
}

int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	buf_cstr(&tmp);
	int fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int r = fd < 0 ? -1 : 0;
	if (r == 0 && (fchmod(fd, mode) < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0))
		r = -1;
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	if (r == 0 && rename(tmp.s, path) < 0)
		r = -1;
	int e = errno;
	if (r < 0)
		unlink(tmp.s);
	else
		r = fsync_parent(path);
	buf_free(&tmp);
	errno = e;
	return r;
}

/* Copies src to dst via a temporary file and rename, with the source's
 * mtime, so a later "only newer" check compares like with like. */
static int copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, mode_t mode)
{
	struct buf data = BUF_INIT, tmp = BUF_INIT;
	struct stat st;
	int r = -1, fd = -1;
	if (stat(src, &st) < 0 || file_read(src, &data, 256 << 20) < 0)
		goto out;
	buf_printf(&tmp, "%s.tmp.%ld", dst, (long)getpid());
	buf_cstr(&tmp);
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (fd < 0)
		goto out;
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	/* chown before chmod: chown clears the setuid bit */
	if (write_all(fd, data.s, data.len) < 0 || fsync(fd) < 0 ||
	    fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || futimens(fd, ts) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	r = rename(tmp.s, dst);
out:
	if (fd >= 0)
		close(fd);
	if (r < 0 && tmp.len)
		unlink(tmp.s);
	buf_free(&data);
	buf_free(&tmp);
	return r;
}

static int needs_copy(const char *src, const char *dst, int only_newer)
{
	struct stat s, d;
	if (!only_newer || stat(dst, &d) < 0)
		return 1;
	if (stat(src, &s) < 0)
		return 0;
	return s.st_mtim.tv_sec > d.st_mtim.tv_sec ||
	       (s.st_mtim.tv_sec == d.st_mtim.tv_sec && s.st_mtim.tv_nsec > d.st_mtim.tv_nsec) ||
	       s.st_size != d.st_size;
}

/* The enqueue copy must stay setuid user_queue even if someone reset it. */
static int enqueue_mode_ok(const char *path, uid_t quid)
{
	struct stat st;
	return stat(path, &st) == 0 && st.st_uid == quid && (st.st_mode & 07777) == 04755;
}

int daemons_install(const struct config *cfg, const char *src, const char *dst, int only_newer)
{
	uid_t quid;
	gid_t qgid;
	if (service_ids(cfg, "user_queue", &quid, &qgid) < 0) {
		complain("unknown user %s: run posthorn init as root", config_str(cfg, "user_queue"));
		return -1;
	}
	struct buf s = BUF_INIT, d = BUF_INIT;
	int r = 0;
	for (int i = 0; daemons[i] && r == 0; i++) {
		int is_enqueue = !strcmp(daemons[i], "enqueue");
		buf_reset(&s);
		buf_printf(&s, "%s/%s", src, daemons[i]);
		buf_reset(&d);
		buf_printf(&d, "%s/%s", dst, daemons[i]);
		buf_cstr(&s);
		buf_cstr(&d);
		if (!needs_copy(s.s, d.s, only_newer) && (!is_enqueue || enqueue_mode_ok(d.s, quid)))
			continue;
		if (is_enqueue)
			r = copy_file(s.s, d.s, quid, qgid, 04755);
		else
			r = copy_file(s.s, d.s, 0, 0, 0755);
		if (r < 0)
			complain("cannot install %s as %s: %s", s.s, d.s, strerror(errno));
	}
	if (r == 0)
		r = fsync_dir(dst);
	buf_free(&s);
	buf_free(&d);
	return r;
}

/* In a child: become uid/gid and try to search dir. */
static int can_traverse_as(uid_t uid, gid_t gid, const char *dir)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(2);
		_exit(access(dir, X_OK) == 0 ? 0 : 1);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int dir_traversable(const struct config *cfg, const char *dir, struct buf *err)
{
	static const char *const keys[] = {"user_smtpd", "user_queue", "user_mail", "user_auth", "user_remote", NULL};
	if (!priv_is_root())
		return 0;
	for (int i = 0; keys[i]; i++) {
		uid_t uid;
		gid_t gid;
		const char *name = config_str(cfg, keys[i]);
		if (service_ids(cfg, keys[i], &uid, &gid) < 0) {
			buf_printf(err, "user %s does not exist", name);
			return -1;
		}
		if (!can_traverse_as(uid, gid, dir)) {
			buf_printf(err, "%s is not reachable by user %s: every directory on "
				   "the way needs search (x) permission for others "
				   "(e.g. chmod o+x), or choose a directory elsewhere", dir, name);
			return -1;
		}
	}
	return 0;
}
