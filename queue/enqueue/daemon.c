/* daemon: `enqueue -d`, the queue writer that smtpd reaches through
 * run_dir/enqueue.sock instead of executing the setuid enqueue for every
 * message (doc/design.md "enqueue: the pipe protocol").  master binds the
 * socket (owner user_queue, group of user_smtpd, mode 0660), starts this as
 * user_queue with the listening socket on fd 3 and restarts it when it dies.
 * Connections are served by pre-forked workers, one message at a time each,
 * running exactly the code of a one-shot enqueue (enqueue_one) on the
 * connection: the configuration is already loaded and the queue directories
 * open, so a message costs neither an exec nor a fork.  A failure ends the
 * worker as it ends a one-shot enqueue (enq_fail exits), so one message
 * never sees another's state; the parent forks a replacement.  The parent
 * keeps SPARE idle workers ready (each tells it "busy"/"idle" over a pipe),
 * up to MAX_WORKERS in all: a connection lasts as long as smtpd's DATA
 * phase, so slow clients must not hold up the others.  A worker idle for
 * IDLE_SECS exits, and every worker ends when the parent is gone (the
 * "alive" pipe hangs up) after the message in hand.  The caller is known
 * from SO_PEERCRED, not from what it says: only root, the queue user and
 * user_smtpd may set trace attributes. */
#include "enqueue.h"
#include "agent.h"
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
#define MAX_WORKERS 256	/* more connections wait in the listen queue */
#define SPARE 2		/* idle workers kept ready */
#define IDLE_SECS 60
#define WORKER_USES 10000	/* then a fresh process: bounds any slow leak */

static int status_fds[2] = {-1, -1};	/* workers -> parent: struct status */
static int alive_fds[2] = {-1, -1};	/* parent holds [1]: EOF when it is gone */

struct status {
	pid_t pid;
	int busy;
};

struct worker {
	pid_t pid;	/* 0: free slot */
	int busy;
};
static struct worker workers[MAX_WORKERS];

static void signals_setup(void)
{
	/* SIGCHLD/SIGTERM/SIGINT through the delivery agents' self-pipe */
	agent_signals_setup();
	if (pipe2(status_fds, O_CLOEXEC) < 0 || pipe2(alive_fds, O_CLOEXEC) < 0)
		die(111, "pipe: %s", strerror(errno));
	fcntl(status_fds[0], F_SETFL, O_NONBLOCK);
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
	fcntl(LISTEN_FD, F_SETFL, O_NONBLOCK);	/* workers race for each connection */
}

static void tell(int busy)
{
	struct status st = {getpid(), busy};
	ssize_t w = write(status_fds[1], &st, sizeof st);	/* atomic: < PIPE_BUF */
	(void)w;
}

/* One connection: it becomes fds 0 and 1, the caller is whoever the
 * kernel says connected.  Any failure exits (enq_fail). */
static void serve(const struct config *cfg, const struct qdirs *q, int conn)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof cr)
		die(111, "SO_PEERCRED: %s", strerror(errno));
	if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0)
		_exit(111);
	close(conn);
	enqueue_one(cfg, cr.uid, caller_trusted(cfg, cr.uid), q);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);	/* the connection ends */
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0)
		_exit(111);
	close(nul);
}

static void __attribute__((noreturn))
worker_main(const struct config *cfg, const struct qdirs *q)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	agent_signals_close();
	close(status_fds[0]);
	close(alive_fds[1]);
	for (int uses = 0; uses < WORKER_USES;) {
		struct pollfd p[2] = {{LISTEN_FD, POLLIN, 0}, {alive_fds[0], POLLIN, 0}};
		int r = poll(p, 2, IDLE_SECS * 1000);
		if (r == 0 || (r < 0 && errno != EINTR) || p[1].revents)
			break;	/* idle for long, or the parent is gone */
		int conn = r > 0 ? accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC) : -1;
		if (conn < 0)
			continue;	/* another worker took it */
		tell(1);
		serve(cfg, q, conn);
		tell(0);
		uses++;
	}
	exit(0);
}

static struct worker *slot_of(pid_t pid)
{
	for (size_t i = 0; i < MAX_WORKERS; i++)
		if (workers[i].pid == pid)
			return &workers[i];
	return NULL;
}

static void read_status(void)
{
	struct status st;
	while (read(status_fds[0], &st, sizeof st) == (ssize_t)sizeof st) {
		struct worker *w = st.pid > 0 ? slot_of(st.pid) : NULL;
		if (w)
			w->busy = st.busy;
	}
}

static void reap(void)
{
	agent_signals_drain();
	int st;
	pid_t pid;
	read_status();	/* a worker's last word comes before its exit */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct worker *w = slot_of(pid);
		if (w)
			w->pid = 0;
		if (WIFSIGNALED(st))
			log_warn("enqueue worker %ld killed by signal %d", (long)pid, WTERMSIG(st));
	}
}

/* Forks workers until SPARE of them are idle (or MAX_WORKERS run). */
static void top_up(const struct config *cfg, const struct qdirs *q)
{
	size_t idle = 0;
	for (size_t i = 0; i < MAX_WORKERS; i++)
		idle += workers[i].pid && !workers[i].busy;
	for (size_t i = 0; idle < SPARE && i < MAX_WORKERS; i++) {
		if (workers[i].pid)
			continue;
		pid_t pid = fork();
		if (pid == 0)
			worker_main(cfg, q);
		if (pid < 0) {
			log_warn("fork: %s", strerror(errno));
			return;
		}
		workers[i].pid = pid;
		workers[i].busy = 0;
		idle++;
	}
}

int enqueue_daemon(const struct config *cfg, const struct qdirs *q)
{
	check_listener();
	signals_setup();
	/* fill the account cache before forking: every worker inherits it */
	caller_trusted(cfg, (uid_t)-1);
	log_info("serving the enqueue socket");
	while (!agent_stopping()) {
		top_up(cfg, q);
		struct pollfd p[2] = {{agent_signal_fd(), POLLIN, 0}, {status_fds[0], POLLIN, 0}};
		/* with every slot taken, retry now and then after a fork failure */
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			die(111, "poll: %s", strerror(errno));
		read_status();
		reap();
	}
	/* the workers finish the messages in hand, then see alive_fds hang up */
	return 0;
}
