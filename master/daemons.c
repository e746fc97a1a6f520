/* daemons.c: the master's side of the daemons that serve a UNIX socket the
 * master binds: auth (auth/) on run_dir/auth.sock (SOCK_STREAM, owner
 * user_auth, group of user_login, mode 0660: smtpd and the login stages
 * connect, nobody else) and mailboxd (pop3d/spawner/) on
 * run_dir/mailbox.sock (SOCK_SEQPACKET, user_auth, mode 0600: only the auth
 * daemon may hand a login over) and `enqueue -d` (queue/enqueue/daemon.c)
 * on run_dir/enqueue.sock (SOCK_STREAM, owner user_queue, group of
 * user_smtpd, mode 0660: smtpd hands it each message).  One table describes them; the same code
 * binds each socket as root, starts the program as its user with the
 * listening socket on fd 3, and restarts it after a growing delay when it
 * dies.  The sockets stay bound in the master, so clients never see them
 * vanish during a restart.  Used by main.c and children.c. */
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

struct socket_daemon {
	const char *name;	/* program in libexec_dir, and its name in the log */
	const char *what;	/* for "cannot start: no ..." */
	const char *sock;	/* file name in run_dir */
	int type;		/* SOCK_STREAM or SOCK_SEQPACKET */
	const char *owner_key;	/* config key of the socket's owner */
	const char *group_key;	/* the socket's group: that user's group; NULL: the owner's */
	mode_t mode;
	const char *user_key;	/* config key of the user it runs as */
	enum child_kind kind;
	const char *arg;	/* extra argument, or NULL */
	/* state */
	int fd;
	struct buf path;
	time_t restart_at;
	int delay;
};

static struct socket_daemon sockds[] = {
	{"auth", "auth socket", "auth.sock", SOCK_STREAM, "user_auth", "user_login", 0660,
	 "user_auth", CHILD_AUTH, NULL, -1, BUF_INIT, 0, RESTART_MIN},
	{"mailboxd", "mailbox socket", "mailbox.sock", SOCK_SEQPACKET, "user_auth", NULL, 0600,
	 "user_mail", CHILD_MAILBOXD, NULL, -1, BUF_INIT, 0, RESTART_MIN},
	/* the queue writer: smtpd (its group) connects per message */
	{"enqueue", "enqueue socket", "enqueue.sock", SOCK_STREAM, "user_queue", "user_smtpd",
	 0660, "user_queue", CHILD_ENQUEUE, "-d", -1, BUF_INIT, 0, RESTART_MIN},
};
#define NSOCKDS (sizeof sockds / sizeof sockds[0])
static int reloading[NSOCKDS];	/* stopped for a reload: restart at once */

gid_t login_gid(const struct config *cfg)
{
	struct account a;
	if (!priv_is_root() || account_cached(config_str(cfg, "user_login"), &a) < 0)
		return (gid_t)-1;
	return a.gid;
}

static int sock_owner(const struct config *cfg, const struct socket_daemon *d)
{
	struct account a;
	const char *path = d->path.s;
	if (!priv_is_root())
		return chmod(path, d->mode);
	if (account_lookup(config_str(cfg, d->owner_key), &a) < 0) {
		errno = ENOENT;
		return -1;
	}
	struct account grp = a;
	if (d->group_key && account_lookup(config_str(cfg, d->group_key), &grp) < 0) {
		errno = ENOENT;
		return -1;
	}
	gid_t g = grp.gid;
	return chown(path, a.uid, g) < 0 ? -1 : chmod(path, d->mode);
}

static int bind_unix(const char *path, int type)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
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

static int sockd_open(const struct config *cfg, struct socket_daemon *d)
{
	buf_reset(&d->path);
	buf_printf(&d->path, "%s/%s", config_str(cfg, "run_dir"), d->sock);
	d->fd = bind_unix(buf_cstr(&d->path), d->type);
	if (d->fd < 0 || sock_owner(cfg, d) < 0) {
		log_error("cannot listen on %s: %s", d->path.s, strerror(errno));
		return -1;
	}
	return 0;
}

int sockds_open(const struct config *cfg, const char **what)
{
	const char *dir = config_str(cfg, "run_dir");
	*what = sockds[0].what;
	if (dir_ensure(dir, 0755, priv_is_root() ? 0 : (uid_t)-1, 0) < 0) {
		log_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < NSOCKDS; i++) {
		*what = sockds[i].what;
		if (sockd_open(cfg, &sockds[i]) < 0)
			return -1;
	}
	return 0;
}

void sockds_close(void)
{
	for (size_t i = 0; i < NSOCKDS; i++) {
		struct socket_daemon *d = &sockds[i];
		if (d->fd >= 0) {
			close(d->fd);
			unlink(buf_cstr(&d->path));
		}
		d->fd = -1;
		buf_free(&d->path);
	}
}

static void sockd_start(const struct config *cfg, struct socket_daemon *d)
{
	d->restart_at = 0;
	if (d->fd < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		child_setup();
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0 || dup2(d->fd, 3) < 0)
			_exit(111);
		priv_drop(config_str(cfg, d->user_key), (gid_t)-1);
		struct buf path = BUF_INIT;
		buf_printf(&path, "%s/%s", config_str(cfg, "libexec_dir"), d->name);
		char *args[] = {(char *)d->name, "-c", cfg->path, (char *)d->arg, NULL};
		execv(buf_cstr(&path), args);
		log_error("cannot run %s: %s", path.s, strerror(errno));
		_exit(111);
	}
	if (pid < 0) {
		log_error("fork for %s: %s", d->name, strerror(errno));
		d->restart_at = time(NULL) + d->delay;
		return;
	}
	child_add(pid, d->kind, NULL);
	log_info("started %s (pid %ld)", d->name, (long)pid);
}

void sockds_start(const struct config *cfg)
{
	for (size_t i = 0; i < NSOCKDS; i++)
		sockd_start(cfg, &sockds[i]);
}

int sockds_lost(enum child_kind kind, int stopping)
{
	for (size_t i = 0; i < NSOCKDS; i++) {
		struct socket_daemon *d = &sockds[i];
		if (d->kind != kind)
			continue;
		if (stopping || d->fd < 0)
			return 0;
		if (reloading[i]) {
			reloading[i] = 0;
			d->restart_at = time(NULL);
			return 0;
		}
		d->restart_at = time(NULL) + d->delay;
		log_info("restarting %s in %d s", d->name, d->delay);
		d->delay = d->delay * 2 > RESTART_MAX ? RESTART_MAX : d->delay * 2;
		return 0;
	}
	return -1;
}

static int sockd_tick(const struct config *cfg, struct socket_daemon *d)
{
	if (!d->restart_at)
		return -1;
	time_t now = time(NULL);
	if (now >= d->restart_at) {
		sockd_start(cfg, d);
		return -1;
	}
	return (int)(d->restart_at - now) * 1000;
}

int sockds_tick(const struct config *cfg)
{
	int timeout = -1;
	for (size_t i = 0; i < NSOCKDS; i++) {
		int t = sockd_tick(cfg, &sockds[i]);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	return timeout;
}

void sockds_reload(void)
{
	for (size_t i = 0; i < NSOCKDS; i++) {
		struct socket_daemon *d = &sockds[i];
		if (!children_count(d->kind))
			continue;	/* waiting for its restart: gets the new config */
		reloading[i] = 1;
		d->delay = RESTART_MIN;
		children_signal_kind(d->kind, SIGTERM);
	}
}
