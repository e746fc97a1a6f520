/* daemons.c: the master's side of the auth daemon (auth/): binds
 * run_dir/auth.sock as root (owner user_auth, group of user_login, mode
 * 0660: smtpd and the login stages connect, nobody else), starts
 * libexec/auth as user_auth with that listening socket on fd 3, and
 * restarts it after a growing delay when it dies.  The socket stays bound
 * in the master, so clients never see it vanish during a restart. */
#include "master.h"
#include "fsutil.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RESTART_MIN 1
#define RESTART_MAX 30

static int auth_fd = -1;
static struct buf sock_path = BUF_INIT;
static time_t auth_restart_at;
static int auth_delay = RESTART_MIN;

gid_t login_gid(const struct config *cfg)
{
	struct account a;
	if (!priv_is_root() || account_lookup(config_str(cfg, "user_login"), &a) < 0)
		return (gid_t)-1;
	return a.gid;
}

static int sock_owner(const struct config *cfg, const char *path)
{
	struct account a;
	gid_t g = login_gid(cfg);
	if (!priv_is_root())
		return chmod(path, 0660);
	if (account_lookup(config_str(cfg, "user_auth"), &a) < 0 || g == (gid_t)-1) {
		errno = ENOENT;
		return -1;
	}
	return chown(path, a.uid, g) < 0 ? -1 : chmod(path, 0660);
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* we hold the master lock: a socket file left here is stale */
	unlink(path);
	mode_t old = umask(0177);	/* no window with a wider mode */
	int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int authd_open(const struct config *cfg)
{
	const char *dir = config_str(cfg, "run_dir");
	buf_reset(&sock_path);
	buf_printf(&sock_path, "%s/auth.sock", dir);
	if (dir_ensure(dir, 0755, priv_is_root() ? 0 : (uid_t)-1, 0) < 0) {
		log_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	auth_fd = bind_unix(buf_cstr(&sock_path));
	if (auth_fd < 0 || sock_owner(cfg, sock_path.s) < 0) {
		log_error("cannot listen on %s: %s", sock_path.s, strerror(errno));
		return -1;
	}
	return 0;
}

void authd_close(void)
{
	if (auth_fd >= 0) {
		close(auth_fd);
		unlink(buf_cstr(&sock_path));
	}
	auth_fd = -1;
	buf_free(&sock_path);
}

void authd_start(const struct config *cfg)
{
	auth_restart_at = 0;
	if (auth_fd < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		child_setup();
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0 || dup2(auth_fd, 3) < 0)
			_exit(111);
		priv_drop(config_str(cfg, "user_auth"), (gid_t)-1);
		struct buf path = BUF_INIT;
		buf_printf(&path, "%s/auth", config_str(cfg, "libexec_dir"));
		char *args[] = {"auth", "-c", cfg->path, NULL};
		execv(buf_cstr(&path), args);
		log_error("cannot run %s: %s", path.s, strerror(errno));
		_exit(111);
	}
	if (pid < 0) {
		log_error("fork for auth: %s", strerror(errno));
		auth_restart_at = time(NULL) + auth_delay;
		return;
	}
	child_add(pid, CHILD_AUTH, NULL);
	log_info("started auth (pid %ld)", (long)pid);
}

void authd_lost(int stopping)
{
	if (stopping || auth_fd < 0)
		return;
	auth_restart_at = time(NULL) + auth_delay;
	log_info("restarting auth in %d s", auth_delay);
	auth_delay = auth_delay * 2 > RESTART_MAX ? RESTART_MAX : auth_delay * 2;
}

int authd_tick(const struct config *cfg)
{
	if (!auth_restart_at)
		return -1;
	time_t now = time(NULL);
	if (now >= auth_restart_at) {
		authd_start(cfg);
		return -1;
	}
	return (int)(auth_restart_at - now) * 1000;
}
