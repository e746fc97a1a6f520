/* agent.c: the skeleton of the delivery agents libexec/local and
 * libexec/remote (see agent.h): startup, the poll loop woken by signals
 * through a pipe, the SEQPACKET request socket with SCM_RIGHTS, the record
 * checks, and the per-request child table.  Anything qmgr sends is input
 * to validate, not trusted. */
#include "agent.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* More descriptors than this in one packet are closed unused. */
#define AGENT_MAX_FDS 8

static int sigpipe_fds[2] = {-1, -1};
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	int e = errno;
	if (sig == SIGTERM || sig == SIGINT)
		stopping = 1;
	ssize_t w = write(sigpipe_fds[1], "x", 1);	/* wakes poll() */
	(void)w;
	errno = e;
}

void agent_signals_setup(void)
{
	if (pipe2(sigpipe_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		die(111, "pipe: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int agent_signal_fd(void)
{
	return sigpipe_fds[0];
}

int agent_stopping(void)
{
	return stopping;
}

void agent_signals_close(void)
{
	close(sigpipe_fds[0]);
	close(sigpipe_fds[1]);
	sigpipe_fds[0] = sigpipe_fds[1] = -1;
}

void agent_signals_drain(void)
{
	char junk[64];
	while (read(sigpipe_fds[0], junk, sizeof junk) > 0)
		;
}

/* fd 3 must be the SOCK_SEQPACKET socket from master, not an accident of
 * whoever ran us by hand. */
static void check_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		die(111, "fd %d is not a SOCK_SEQPACKET socket to qmgr", fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void usage(const char *name)
{
	log_error("usage: %s [-c CONFIGFILE]", name);
	exit(2);
}

void agent_start(const char *name, int argc, char **argv, const char *user_key,
		 struct config *cfg)
{
	const char *cfgpath = NULL;
	int opt;
	log_init(name, 0);
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			cfgpath = optarg;
		else
			usage(name);
	}
	if (optind != argc)
		usage(name);
	struct buf err = BUF_INIT;
	if (config_load(cfg, cfgpath ? cfgpath : config_default_path(), &err) < 0)
		die(111, "%s", buf_cstr(&err));
	buf_free(&err);
	log_init(name, config_bool(cfg, "log_syslog"));
	priv_drop(config_str(cfg, user_key), (gid_t)-1);	/* no-op unless root */
	check_socket(AGENT_SOCKET_FD);
}

size_t agent_concurrency(const struct config *cfg, const char *key)
{
	long long conc = config_num(cfg, key);
	return conc < 1 ? 1 : conc > 1000 ? 1000 : (size_t)conc;
}

/* Waits for a request or a signal; 0 go on, -1 the socket is closed. */
static int serve_once(const struct config *cfg, int sock, agent_handle_fn *handle)
{
	struct pollfd p[2] = {{sigpipe_fds[0], POLLIN, 0}, {sock, POLLIN, 0}};
	nfds_t n = agent_children_full() ? 1 : 2;	/* full: let requests wait */
	if (poll(p, n, -1) < 0 && errno != EINTR)
		die(111, "poll: %s", strerror(errno));
	if (p[0].revents)
		agent_signals_drain();
	agent_children_reap(sock, 0);
	if (n == 2 && !stopping && p[1].revents)
		return handle(cfg, sock);
	return 0;
}

void agent_serve(const struct config *cfg, int sock, agent_handle_fn *handle)
{
	agent_signals_setup();
	while (!stopping && serve_once(cfg, sock, handle) == 0)
		;
	agent_children_reap(sock, 1);
}

pid_t agent_fork(unsigned timeout)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	agent_signals_close();
	alarm(timeout);
	return 0;
}

/* Keeps the first descriptor passed, closes the others.  A truncated
 * control message may have lost descriptors: all are closed then. */
static int take_fds(struct msghdr *msg, int *fd)
{
	int bad = (msg->msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (*fd < 0 && !bad)
				*fd = f;
			else
				close(f);
		}
	}
	if (bad && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return bad ? -1 : 0;
}

int agent_recv(int sock, char *packet, size_t cap, int *fd, size_t *len, int *trunc,
	       int *fdbad)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * AGENT_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {packet, size_add(cap, 1)};
	struct msghdr msg = {0};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;	/* closed, or broken: either way qmgr is gone */
	*fdbad = take_fds(&msg, fd) < 0;
	*trunc = (msg.msg_flags & MSG_TRUNC) != 0;
	*len = (size_t)n;
	return 1;
}

int agent_send(int sock, const struct buf *p)
{
	ssize_t n;
	do
		n = send(sock, p->s, p->len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)p->len)
		return 0;
	if (n >= 0)
		errno = EMSGSIZE;
	return -1;
}

int agent_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int agent_id_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

int agent_set_if(struct buf *b, const char *d, size_t n, int ok)
{
	if (!ok)
		return -1;
	buf_set(b, d, n);
	buf_cstr(b);
	return 0;
}

int agent_set_num(unsigned long long *v, const char *d, size_t n, unsigned long long max)
{
	return mem_to_u64(d, n, v) == 0 && *v <= max ? 0 : -1;
}

enum agent_fd_check agent_check_fd(int fd, unsigned long long off, unsigned long long len)
{
	struct stat st;
	if (fd < 0)
		return AGENT_FD_NONE;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return AGENT_FD_NOTREG;
	if (off > (unsigned long long)st.st_size || len > (unsigned long long)st.st_size - off)
		return AGENT_FD_RANGE;
	return AGENT_FD_OK;
}

/* The child table.  The parent remembers what each pid serves so that a
 * child that crashes, is killed or cannot send still gets its request
 * answered: qmgr always hears back. */
struct child {
	pid_t pid;
	void *data;
};

static struct child *kids;
static size_t nkids, maxkids;
static agent_answer_fn *kid_answer;
static agent_release_fn *kid_release;

void agent_children_init(size_t max, agent_answer_fn *answer, agent_release_fn *release)
{
	maxkids = max ? max : 1;
	kids = xcalloc(maxkids, sizeof *kids);
	kid_answer = answer;
	kid_release = release;
}

int agent_children_full(void)
{
	return nkids >= maxkids;
}

void agent_children_add(pid_t pid, void *data)
{
	if (nkids >= maxkids)	/* callers check agent_children_full() first */
		die(111, "too many delivery processes");
	kids[nkids].pid = pid;
	kids[nkids].data = data;
	nkids++;
}

static void child_done(int sock, pid_t pid, int status)
{
	for (size_t i = 0; i < nkids; i++) {
		if (kids[i].pid != pid)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			kid_answer(sock, kids[i].data, status);
		kid_release(kids[i].data);
		kids[i] = kids[--nkids];
		return;
	}
}

void agent_children_reap(int sock, int block)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, block && nkids ? 0 : WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		child_done(sock, pid, status);
	}
}

void agent_child_failure(struct buf *text, int status)
{
	if (WIFSIGNALED(status))
		buf_printf(text, "4.3.0 delivery process killed by signal %d", WTERMSIG(status));
	else
		buf_printf(text, "4.3.0 delivery process failed with status %d",
			   WEXITSTATUS(status));
}
