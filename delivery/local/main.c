/*
 * NAME
 *	local - posthorn local delivery into Maildirs
 *
 * SYNOPSIS
 *	libexec/local [-c CONFIGFILE]
 *
 * DESCRIPTION
 *	Started by master as user_mail with file descriptor 3 a
 *	SOCK_SEQPACKET socket to qmgr.  Each packet from qmgr is one delivery
 *	request (records N, Q, S, R, O, P, L, T, X; see doc/design.md "qmgr <->
 *	local") with the queue file passed as SCM_RIGHTS.  local forks one
 *	child per request; the child looks the recipient up in the users table
 *	(a +extension falls back to the base user), refuses a mail loop (as
 *	many of our own Delivered-To: headers as delivered_to_limit), checks
 *	the Maildir++ quota and delivers crash-safely into the Maildir under
 *	mail_dir, adding Return-Path: and Delivered-To:.  It answers with a
 *	packet N (the request id), C (2 delivered, 4 temporary, 5 permanent)
 *	and W (enhanced status code and text).  A malformed request gets a
 *	4.3.0 answer; a child that dies without answering gets one from the
 *	parent, also when a delivery takes longer than 10 minutes (the child
 *	is killed).  At most local_concurrency children run at once; more
 *	requests wait in the socket.  When qmgr closes the socket, or on
 *	SIGTERM, local waits for its children and exits.
 *
 * EXIT STATUS
 *	0 when qmgr closed the socket or on SIGTERM; 111 on a configuration
 *	or system error; 2 on a usage error.
 *
 * FILES
 *	CONFIGFILE (default $POSTHORN_CONFIG, else /etc/posthorn/posthorn.conf),
 *	users.cdb beside it, mail_dir/MAILBOX/{tmp,new,cur}, and
 *	mail_dir/MAILBOX/maildirsize for mailboxes with a quota.
 */
#include "local.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOCAL_SOCKET_FD 3
/* A delivery that takes longer than this is stuck (a hung filesystem, a
 * FIFO where a file should be): the child is killed by SIGALRM and the
 * parent answers 4.3.0, well before qmgr gives up on the request. */
#define LOCAL_CHILD_TIMEOUT 600

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

static void signals_setup(void)
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

static void drain_sigpipe(void)
{
	char junk[64];
	while (read(sigpipe_fds[0], junk, sizeof junk) > 0)
		;
}

/* The child: deliver, answer, exit 0 only when the answer went out. */
static void __attribute__((noreturn))
run_child(const struct config *cfg, int sock, struct local_request *rq)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(sigpipe_fds[0]);
	close(sigpipe_fds[1]);
	alarm(LOCAL_CHILD_TIMEOUT);
	struct local_reply rp = {'4', BUF_INIT};
	local_deliver(cfg, rq, &rp);
	int r = reply_send(sock, &rq->id, rp.status, rp.text.s, rp.text.len);
	if (r < 0)
		log_warn("%s: cannot answer qmgr: %s", rq->qid.s, strerror(errno));
	buf_free(&rp.text);
	request_free(rq);
	_exit(r < 0 ? 111 : 0);
}

static void start_child(const struct config *cfg, int sock, struct local_request *rq)
{
	pid_t pid = fork();
	if (pid == 0)
		run_child(cfg, sock, rq);
	if (pid < 0) {
		const char *t = "4.3.0 cannot start a delivery process";
		log_warn("%s: fork: %s", rq->qid.s, strerror(errno));
		reply_send(sock, &rq->id, '4', t, strlen(t));
		return;
	}
	children_add(pid, &rq->id);
}

/* One packet from qmgr: 0 go on, -1 the socket is closed. */
static int handle_request(const struct config *cfg, int sock)
{
	struct local_request rq;
	struct buf err = BUF_INIT;
	request_init(&rq);
	int k = request_recv(sock, &rq, &err);
	if (k < 0) {
		struct buf text = BUF_INIT;
		buf_printf(&text, "4.3.0 malformed delivery request: %s", buf_cstr(&err));
		buf_cstr(&text);
		log_warn("request %.*s: %s", (int)rq.id.len, rq.id.len ? rq.id.s : "", text.s);
		if (reply_send(sock, &rq.id, '4', text.s, text.len) < 0)
			log_warn("cannot answer qmgr: %s", strerror(errno));
		buf_free(&text);
	} else if (k > 0) {
		start_child(cfg, sock, &rq);
	}
	request_free(&rq);
	buf_free(&err);
	return k == 0 ? -1 : 0;
}

/* Waits for a request or a signal; 0 go on, -1 the socket is closed. */
static int serve_once(const struct config *cfg, int sock)
{
	struct pollfd p[2] = {{sigpipe_fds[0], POLLIN, 0}, {sock, POLLIN, 0}};
	nfds_t n = children_full() ? 1 : 2;	/* full: let requests wait */
	if (poll(p, n, -1) < 0 && errno != EINTR)
		die(111, "poll: %s", strerror(errno));
	if (p[0].revents)
		drain_sigpipe();
	children_reap(sock, 0);
	if (n == 2 && !stopping && p[1].revents)
		return handle_request(cfg, sock);
	return 0;
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

static void usage(void)
{
	log_error("usage: local [-c CONFIGFILE]");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	int opt;
	log_init("local", 0);
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			cfgpath = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, cfgpath ? cfgpath : config_default_path(), &err) < 0)
		die(111, "%s", buf_cstr(&err));
	log_init("local", config_bool(&cfg, "log_syslog"));
	priv_drop(config_str(&cfg, "user_mail"), (gid_t)-1);	/* no-op unless root */
	check_socket(LOCAL_SOCKET_FD);
	long long conc = config_num(&cfg, "local_concurrency");
	children_init(conc < 1 ? 1 : conc > 1000 ? 1000 : (size_t)conc);
	signals_setup();
	while (!stopping && serve_once(&cfg, LOCAL_SOCKET_FD) == 0)
		;
	children_reap(LOCAL_SOCKET_FD, 1);
	config_free(&cfg);
	buf_free(&err);
	return 0;
}
