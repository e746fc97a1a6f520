/* agentpool.c: the worker pool of a delivery agent (libexec/local; see
 * agent.h).  Instead of a fork per request, up to max long-running workers
 * each serve one request at a time on their own SOCK_SEQPACKET socketpair.
 * The parent reads qmgr's packets and hands each (with its queue file fd)
 * to an idle worker, starting one when none is idle.  The worker answers
 * qmgr itself (one packet on the shared socket: packets never mix), then
 * tells the parent "done" on its socketpair, so the parent is not on the
 * answer's path.  Crash isolation stays: a worker that dies or runs over
 * its time while busy is reaped, its request answered 4.3.0 by the parent,
 * and the next request gets a fresh worker.  (A worker that dies between
 * its answer and "done" makes a second answer, which qmgr drops as one for
 * no request in flight.) */
#include "agent.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct worker {
	pid_t pid;	/* 0: free slot */
	int fd;		/* parent's end; -1 once the worker closed it */
	int busy;
	struct buf id;	/* the request it serves */
};

struct pool {
	const struct config *cfg;
	int sock;	/* to qmgr */
	size_t max, packet_max;
	unsigned timeout;
	agent_worker_fn *work;
	agent_pool_answer_fn *answer;
	struct worker *w;
	char *packet;
};

/* In the worker: only its own end of its own socketpair and the socket to
 * qmgr stay open. */
static void __attribute__((noreturn)) worker_main(struct pool *p, size_t self, int wfd)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_IGN);	/* the parent ends us by closing the socket */
	signal(SIGINT, SIG_IGN);
	agent_signals_close();
	for (size_t i = 0; i < p->max; i++)
		if (i != self && p->w[i].pid && p->w[i].fd >= 0)
			close(p->w[i].fd);
	for (;;) {
		struct pollfd pf = {wfd, POLLIN, 0};
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			_exit(111);
		alarm(p->timeout);	/* a stuck delivery: SIGALRM ends this worker */
		if (p->work(p->cfg, wfd, p->sock) < 0)
			_exit(0);
		alarm(0);
		if (send(wfd, "D", 1, MSG_NOSIGNAL) != 1)
			_exit(0);	/* the parent is gone */
	}
}

static int worker_start(struct pool *p, size_t i)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		worker_main(p, i, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	p->w[i].pid = pid;
	p->w[i].fd = sv[0];
	p->w[i].busy = 0;
	return 0;
}

/* An idle worker, started if need be: its slot, or -1. */
static long worker_idle(struct pool *p)
{
	long free_slot = -1;
	for (size_t i = 0; i < p->max; i++) {
		if (p->w[i].pid && p->w[i].fd >= 0 && !p->w[i].busy)
			return (long)i;
		if (!p->w[i].pid && free_slot < 0)
			free_slot = (long)i;
	}
	if (free_slot >= 0 && worker_start(p, (size_t)free_slot) < 0) {
		log_warn("cannot start a delivery process: %s", strerror(errno));
		return -1;
	}
	return free_slot;
}

static int pool_has_room(const struct pool *p)
{
	for (size_t i = 0; i < p->max; i++)
		if (!p->w[i].pid || (p->w[i].fd >= 0 && !p->w[i].busy))
			return 1;
	return 0;
}

/* The request id (the first record, N) of a packet, for answering it. */
static void packet_id(const char *pkt, size_t n, struct buf *id)
{
	size_t off = 0, dlen;
	char type;
	const char *d;
	buf_reset(id);
	if (rec_parse(pkt, n, &off, &type, &d, &dlen) == 1 && type == 'N' &&
	    agent_id_ok(d, dlen, 64))
		buf_set(id, d, dlen);
	buf_cstr(id);
}

static int send_to_worker(int wfd, const char *pkt, size_t n, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)pkt, n};
	struct msghdr msg = {0};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ssize_t r;
	do
		r = sendmsg(wfd, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)n ? 0 : -1;
}

/* One packet from qmgr to a worker: 0 go on, -1 qmgr is gone. */
static int dispatch(struct pool *p)
{
	size_t n;
	int fd = -1, trunc = 0, fdbad = 0;
	if (!agent_recv(p->sock, p->packet, p->packet_max, &fd, &n, &trunc, &fdbad))
		return -1;
	if (n > p->packet_max + 1)
		n = p->packet_max + 1;	/* the worker sees it as too long */
	struct buf id = BUF_INIT;
	packet_id(p->packet, n, &id);
	long i = worker_idle(p);
	if (i < 0 || send_to_worker(p->w[i].fd, p->packet, n, fd) < 0) {
		p->answer(p->sock, &id, "4.3.0 cannot start a delivery process");
	} else {
		p->w[i].busy = 1;
		buf_copy(&p->w[i].id, &id);
	}
	if (fd >= 0)
		close(fd);
	buf_free(&id);
	return 0;
}

/* Worker i's "done" (it has answered qmgr): idle again.  flags:
 * MSG_DONTWAIT when looking at a dead worker.  1 done, 0 none. */
static int take_done(struct pool *p, size_t i, int flags)
{
	char done[16];
	struct worker *w = &p->w[i];
	if (w->fd < 0)
		return 0;
	ssize_t r;
	do
		r = recv(w->fd, done, sizeof done, flags);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			close(w->fd);	/* the worker is gone: reaping answers for it */
			w->fd = -1;
		}
		return 0;
	}
	w->busy = 0;
	return 1;
}

static void reap(struct pool *p, int block)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) != 0) {
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return;
		for (size_t i = 0; i < p->max; i++) {
			struct worker *w = &p->w[i];
			if (w->pid != pid)
				continue;
			if (w->busy && !take_done(p, i, MSG_DONTWAIT)) {
				struct buf text = BUF_INIT;
				agent_child_failure(&text, status);
				p->answer(p->sock, &w->id, buf_cstr(&text));
				buf_free(&text);
			}
			if (w->fd >= 0)
				close(w->fd);
			w->pid = 0;
			w->fd = -1;
			w->busy = 0;
		}
	}
}

static size_t nbusy(const struct pool *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->max; i++)
		n += p->w[i].pid && p->w[i].busy;
	return n;
}

/* One wait: 0 go on, -1 time to stop (signal, or qmgr gone). */
static int serve_once(struct pool *p, struct pollfd *pf, int draining)
{
	nfds_t n = 0;
	pf[n++] = (struct pollfd){agent_signal_fd(), POLLIN, 0};
	int take = !draining && pool_has_room(p);
	if (take)
		pf[n++] = (struct pollfd){p->sock, POLLIN, 0};
	size_t first = n;
	for (size_t i = 0; i < p->max; i++)
		if (p->w[i].pid && p->w[i].fd >= 0)
			pf[n++] = (struct pollfd){p->w[i].fd, POLLIN, 0};
	if (poll(pf, n, -1) < 0 && errno != EINTR)
		die(111, "poll: %s", strerror(errno));
	if (pf[0].revents)
		agent_signals_drain();
	for (size_t k = first; k < n; k++)
		for (size_t i = 0; pf[k].revents && i < p->max; i++)
			if (p->w[i].pid && p->w[i].fd == pf[k].fd)
				take_done(p, i, 0);
	reap(p, 0);
	if (agent_stopping())
		return -1;
	if (take && pf[1].revents && dispatch(p) < 0)
		return -1;
	return 0;
}

void agent_pool_serve(const struct config *cfg, int sock, size_t max, size_t packet_max,
		      unsigned timeout, agent_worker_fn *work, agent_pool_answer_fn *answer)
{
	struct pool p = {cfg, sock, max ? max : 1, packet_max, timeout, work, answer, NULL, NULL};
	p.w = xcalloc(p.max, sizeof *p.w);
	p.packet = xmalloc(size_add(packet_max, 1));
	struct pollfd *pf = xcalloc(size_add(p.max, 2), sizeof *pf);
	agent_signals_setup();
	while (serve_once(&p, pf, 0) == 0)
		;
	/* stopping: the deliveries in flight finish and are answered */
	while (nbusy(&p))
		serve_once(&p, pf, 1);
	for (size_t i = 0; i < p.max; i++) {
		if (p.w[i].pid && p.w[i].fd >= 0)
			close(p.w[i].fd);	/* EOF: the worker exits */
		p.w[i].fd = -1;
	}
	reap(&p, 1);
	for (size_t i = 0; i < p.max; i++)
		buf_free(&p.w[i].id);
	free(p.w);
	free(p.packet);
	free(pf);
}
