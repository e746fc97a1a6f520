/* daemon: `enqueue -d`, the queue writer that smtpd reaches through
 * run_dir/enqueue.sock instead of executing the setuid enqueue for every
 * message (doc/design.md "enqueue: the pipe protocol").  master binds the
 * socket (owner user_queue, group of user_smtpd, mode 0660), starts this as
 * user_queue with the listening socket on fd 3 and restarts it when it dies.
 * Each connection is served by a forked child that runs exactly the code of
 * a one-shot enqueue (enqueue_one) on the connection: the configuration is
 * already loaded and the queue directories open, so a message costs a fork
 * rather than an exec, and a crash or a failure still ends only that one
 * message.  The caller is known from SO_PEERCRED, not from what it says:
 * only root, the queue user and user_smtpd may set trace attributes. */
#include "enqueue.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LISTEN_FD 3
/* More connections than this wait in the listen queue until a child ends. */
#define MAX_CHILDREN 256

static int sigfds[2] = {-1, -1};
static volatile sig_atomic_t stopping;
static size_t nchildren;

static void on_signal(int sig)
{
	int e = errno;
	if (sig == SIGTERM || sig == SIGINT)
		stopping = 1;
	ssize_t w = write(sigfds[1], "x", 1);	/* wakes poll() */
	(void)w;
	errno = e;
}

static void signals_setup(void)
{
	if (pipe2(sigfds, O_NONBLOCK | O_CLOEXEC) < 0)
		die(111, "pipe: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* fd 3 must be a listening stream socket from master. */
static void check_listener(void)
{
	int type = 0, acc = 0;
	socklen_t len = sizeof type, alen = sizeof acc;
	if (getsockopt(LISTEN_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    getsockopt(LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 || !acc)
		die(111, "fd %d is not a listening stream socket", LISTEN_FD);
	fcntl(LISTEN_FD, F_SETFD, FD_CLOEXEC);
	fcntl(LISTEN_FD, F_SETFL, O_NONBLOCK);
}

static void reap(void)
{
	char junk[64];
	while (read(sigfds[0], junk, sizeof junk) > 0)
		;
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (nchildren)
			nchildren--;
		if (WIFSIGNALED(st))
			log_warn("enqueue child %ld killed by signal %d", (long)pid, WTERMSIG(st));
	}
}

/* The child: the connection becomes fds 0 and 1, the caller is whoever
 * the kernel says connected. */
static void __attribute__((noreturn))
serve(const struct config *cfg, const struct qdirs *q, int conn)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(sigfds[0]);
	close(sigfds[1]);
	close(LISTEN_FD);
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof cr)
		die(111, "SO_PEERCRED: %s", strerror(errno));
	if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0)
		_exit(111);
	close(conn);
	enqueue_one(cfg, cr.uid, caller_trusted(cfg, cr.uid), q);
	exit(0);
}

static void accept_one(const struct config *cfg, const struct qdirs *q)
{
	int conn = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		serve(cfg, q, conn);
	close(conn);	/* on a failed fork the client sees EOF: a temporary failure */
	if (pid < 0)
		log_warn("fork: %s", strerror(errno));
	else
		nchildren++;
}

int enqueue_daemon(const struct config *cfg, const struct qdirs *q)
{
	check_listener();
	signals_setup();
	/* fill the account cache before forking: every child inherits it */
	caller_trusted(cfg, (uid_t)-1);
	log_info("serving the enqueue socket");
	while (!stopping) {
		struct pollfd p[2] = {{sigfds[0], POLLIN, 0}, {LISTEN_FD, POLLIN, 0}};
		nfds_t n = nchildren < MAX_CHILDREN ? 2 : 1;
		if (poll(p, n, -1) < 0 && errno != EINTR)
			die(111, "poll: %s", strerror(errno));
		reap();
		if (!stopping && n == 2 && (p[1].revents & POLLIN))
			accept_one(cfg, q);
	}
	/* children finish their messages on their own */
	return 0;
}
