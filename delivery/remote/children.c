/* children.c: remote's per-request delivery processes.  The parent keeps
 * each child's request id and recipient indexes, so that a child that
 * crashes, is killed (kill -9 mid-transaction) or cannot send still gets
 * its request answered: every recipient temporary (4.3.0), retried later. */
#include "remote.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct child {
	pid_t pid;
	struct remote_request rq;	/* id and recipient indexes only */
};

static struct child *kids;
static size_t nkids, maxkids;

void children_init(size_t max)
{
	maxkids = max ? max : 1;
	kids = xcalloc(maxkids, sizeof *kids);
}

int children_full(void)
{
	return nkids >= maxkids;
}

void children_add(pid_t pid, const struct remote_request *rq)
{
	if (nkids >= maxkids)
		die(111, "too many delivery processes");
	struct child *c = &kids[nkids++];
	c->pid = pid;
	request_init(&c->rq);
	buf_copy(&c->rq.id, &rq->id);
	buf_copy(&c->rq.qid, &rq->qid);
	c->rq.rcpts = xcalloc(rq->nrcpts ? rq->nrcpts : 1, sizeof *c->rq.rcpts);
	c->rq.nrcpts = rq->nrcpts;
	for (size_t i = 0; i < rq->nrcpts; i++)
		c->rq.rcpts[i].index = rq->rcpts[i].index;
}

static void answer_for(int sock, struct child *c, int status)
{
	if (WIFSIGNALED(status))
		rcpt_set_all(&c->rq, '4', "4.3.0 delivery process killed by signal %d",
			     WTERMSIG(status));
	else
		rcpt_set_all(&c->rq, '4', "4.3.0 delivery process failed with status %d",
			     WEXITSTATUS(status));
	log_warn("%s: request %s: %s", buf_cstr(&c->rq.qid), buf_cstr(&c->rq.id),
		 c->rq.nrcpts ? buf_cstr(&c->rq.rcpts[0].text) : "");
	if (sock >= 0 && reply_send(sock, &c->rq) < 0)
		log_warn("cannot answer request %s: %s", c->rq.id.s, strerror(errno));
}

static void child_done(int sock, pid_t pid, int status)
{
	for (size_t i = 0; i < nkids; i++) {
		if (kids[i].pid != pid)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			answer_for(sock, &kids[i], status);
		request_free(&kids[i].rq);
		kids[i] = kids[--nkids];
		return;
	}
}

void children_reap(int sock, int block)
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
