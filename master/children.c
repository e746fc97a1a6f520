/* children.c: the master's table of children (smtpd sessions, qmgr,
 * local), reaping, and the qmgr/local pair: both are started together with
 * a fresh SOCK_SEQPACKET socketpair on fd 3, and restarted together, after
 * a growing delay, when either dies, so a crash loop cannot spin. */
#include "master.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESTART_MIN 1
#define RESTART_MAX 30
#define HEALTHY_SECS 60	/* a pair that ran this long restarts at once */

struct child {
	pid_t pid;
	enum child_kind kind;
	char ip[CHILD_IP_MAX];
};

static struct child *kids;
static size_t nkids, capkids;

/* the qmgr/local pair */
static time_t pair_started, restart_at;
static int restart_delay = RESTART_MIN, pair_up;
static int reloading;	/* the pair goes down for a reload: back at once */

void child_add(pid_t pid, enum child_kind kind, const char *ip)
{
	if (nkids == capkids) {
		capkids = capkids ? size_mul(capkids, 2) : 16;
		kids = xrealloc(kids, size_mul(capkids, sizeof *kids));
	}
	struct child *c = &kids[nkids++];
	memset(c, 0, sizeof *c);
	c->pid = pid;
	c->kind = kind;
	if (ip)
		memcpy(c->ip, ip, strnlen(ip, CHILD_IP_MAX - 1));
}

static int child_take(pid_t pid, struct child *out)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].pid == pid) {
			*out = kids[i];
			kids[i] = kids[--nkids];
			return 0;
		}
	return -1;
}

size_t children_count(int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < nkids; i++)
		n += kind < 0 || (int)kids[i].kind == kind;
	return n;
}

size_t children_count_ip(const char *ip)
{
	size_t n = 0;
	for (size_t i = 0; i < nkids; i++)
		n += kids[i].kind == CHILD_SMTPD && !strcmp(kids[i].ip, ip);
	return n;
}

void children_signal(int sig)
{
	for (size_t i = 0; i < nkids; i++)
		kill(kids[i].pid, sig);
}

static void pair_lost(int stopping);

void children_signal_kind(enum child_kind kind, int sig)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].kind == kind)
			kill(kids[i].pid, sig);
}

void daemons_reload(void)
{
	if (!pair_up)
		return;	/* down or waiting for its restart: it starts with the new config */
	reloading = 1;
	log_info("reload: qmgr finishes the deliveries in flight, then qmgr, local and remote restart");
	if (children_count(CHILD_QMGR))
		children_signal_kind(CHILD_QMGR, SIGUSR1);
	else
		pair_lost(0);
}

void child_setup(void)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE, 0};
	sigset_t none;
	for (int i = 0; sigs[i]; i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* own session: a Ctrl-C on the master's terminal reaches only the
	 * master, which then stops its children in order */
	setsid();
	int lfd = logger_child_fd();
	if (lfd >= 0 && dup2(lfd, 2) < 0)
		_exit(111);
}

/* sock goes on fd 3; sock4 (qmgr's socket to remote) on fd 4 unless -1. */
static pid_t spawn_daemon(const struct config *cfg, const char *prog, const char *userkey,
			  int sock, int sock4)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	child_setup();
	/* both sockets above 4 first, so no dup2 below lands on the other */
	int s3 = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	int s4 = sock4 >= 0 ? fcntl(sock4, F_DUPFD_CLOEXEC, 10) : -1;
	int nul = open("/dev/null", O_RDONLY);
	if (s3 < 0 || (sock4 >= 0 && s4 < 0) || nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0)
		_exit(111);
	if (dup2(s3, 3) < 0 || (s4 >= 0 && dup2(s4, 4) < 0))
		_exit(111);
	priv_drop(config_str(cfg, userkey), (gid_t)-1);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", config_str(cfg, "libexec_dir"), prog);
	char *args[] = {(char *)prog, "-c", cfg->path, NULL};
	execv(buf_cstr(&path), args);
	log_error("cannot run %s: %s", path.s, strerror(errno));
	_exit(111);
}

/* remote runs only when the instance has it: an instance made before
 * remote existed would otherwise restart its whole pair in a loop. */
static int have_remote(const struct config *cfg)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/remote", config_str(cfg, "libexec_dir"));
	int ok = access(buf_cstr(&path), X_OK) == 0;
	buf_free(&path);
	return ok;
}

void daemons_start(const struct config *cfg)
{
	int sv[2], rv[2] = {-1, -1};
	restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (have_remote(cfg) && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rv) < 0)) {
		log_error("socketpair: %s", strerror(errno));
		restart_at = time(NULL) + restart_delay;
		return;
	}
	pid_t q = spawn_daemon(cfg, "qmgr", "user_queue", sv[0], rv[0]);
	pid_t l = q < 0 ? -1 : spawn_daemon(cfg, "local", "user_mail", sv[1], -1);
	pid_t r = l < 0 || rv[1] < 0 ? 0 : spawn_daemon(cfg, "remote", "user_remote", rv[1], -1);
	close(sv[0]);
	close(sv[1]);
	if (rv[0] >= 0) {
		close(rv[0]);
		close(rv[1]);
	}
	if (q > 0)
		child_add(q, CHILD_QMGR, NULL);
	if (l > 0)
		child_add(l, CHILD_LOCAL, NULL);
	if (r > 0)
		child_add(r, CHILD_REMOTE, NULL);
	if (q < 0 || l < 0 || r < 0) {
		log_error("fork: %s", strerror(errno));
		if (q > 0)
			kill(q, SIGTERM);
		if (l > 0)
			kill(l, SIGTERM);
	} else {
		log_info("started qmgr (pid %ld), local (pid %ld) and remote (pid %ld)", (long)q,
			 (long)l, (long)r);
	}
	pair_started = time(NULL);
	pair_up = 1;
}

static void log_exit(const struct child *c, int status)
{
	static const char *const names[] = {"smtpd", "qmgr", "local", "auth", "mailboxd", "remote",
					    "enqueue"};
	if (WIFSIGNALED(status))
		log_warn("%s pid %ld killed by signal %d", names[c->kind], (long)c->pid, WTERMSIG(status));
	else if (c->kind != CHILD_SMTPD || WEXITSTATUS(status) != 0)
		log_info("%s pid %ld exited with status %d", names[c->kind], (long)c->pid,
			 WEXITSTATUS(status));
}

/* One of the pair died: stop the other; restart both once both are gone. */
static void pair_lost(int stopping)
{
	static int delay = RESTART_MIN;
	if (pair_up && reloading) {
		pair_up = 0;
		delay = 0;
	} else if (pair_up) {
		pair_up = 0;
		if (time(NULL) - pair_started >= HEALTHY_SECS)
			restart_delay = RESTART_MIN;
		delay = restart_delay;
		restart_delay = restart_delay * 2 > RESTART_MAX ? RESTART_MAX : restart_delay * 2;
	}
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].kind == CHILD_QMGR || kids[i].kind == CHILD_LOCAL ||
		    kids[i].kind == CHILD_REMOTE)
			kill(kids[i].pid, SIGTERM);
	if (!stopping && children_count(CHILD_QMGR) + children_count(CHILD_LOCAL) +
				 children_count(CHILD_REMOTE) == 0) {
		restart_at = time(NULL) + delay;
		reloading = 0;
		log_info("restarting qmgr and local in %d s", delay);
	}
}

void children_reap(const struct config *cfg, int stopping)
{
	(void)cfg;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child c;
		if (child_take(pid, &c) < 0)
			continue;
		log_exit(&c, status);
		if (c.kind != CHILD_SMTPD && sockds_lost(c.kind, stopping) < 0)
			pair_lost(stopping);
	}
}

int daemons_tick(const struct config *cfg)
{
	if (!restart_at)
		return -1;
	time_t now = time(NULL);
	if (now >= restart_at) {
		daemons_start(cfg);
		return -1;
	}
	return (int)(restart_at - now) * 1000;
}
