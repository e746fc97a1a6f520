/* mailbox.c: the master's side of the mailbox spawner (pop3d/spawner/):
 * binds run_dir/mailbox.sock as root (SOCK_SEQPACKET, owner user_auth,
 * mode 0600: only the auth daemon may hand a login over), starts
 * libexec/mailboxd as user_mail with that listening socket on fd 3, and
 * restarts it after a growing delay when it dies.  Like auth.sock, the
 * socket stays bound in the master across restarts. */
#include "master.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RESTART_MIN 1
#define RESTART_MAX 30

static int mbox_fd = -1;
static struct buf mbox_path = BUF_INIT;
static time_t mbox_restart_at;
static int mbox_delay = RESTART_MIN;

static int bind_seqpacket(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(path);	/* we hold the master lock: a socket file here is stale */
	mode_t old = umask(0177);
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

static int owner_auth(const struct config *cfg, const char *path)
{
	struct account a;
	if (!priv_is_root())
		return chmod(path, 0600);
	if (account_lookup(config_str(cfg, "user_auth"), &a) < 0) {
		errno = ENOENT;
		return -1;
	}
	return chown(path, a.uid, a.gid) < 0 ? -1 : chmod(path, 0600);
}

int mailboxd_open(const struct config *cfg)
{
	buf_reset(&mbox_path);
	buf_printf(&mbox_path, "%s/mailbox.sock", config_str(cfg, "run_dir"));
	mbox_fd = bind_seqpacket(buf_cstr(&mbox_path));
	if (mbox_fd < 0 || owner_auth(cfg, mbox_path.s) < 0) {
		log_error("cannot listen on %s: %s", mbox_path.s, strerror(errno));
		return -1;
	}
	return 0;
}

void mailboxd_close(void)
{
	if (mbox_fd >= 0) {
		close(mbox_fd);
		unlink(buf_cstr(&mbox_path));
	}
	mbox_fd = -1;
	buf_free(&mbox_path);
}

void mailboxd_start(const struct config *cfg)
{
	mbox_restart_at = 0;
	if (mbox_fd < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		child_setup();
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0 || dup2(mbox_fd, 3) < 0)
			_exit(111);
		priv_drop(config_str(cfg, "user_mail"), (gid_t)-1);
		struct buf path = BUF_INIT;
		buf_printf(&path, "%s/mailboxd", config_str(cfg, "libexec_dir"));
		char *args[] = {"mailboxd", "-c", cfg->path, NULL};
		execv(buf_cstr(&path), args);
		log_error("cannot run %s: %s", path.s, strerror(errno));
		_exit(111);
	}
	if (pid < 0) {
		log_error("fork for mailboxd: %s", strerror(errno));
		mbox_restart_at = time(NULL) + mbox_delay;
		return;
	}
	child_add(pid, CHILD_MAILBOXD, NULL);
	log_info("started mailboxd (pid %ld)", (long)pid);
}

void mailboxd_lost(int stopping)
{
	if (stopping || mbox_fd < 0)
		return;
	mbox_restart_at = time(NULL) + mbox_delay;
	log_info("restarting mailboxd in %d s", mbox_delay);
	mbox_delay = mbox_delay * 2 > RESTART_MAX ? RESTART_MAX : mbox_delay * 2;
}

int mailboxd_tick(const struct config *cfg)
{
	if (!mbox_restart_at)
		return -1;
	time_t now = time(NULL);
	if (now >= mbox_restart_at) {
		mailboxd_start(cfg);
		return -1;
	}
	return (int)(mbox_restart_at - now) * 1000;
}
